import type { S3Client } from '@aws-sdk/client-s3'
import { ConfigurationError, type Logger } from '../../kit/src/index.js'
import { readRelease, type FileHash } from './hashing.js'
import { s3Uri } from './names.js'
import {
  existingLocation,
  hashObject,
  headObject,
  listNewestObjects,
  type ArtifactLocation,
} from './objects.js'
import { putArtifact, type PutArtifactOptions } from './upload.js'

/** What s3-upload does when the key already exists. */
export type IfExists = 'skip-same' | 'fail' | 'overwrite'

/** Options of {@link publishArtifact}. */
export interface PublishOptions extends Omit<PutArtifactOptions, 'sha256' | 'size'> {
  ifExists: IfExists
  /**
   * The file's hash when the caller already started it ({@link readRelease}), e.g. while
   * the role was being assumed; computed here otherwise.
   */
  hashed?: Promise<FileHash> | undefined
  /** See {@link readRelease}; default {@link DEFAULT_BUFFER_LIMIT}. */
  bufferLimit?: number | undefined
  /** The sha256 the build reported (hand-off check): any other file fails before upload. */
  expectedSha256?: string | undefined
}

/**
 * Stores a file under an immutable key. The file's hash and one HEAD decide:
 * - missing key: upload;
 * - same sha256 and `skip-same`: nothing is sent (`uploaded: false`);
 * - different sha256 and `skip-same`, or any object and `fail`: a ConfigurationError that
 *   says the version exists and how to make a new one;
 * - `overwrite`: upload regardless.
 */
export async function publishArtifact(
  s3: S3Client,
  options: PublishOptions,
): Promise<ArtifactLocation> {
  const { bucket, key, logger } = options
  // The HEAD goes out while the file is still being hashed; both are needed to decide, and a
  // problem with the file is reported first. The bytes uploaded later are checked against
  // this hash.
  const [hashed, head] = await Promise.allSettled([
    options.hashed ?? readRelease(options.file, options.bufferLimit),
    headObject(s3, bucket, key),
  ])
  if (hashed.status === 'rejected') throw hashed.reason
  if (head.status === 'rejected') throw head.reason
  const { sha256, size, bytes } = hashed.value
  const existing = head.value
  const uri = s3Uri(bucket, key)
  logger?.info(`${options.file}: ${size} bytes, sha256 ${sha256}`)
  if (options.expectedSha256 !== undefined && sha256 !== options.expectedSha256) {
    throw new ConfigurationError(
      `input 'expected-sha256': the release has sha256 ${sha256}, but the build reported ` +
        `${options.expectedSha256}: it was changed on the way from the build job, so nothing ` +
        'was uploaded',
    )
  }
  if (existing !== undefined && options.ifExists !== 'overwrite') {
    if (options.ifExists === 'skip-same' && existing.sha256 === sha256) {
      logger?.info(`${uri} already holds these bytes (sha256 ${sha256}): nothing to upload`)
      return existingLocation(bucket, key, sha256, existing)
    }
    const why =
      options.ifExists === 'fail'
        ? "and input 'if-exists' is 'fail'"
        : existing.sha256 === undefined
          ? 'with no sha256 metadata, so it cannot be shown to hold the same bytes'
          : `with different content (sha256 ${existing.sha256}, this file has ${sha256})`
    throw new ConfigurationError(
      `${uri} already exists ${why}. Versions are immutable: build a new version ` +
        "(a new commit, or a new 'version') so the key changes, or set if-exists: overwrite " +
        'if replacing a published version is really what you want',
    )
  }
  logger?.info(`uploading to ${uri}`)
  const { etag, versionId } = await putArtifact(s3, {
    ...options,
    sha256,
    size,
    bytes,
    createOnly: options.ifExists !== 'overwrite',
  })
  return { bucket, key, uri, sha256, size, etag, versionId, uploaded: true }
}

/**
 * The rollback path: checks that `key` exists and returns where it is and its sha256 (from
 * our metadata, or by reading the object when it has none). A missing key is a
 * ConfigurationError listing the newest (at most 10) keys under `prefix`.
 */
export async function findArtifact(
  s3: S3Client,
  options: { bucket: string; key: string; prefix: string; logger?: Logger | undefined },
): Promise<ArtifactLocation> {
  const { bucket, key, prefix, logger } = options
  const uri = s3Uri(bucket, key)
  const existing = await headObject(s3, bucket, key)
  if (existing === undefined) {
    const { objects, complete } = await listNewestObjects(s3, bucket, prefix)
    const listing =
      objects.length === 0
        ? `nothing exists under s3://${bucket}/${prefix}`
        : `the newest under s3://${bucket}/${prefix}${complete ? '' : ' (of the first 10,000 listed)'}:\n` +
          objects
            .map(o => `  ${o.key}  (${o.lastModified.toISOString()}, ${o.size} bytes)`)
            .join('\n')
    throw new ConfigurationError(
      `${uri} does not exist, so this version cannot be deployed; ${listing}`,
    )
  }
  let sha256 = existing.sha256
  if (sha256 === undefined || !/^[0-9a-f]{64}$/.test(sha256)) {
    logger?.warning(`${uri} has no sha256 metadata: reading it to compute one`)
    sha256 = await hashObject(s3, bucket, key)
  }
  logger?.info(`${uri} exists: ${existing.size} bytes, sha256 ${sha256}`)
  return existingLocation(bucket, key, sha256, existing)
}
