import { createHash } from 'node:crypto'
import type { Readable } from 'node:stream'
// The SDK's modules are loaded with import() where a call needs them, so a step that fails
// on its inputs never loads them (bench/startup); statically, only their types.
import type { S3Client } from '@aws-sdk/client-s3'
import { ConfigurationError, errorMessage } from '../../kit/src/index.js'
import { awsErrorCode, awsHttpStatus, translateS3Error } from '../../aws/src/index.js'
import { s3Uri } from './names.js'

/** The user metadata (x-amz-meta-*) s3-upload writes. */
export const METADATA_SHA256 = 'sha256'

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

/** True for S3's refusal of a conditional write (`If-None-Match: *` on an existing key). */
export function isConditionalWriteConflict(error: unknown): boolean {
  const code = awsErrorCode(error)
  return (
    code === 'PreconditionFailed' ||
    code === 'ConditionalRequestConflict' ||
    awsHttpStatus(error) === 412
  )
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

/**
 * A small JSON object we wrote (a record, desired.json), read back as hostile: its fields and
 * ETag, undefined when the key does not exist. `where` names it in errors.
 */
export async function readJsonObject(
  s3: S3Client,
  bucket: string,
  key: string,
  where: string,
): Promise<{ fields: Record<string, unknown>; etag: string } | undefined> {
  const { GetObjectCommand } = await import('@aws-sdk/client-s3')
  let body: string
  let etag: string
  try {
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
    body = (await object.Body?.transformToString('utf8')) ?? ''
    etag = object.ETag ?? ''
  } catch (error) {
    if (awsErrorCode(error) === 'NoSuchKey' || awsHttpStatus(error) === 404) return undefined
    throw translateS3Error(error, { operation: 'GetObject', bucket, key })
  }
  let fields: unknown
  try {
    fields = JSON.parse(body)
  } catch (error) {
    throw new ConfigurationError(`${where} is not valid JSON (${errorMessage(error)})`)
  }
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) {
    throw new ConfigurationError(`${where} is not a JSON object`)
  }
  return { fields: fields as Record<string, unknown>, etag }
}
