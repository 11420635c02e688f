import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { open, stat } from 'node:fs/promises'
import { freemem } from 'node:os'

import { Transform, type Readable, type TransformCallback } from 'node:stream'
import { pipeline } from 'node:stream/promises'
// The SDK's modules are loaded with import() where a call needs them, so a step that fails
// on its inputs never loads them (bench/startup); statically, only their types.
import type { S3Client, ServerSideEncryption, StorageClass } from '@aws-sdk/client-s3'
import {
  ConfigurationError,
  describeValue,
  errorMessage,
  type Logger,
} from '../../kit/src/index.js'
import { awsErrorCode, awsHttpStatus, translateS3Error } from './errors.js'
import { s3Uri } from './s3-names.js'

const MiB = 1024 * 1024
/** S3's limits on multipart uploads. */
export const MIN_PART_SIZE = 5 * MiB
export const MAX_PART_SIZE = 5 * 1024 * MiB
export const MAX_PARTS = 10_000
/** Presigned URLs live at most this long (12 h). */
export const MAX_PRESIGN_SECONDS = 12 * 3600
/** File reads in 4 MiB chunks: fewer syscalls and hash calls than the 64 KiB default. */
const READ_CHUNK = 4 * MiB

/** The user metadata (x-amz-meta-*) s3-upload writes. */
export const METADATA_SHA256 = 'sha256'

/** What s3-upload does when the key already exists. */
export type IfExists = 'skip-same' | 'fail' | 'overwrite'

/** The SSE modes S3 accepts from a client. */
export type SseMode = 'AES256' | 'aws:kms'

/** Facts about an object in S3. */
export interface ObjectInfo {
  size: number
  etag: string
  versionId: string
  /** Our x-amz-meta-sha256, when the object was written by this suite. */
  sha256: string | undefined
  metadata: Record<string, string>
  lastModified: Date | undefined
  storageClass: string | undefined
  serverSideEncryption: string | undefined
}

/** What an upload or a lookup found: the action's outputs. */
export interface ArtifactLocation {
  bucket: string
  key: string
  uri: string
  sha256: string
  size: number
  etag: string
  versionId: string
  /** False when nothing was sent: the same bytes were already there, or a lookup. */
  uploaded: boolean
}

/** sha256 (hex) and size of a file, read as a stream. */
export async function hashFile(path: string): Promise<FileHash> {
  const hash = createHash('sha256')
  let size = 0
  await pipeline(createReadStream(path, { highWaterMark: READ_CHUNK }), async source => {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      hash.update(chunk)
      size += chunk.length
    }
  })
  return { sha256: hash.digest('hex'), size }
}

/** The object's facts, or undefined when the key does not exist. */
export async function headObject(
  s3: S3Client,
  bucket: string,
  key: string,
): Promise<ObjectInfo | undefined> {
  const { HeadObjectCommand } = await import('@aws-sdk/client-s3')
  try {
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))
    const metadata = head.Metadata ?? {}
    return {
      size: head.ContentLength ?? 0,
      etag: head.ETag ?? '',
      versionId: head.VersionId ?? '',
      sha256: metadata[METADATA_SHA256],
      metadata,
      lastModified: head.LastModified,
      storageClass: head.StorageClass,
      serverSideEncryption: head.ServerSideEncryption,
    }
  } catch (error) {
    if (awsErrorCode(error) === 'NotFound' || awsHttpStatus(error) === 404) return undefined
    throw translateS3Error(error, { operation: 'HeadObject', bucket, key })
  }
}

/** One object of a listing. */
export interface ListedObject {
  key: string
  size: number
  lastModified: Date
}

/**
 * The newest `limit` objects under `prefix`, newest first. At most `maxPages` listing pages
 * (1000 keys each) are read, so a huge bucket cannot stall a failing step.
 */
export async function listNewestObjects(
  s3: S3Client,
  bucket: string,
  prefix: string,
  limit = 10,
  maxPages = 10,
): Promise<{ objects: ListedObject[]; complete: boolean }> {
  const { ListObjectsV2Command } = await import('@aws-sdk/client-s3')
  const all: ListedObject[] = []
  let token: string | undefined
  let pages = 0
  do {
    let page
    try {
      page = await s3.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
      )
    } catch (error) {
      throw translateS3Error(error, { operation: 'ListObjectsV2', bucket })
    }
    for (const item of page.Contents ?? []) {
      if (item.Key === undefined) continue
      all.push({
        key: item.Key,
        size: item.Size ?? 0,
        lastModified: item.LastModified ?? new Date(0),
      })
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined
    pages++
  } while (token !== undefined && pages < maxPages)
  all.sort(
    (a, b) => b.lastModified.getTime() - a.lastModified.getTime() || (a.key < b.key ? 1 : -1),
  )
  return { objects: all.slice(0, limit), complete: token === undefined }
}

/** sha256 of an object's bytes, downloaded as a stream (for objects without our metadata). */
export async function hashObject(s3: S3Client, bucket: string, key: string): Promise<string> {
  const { GetObjectCommand } = await import('@aws-sdk/client-s3')
  let body: Readable
  try {
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
    body = object.Body as Readable
  } catch (error) {
    throw translateS3Error(error, { operation: 'GetObject', bucket, key })
  }
  const hash = createHash('sha256')
  for await (const chunk of body as AsyncIterable<Buffer>) hash.update(chunk)
  return hash.digest('hex')
}

/**
 * A pass-through stream that hashes what flows through it and, at the end, fails unless
 * the bytes match the expected sha256 and size. Failing in flush() keeps the end of the
 * stream from the consumer, so the last part is never sent and the upload is aborted.
 */
class VerifyingStream extends Transform {
  private readonly hash = createHash('sha256')
  bytes = 0

  constructor(
    private readonly file: string,
    private readonly expected: { sha256: string; size: number },
  ) {
    super({ highWaterMark: 4 * MiB })
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk)
    this.bytes += chunk.length
    done(null, chunk)
  }

  /** Set when the bytes sent were not the bytes hashed. */
  failure: ConfigurationError | undefined

  override _flush(done: TransformCallback): void {
    const sha256 = this.hash.digest('hex')
    if (sha256 !== this.expected.sha256 || this.bytes !== this.expected.size) {
      this.failure = new ConfigurationError(
        `file ${describeValue(this.file)} changed while it was being uploaded ` +
          `(sha256 ${this.expected.sha256} and ${this.expected.size} bytes when hashed, ` +
          `${sha256} and ${this.bytes} bytes when sent): the upload was aborted; ` +
          'make sure nothing writes the file during this step',
      )
      done(this.failure)
      return
    }
    done()
  }
}

/** The part size for a file: `requested`, raised when the file would need over 10,000 parts. */
export function effectivePartSize(size: number, requested: number): number {
  const needed = Math.ceil(size / MAX_PARTS / MiB) * MiB
  return Math.min(MAX_PART_SIZE, Math.max(requested, needed, MIN_PART_SIZE))
}

/** True for S3's refusal of a conditional write (`If-None-Match: *` on an existing key). */
export function isConditionalWriteConflict(error: unknown): boolean {
  const code = awsErrorCode(error)
  return (
    code === 'PreconditionFailed' ||
    code === 'ConditionalRequestConflict' ||
    awsHttpStatus(error) === 412
  )
}

/** Options of {@link putArtifact}. */
export interface PutArtifactOptions {
  bucket: string
  key: string
  file: string
  /** The hashed bytes themselves (see readRelease): sent as they are, nothing to re-check. */
  bytes?: Buffer | undefined
  /** What the file held when hashed; the upload fails if the bytes sent differ. */
  sha256: string
  size: number
  partSize: number
  concurrency: number
  /** User metadata (x-amz-meta-*), ASCII values. */
  metadata: Record<string, string>
  sse?: SseMode | undefined
  kmsKeyId?: string | undefined
  storageClass?: StorageClass | undefined
  contentType?: string | undefined
  /**
   * Send If-None-Match: * with the write, so S3 refuses it (412) when another writer created
   * the key after our HEAD: two runs racing to publish one version cannot both win.
   */
  createOnly?: boolean | undefined
  logger?: Logger | undefined
}

/**
 * Uploads a file with lib-storage (multipart above one part, `concurrency` parts in flight),
 * checking on the way that the bytes sent are the bytes hashed.
 */
export async function putArtifact(
  s3: S3Client,
  options: PutArtifactOptions,
): Promise<{ etag: string; versionId: string }> {
  const { Upload } = await import('@aws-sdk/lib-storage')
  const partSize = effectivePartSize(options.size, options.partSize)
  if (partSize !== options.partSize) {
    options.logger?.info(
      `part size raised to ${partSize / MiB} MiB so the file fits S3's ${MAX_PARTS} parts`,
    )
  }
  // In memory: lib-storage slices the buffer into parts without copying. Streamed: read
  // again, through a check that the bytes sent hash to what was hashed before.
  let body: Buffer | Readable
  let source: Readable | undefined
  let verified: VerifyingStream | undefined
  if (options.bytes !== undefined) {
    body = options.bytes
  } else {
    const stream = createReadStream(options.file, { highWaterMark: READ_CHUNK })
    const verifying = new VerifyingStream(options.file, options)
    stream.on('error', error => verifying.destroy(error))
    stream.pipe(verifying)
    ;[body, source, verified] = [verifying, stream, verifying]
  }
  const upload = new Upload({
    client: s3,
    partSize,
    queueSize: options.concurrency,
    leavePartsOnError: false,
    params: {
      Bucket: options.bucket,
      Key: options.key,
      Body: body,
      // The sha256 is what makes a later run's skip-same decision possible.
      Metadata: { ...options.metadata, [METADATA_SHA256]: options.sha256 },
      ContentType: options.contentType ?? 'application/octet-stream',
      ...(options.sse ? { ServerSideEncryption: options.sse as ServerSideEncryption } : {}),
      ...(options.kmsKeyId ? { SSEKMSKeyId: options.kmsKeyId } : {}),
      ...(options.storageClass ? { StorageClass: options.storageClass } : {}),
      // lib-storage passes this on to PutObject and CompleteMultipartUpload.
      ...(options.createOnly ? { IfNoneMatch: '*' } : {}),
    },
  })
  try {
    const result = await upload.done()
    return { etag: result.ETag ?? '', versionId: result.VersionId ?? '' }
  } catch (error) {
    // The root cause wins over whatever cleaning up (AbortMultipartUpload) ran into.
    if (verified?.failure) {
      if (error !== verified.failure) {
        options.logger?.warning(`cleaning up the aborted upload failed too: ${errorMessage(error)}`)
      }
      throw verified.failure
    }
    if (error instanceof ConfigurationError) throw error
    if (options.createOnly && isConditionalWriteConflict(error)) {
      throw new ConfigurationError(
        `s3://${options.bucket}/${options.key} was created by another writer while this run ` +
          `uploaded it (${awsErrorCode(error) || 412}); nothing was overwritten. Another run is publishing the ` +
          'same version: rerun this one to compare the bytes (if-exists: skip-same)',
      )
    }
    throw translateS3Error(error, {
      operation: 'PutObject',
      bucket: options.bucket,
      key: options.key,
      kmsKeyId: options.sse === 'aws:kms' ? (options.kmsKeyId ?? 'aws/s3') : undefined,
    })
  } finally {
    source?.destroy()
  }
}

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

/** sha256 (hex) and size of a file, and its bytes when it was read into memory. */
export interface FileHash {
  sha256: string
  size: number
  /**
   * The bytes that were hashed, for files up to the buffer limit: uploading exactly these
   * makes "the hash is the hash of what is sent" true by construction, in one read.
   */
  bytes?: Buffer | undefined
}

/** Files up to this size are read once into memory, hashed and sent from there. */
export const DEFAULT_BUFFER_LIMIT = 512 * MiB

/**
 * Hashes the release file for upload. Up to `bufferLimit` bytes (and a quarter of the free
 * memory) the file is read once and its bytes kept; larger files are hashed as a stream, and
 * the upload later checks that it sends the same bytes. A missing file is a
 * ConfigurationError naming it. The promise never counts as unhandled, so a caller may start
 * it early and await it after other steps that may fail.
 */
export function readRelease(file: string, bufferLimit = DEFAULT_BUFFER_LIMIT): Promise<FileHash> {
  const reading = (async (): Promise<FileHash> => {
    const { size } = await stat(file)
    if (size <= Math.min(bufferLimit, freemem() / 4)) return readHashing(file, size)
    return hashFile(file)
  })().catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new ConfigurationError(
        `input 'file': ${describeValue(file)} is not valid: the file does not exist`,
      )
    }
    throw error
  })
  reading.catch(() => {})
  return reading
}

/**
 * Reads `size` bytes of a file into memory and hashes them, chunk by chunk, with the next
 * chunk already being read on libuv's thread pool while this one is hashed: the read and
 * the hash overlap instead of adding up (about 0.6× the time of readFile, then hash).
 */
async function readHashing(file: string, size: number): Promise<FileHash> {
  const bytes = Buffer.allocUnsafe(size)
  const hash = createHash('sha256')
  const handle = await open(file, 'r')
  try {
    const fill = async (start: number, end: number): Promise<void> => {
      for (let at = start; at < end;) {
        const { bytesRead } = await handle.read(bytes, at, end - at, at)
        if (bytesRead === 0) {
          throw new ConfigurationError(
            `file ${describeValue(file)} changed while it was being read: it got shorter`,
          )
        }
        at += bytesRead
      }
    }
    let reading = fill(0, Math.min(READ_CHUNK, size))
    for (let start = 0; start < size; start += READ_CHUNK) {
      const end = Math.min(start + READ_CHUNK, size)
      await reading
      if (end < size) reading = fill(end, Math.min(end + READ_CHUNK, size))
      hash.update(bytes.subarray(start, end))
    }
    await reading
  } finally {
    await handle.close()
  }
  return { sha256: hash.digest('hex'), size, bytes }
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

/** Where an object that is already stored is, and its facts: nothing was sent. */
export function existingLocation(
  bucket: string,
  key: string,
  sha256: string,
  existing: ObjectInfo,
): ArtifactLocation {
  return {
    bucket,
    key,
    uri: s3Uri(bucket, key),
    sha256,
    size: existing.size,
    etag: existing.etag,
    versionId: existing.versionId,
    uploaded: false,
  }
}

/** A presigned GET URL for the object, valid `expiresSeconds` (1 s … 12 h). */
export async function presignDownload(
  s3: S3Client,
  bucket: string,
  key: string,
  expiresSeconds: number,
): Promise<string> {
  if (
    !Number.isSafeInteger(expiresSeconds) ||
    expiresSeconds < 1 ||
    expiresSeconds > MAX_PRESIGN_SECONDS
  ) {
    throw new ConfigurationError(
      `presigned URL expiry ${expiresSeconds}s is not valid: use 1s to 12h`,
    )
  }
  const [{ GetObjectCommand }, { getSignedUrl }] = await Promise.all([
    import('@aws-sdk/client-s3'),
    import('@aws-sdk/s3-request-presigner'),
  ])
  return getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: key }), {
    expiresIn: expiresSeconds,
  })
}
