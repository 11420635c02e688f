// The environment's desired release: `{app}/{environment}/desired.json`, the one release every
// host of the environment should run. A deploy or rollback that ended well sets it, from the
// deployment record it has just written (the history stays the records: one record, not two).
// Writes are compare-and-swap, so two runs can never silently overwrite each other.
import type { S3Client } from '@aws-sdk/client-s3'
import { ConfigurationError, describeValue, errorMessage } from '../../kit/src/index.js'
import { translateS3Error } from '../../aws/src/index.js'
import { s3Uri } from './names.js'
import { engineScriptsPrefix, type EngineScriptRef } from './engine-store.js'
import { isConditionalWriteConflict, readJsonObject } from './objects.js'
import { deploymentsPrefix, recordJson, validateRecord, type DeploymentRecord } from './records.js'

/** What desired.json says: the record of the release that set it, and where that record is. */
export interface DesiredRelease {
  record: DeploymentRecord
  /** The deployment record's key, under `{app}/{environment}/deployments/`. */
  recordKey: string
  /** The release's rendered engine, under `{app}/{environment}/engine/` (stored as `engine-key`, `engine-sha256`). */
  engine: EngineScriptRef
}

/** desired.json as read, with the ETag a compare-and-swap write must present. */
export interface StoredDesiredRelease extends DesiredRelease {
  etag: string
}

/** `{app}/{environment}/desired.json`, next to the environment's artifacts and records. */
export function desiredReleaseKey(app: string, environment: string): string {
  return `${app}/${environment}/desired.json`
}

/** The object's body: the record's own JSON fields, then the record's key and the engine's. */
export function desiredReleaseJson(desired: DesiredRelease): string {
  const record = JSON.parse(recordJson(desired.record)) as Record<string, unknown>
  const fields = {
    ...record,
    'record-key': desired.recordKey,
    'engine-key': desired.engine.key,
    'engine-sha256': desired.engine.sha256,
  }
  return `${JSON.stringify(fields)}\n`
}

/**
 * Checks desired.json's fields, as read back from S3 (anyone who can write the key could have
 * put anything there): a valid record of this app and environment, pointing at a record key
 * and an engine script of that environment.
 */
export function validateDesiredRelease(
  where: string,
  fields: Record<string, unknown>,
  expected: { app: string; environment: string },
): DesiredRelease {
  const {
    'record-key': recordKey,
    'engine-key': engineKey,
    'engine-sha256': engineSha256,
    ...recordFields
  } = fields
  const record = validateRecord(where, recordFields)
  for (const field of ['app', 'environment'] as const) {
    if (record[field] !== expected[field]) {
      throw new ConfigurationError(
        `${where}: field '${field}' ${describeValue(record[field])} is not ${describeValue(expected[field])}`,
      )
    }
  }
  const prefix = deploymentsPrefix(expected.app, expected.environment)
  if (
    typeof recordKey !== 'string' ||
    !recordKey.startsWith(prefix) ||
    !/^[A-Za-z0-9._+-]+\.json$/.test(recordKey.slice(prefix.length))
  ) {
    throw new ConfigurationError(
      `${where}: field 'record-key' ${describeValue(String(recordKey))} is not valid: ` +
        `use the key of a deployment record under ${prefix}`,
    )
  }
  const engine = validateEngineFields(where, engineKey, engineSha256, expected)
  return { record, recordKey, engine }
}

/** `engine-sha256` is 64 hex digits, and `engine-key` is that engine's key in this environment. */
function validateEngineFields(
  where: string,
  key: unknown,
  sha256: unknown,
  expected: { app: string; environment: string },
): EngineScriptRef {
  if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256)) {
    throw new ConfigurationError(
      `${where}: field 'engine-sha256' ${describeValue(String(sha256))} is not valid: ` +
        'use 64 lower-case hex digits',
    )
  }
  const wanted = `${engineScriptsPrefix(expected.app, expected.environment)}${sha256}.sh`
  if (key !== wanted) {
    throw new ConfigurationError(
      `${where}: field 'engine-key' ${describeValue(String(key))} is not valid: ` +
        `use the key of the engine script named by its sha256, ${wanted}`,
    )
  }
  return { key, sha256 }
}

/** desired.json with its ETag, or undefined when the environment has none yet. */
export async function readDesiredRelease(
  s3: S3Client,
  bucket: string,
  app: string,
  environment: string,
): Promise<StoredDesiredRelease | undefined> {
  const key = desiredReleaseKey(app, environment)
  const where = `desired release ${s3Uri(bucket, key)}`
  const read = await readJsonObject(s3, bucket, key, where)
  if (read === undefined) return undefined
  if (read.etag === '') throw new ConfigurationError(`${where} came back without an ETag`)
  const desired = validateDesiredRelease(where, read.fields, { app, environment })
  return { ...desired, etag: read.etag }
}

/** Options of {@link writeDesiredRelease}. */
export interface WriteDesiredOptions {
  bucket: string
  desired: DesiredRelease
  /**
   * The ETag of desired.json as this run read it (`If-Match`), or null when it read none
   * (`If-None-Match: *`): the write succeeds only if nobody wrote it in between.
   */
  previousEtag: string | null
}

/**
 * Sets the environment's desired release, compare-and-swap. When another run wrote
 * desired.json after this one read it, nothing is written and the ConfigurationError says
 * which release the other run set, and by which run.
 */
export async function writeDesiredRelease(
  s3: S3Client,
  options: WriteDesiredOptions,
): Promise<{ key: string; etag: string }> {
  const { bucket, desired, previousEtag } = options
  const { app, environment } = desired.record
  const key = desiredReleaseKey(app, environment)
  validateDesiredRelease(
    `desired release ${s3Uri(bucket, key)}`,
    JSON.parse(desiredReleaseJson(desired)) as Record<string, unknown>,
    { app, environment },
  )
  const { PutObjectCommand } = await import('@aws-sdk/client-s3')
  try {
    const written = await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: desiredReleaseJson(desired),
        ContentType: 'application/json',
        ...(previousEtag === null ? { IfNoneMatch: '*' } : { IfMatch: previousEtag }),
      }),
    )
    return { key, etag: written.ETag ?? '' }
  } catch (error) {
    if (!isConditionalWriteConflict(error)) {
      throw translateS3Error(error, { operation: 'PutObject', bucket, key })
    }
    throw await lostRace(s3, bucket, app, environment, desired.record.version)
  }
}

/** The error of a compare-and-swap write that another run beat, naming that run. */
async function lostRace(
  s3: S3Client,
  bucket: string,
  app: string,
  environment: string,
  version: string,
): Promise<ConfigurationError> {
  const uri = s3Uri(bucket, desiredReleaseKey(app, environment))
  let winner = 'another run'
  try {
    const current = await readDesiredRelease(s3, bucket, app, environment)
    if (current !== undefined) {
      const { record } = current
      winner = `${record.runUrl} (${record.mode} of ${record.version} at ${record.time})`
    }
  } catch (error) {
    winner = `another run (desired.json could not be read back: ${errorMessage(error)})`
  }
  return new ConfigurationError(
    `${uri} was changed by ${winner} after this run read it, so ${describeValue(version)} ` +
      `was not made the desired release of ${environment}: nothing was overwritten. The hosts ` +
      'run what the last deploy put there; rerun this workflow to make this version desired again',
  )
}
