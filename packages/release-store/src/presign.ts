import type { S3Client } from '@aws-sdk/client-s3'
import { ConfigurationError } from '../../kit/src/index.js'

/** Presigned URLs live at most this long (12 h). */
export const MAX_PRESIGN_SECONDS = 12 * 3600

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
