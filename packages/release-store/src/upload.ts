import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { Transform, type Readable, type TransformCallback } from 'node:stream'
import type { S3Client, ServerSideEncryption, StorageClass } from '@aws-sdk/client-s3'
import {
  ConfigurationError,
  describeValue,
  errorMessage,
  type Logger,
} from '../../kit/src/index.js'
import { awsErrorCode, translateS3Error } from '../../aws/src/index.js'
import { MiB, READ_CHUNK } from './hashing.js'
import { METADATA_SHA256, isConditionalWriteConflict } from './objects.js'

/** S3's limits on multipart uploads. */
export const MIN_PART_SIZE = 5 * MiB
export const MAX_PART_SIZE = 5 * 1024 * MiB
export const MAX_PARTS = 10_000

/** The SSE modes S3 accepts from a client. */
export type SseMode = 'AES256' | 'aws:kms'

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
