// Deployment records: one immutable JSON object per successful deploy or rollback, under
// `{app}/{environment}/deployments/`. They are the evidence a rollback needs: a version may
// go back to an environment only if it was deployed there, with the sha256 recorded then.
import type { S3Client } from '@aws-sdk/client-s3'
import {
  ACTOR_RULE,
  APP_NAME_RULE,
  COMMIT_SHA,
  ConfigurationError,
  REPOSITORY_NAME,
  ENVIRONMENT_RULE,
  VERSION_RULE,
  assertSafeName,
  describeValue,
  fitsRule,
  type Logger,
  type NameRule,
} from '../../kit/src/index.js'
import { translateS3Error } from '../../aws/src/index.js'
import {
  existingLocation,
  headObject,
  isConditionalWriteConflict,
  listNewestObjects,
  readJsonObject,
  type ArtifactLocation,
} from './objects.js'
import { s3Uri } from './names.js'

/** What a record says was deployed: `deploy`, or `rollback` to an earlier version. */
export type DeploymentMode = 'deploy' | 'rollback'

/** Where the run that deployed came from (the runner's GITHUB_* variables, validated). */
export interface RunContext {
  runUrl: string
  commit: string
  actor: string
}

/** One deployment record (camelCase here; the JSON body uses the kebab-case `run-url`). */
export interface DeploymentRecord extends RunContext {
  app: string
  environment: string
  version: string
  bucket: string
  key: string
  sha256: string
  size: number
  /** UTC, whole seconds: `2026-12-01T10:50:03Z`. */
  time: string
  mode: DeploymentMode
}

const SHA256 = /^[0-9a-f]{64}$/
const RECORD_NAME = /^(\d{8}T\d{6}Z)-([A-Za-z0-9][A-Za-z0-9._+-]*)\.json$/
const RECORD_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/
/** A rollback that finds no record, and the rollback picker, list at most this many versions. */
export const LISTED_VERSIONS = 10

/** `{app}/{environment}/deployments/`, the folder of an environment's records. */
export function deploymentsPrefix(app: string, environment: string): string {
  return `${app}/${environment}/deployments/`
}

/** `2026-12-01T10:50:03Z`: the record's time, to the UTC second. */
function recordTime(time: Date): string {
  return time.toISOString().replace(/\.\d{3}Z$/, 'Z')
}

/** The key of the record of `version` deployed at `time`. */
export function deploymentRecordKey(
  app: string,
  environment: string,
  version: string,
  time: Date,
): string {
  const stamp = recordTime(time).replace(/[-:]/g, '')
  return `${deploymentsPrefix(app, environment)}${stamp}-${version}.json`
}

/** The record as stored: exactly the fields of the shared interface, in a fixed order. */
export function recordJson(record: DeploymentRecord): string {
  return `${JSON.stringify({
    app: record.app,
    environment: record.environment,
    version: record.version,
    bucket: record.bucket,
    key: record.key,
    sha256: record.sha256,
    size: record.size,
    time: record.time,
    'run-url': record.runUrl,
    commit: record.commit,
    actor: record.actor,
    mode: record.mode,
  })}\n`
}

/**
 * Checks every field of a record, whether about to be written or read back from S3 (where
 * anyone with write access to the prefix could have put anything). `where` names it.
 */
export function validateRecord(where: string, fields: Record<string, unknown>): DeploymentRecord {
  const text = (name: string): string => {
    const value = fields[name]
    if (typeof value !== 'string') {
      throw new ConfigurationError(`${where}: field '${name}' is missing or not a string`)
    }
    return value
  }
  const matching = (name: string, pattern: RegExp, rule: string): string => {
    const value = text(name)
    if (!pattern.test(value)) {
      throw new ConfigurationError(
        `${where}: field '${name}' ${describeValue(value)} is not valid: ${rule}`,
      )
    }
    return value
  }
  const named = (name: string, rule: NameRule) =>
    assertSafeName(`${where}: field '${name}'`, text(name), rule)
  const size = fields.size
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw new ConfigurationError(`${where}: field 'size' is not a whole number of bytes`)
  }
  const mode = text('mode')
  if (mode !== 'deploy' && mode !== 'rollback') {
    throw new ConfigurationError(
      `${where}: field 'mode' ${describeValue(mode)} is not valid: use 'deploy' or 'rollback'`,
    )
  }
  const runUrl = matching(
    'run-url',
    new RegExp(
      `^https://[A-Za-z0-9.-]+(:\\d{1,5})?/${REPOSITORY_NAME.source.slice(1, -1)}/actions/runs/\\d+$`,
    ),
    'use the https URL of a workflow run',
  )
  return {
    app: named('app', APP_NAME_RULE),
    environment: named('environment', ENVIRONMENT_RULE),
    version: named('version', VERSION_RULE),
    // Compared with the rollback's own bucket and key, which were validated as inputs.
    bucket: text('bucket'),
    key: text('key'),
    sha256: matching('sha256', SHA256, 'use 64 lowercase hex digits'),
    size,
    time: matching('time', RECORD_TIME, 'use UTC time to the second, e.g. 2026-12-01T10:50:03Z'),
    runUrl,
    commit: matching('commit', COMMIT_SHA, 'use a full commit sha in lowercase hex'),
    actor: named('actor', ACTOR_RULE),
    mode,
  }
}

/** Options of {@link writeDeploymentRecord}. */
export interface WriteRecordOptions {
  bucket: string
  /** Everything but the time, which the writer sets. */
  record: Omit<DeploymentRecord, 'time'>
  /** The clock; tests inject one. */
  now?: () => Date
  /** Names tried before giving up when each is taken (412); default 5. */
  attempts?: number
  logger?: Logger | undefined
}

/**
 * Writes one record, create-only (`If-None-Match: *`): an existing record is never replaced.
 * When the name is taken (another record in the same second), the next second's name is
 * tried, up to `attempts` names. Returns the key and the record as written.
 */
export async function writeDeploymentRecord(
  s3: S3Client,
  options: WriteRecordOptions,
): Promise<{ key: string; record: DeploymentRecord }> {
  const { bucket, logger } = options
  const now = options.now ?? (() => new Date())
  const attempts = options.attempts ?? 5
  const { app, environment, version } = options.record
  const { PutObjectCommand } = await import('@aws-sdk/client-s3')
  let time = now()
  const taken: string[] = []
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const key = deploymentRecordKey(app, environment, version, time)
    const record = validateRecord(`deployment record ${s3Uri(bucket, key)}`, {
      ...options.record,
      'run-url': options.record.runUrl,
      time: recordTime(time),
    })
    try {
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: recordJson(record),
          ContentType: 'application/json',
          IfNoneMatch: '*',
        }),
      )
      return { key, record }
    } catch (error) {
      if (!isConditionalWriteConflict(error)) {
        throw translateS3Error(error, { operation: 'PutObject', bucket, key })
      }
      taken.push(key)
      logger?.info(`${s3Uri(bucket, key)} exists already: trying the next second's name`)
      // A name is one second wide: the next try is at least a second later.
      time = new Date(Math.max(now().getTime(), time.getTime() + 1000))
    }
  }
  throw new ConfigurationError(
    `no deployment record was written: S3 refused (412 Precondition Failed) every name tried, ` +
      `since each exists already: ${taken.map(k => s3Uri(bucket, k)).join(', ')}. ` +
      'Records are never overwritten; run this step again to write one under a new name',
  )
}

/** A record's key, with the time and version its name holds. */
export interface RecordEntry {
  key: string
  /** `20261201T105003Z`: sorts as time does. */
  stamp: string
  version: string
}

/** The environment's records, newest first, as their names tell (nothing is read yet). */
export async function listDeploymentRecords(
  s3: S3Client,
  bucket: string,
  app: string,
  environment: string,
): Promise<RecordEntry[]> {
  const prefix = deploymentsPrefix(app, environment)
  const { objects } = await listNewestObjects(s3, bucket, prefix, Number.MAX_SAFE_INTEGER)
  const entries: RecordEntry[] = []
  for (const object of objects) {
    const match = RECORD_NAME.exec(object.key.slice(prefix.length))
    if (match?.[1] && match[2])
      entries.push({ key: object.key, stamp: match[1], version: match[2] })
  }
  return entries.sort((a, b) => (a.stamp === b.stamp ? 0 : a.stamp < b.stamp ? 1 : -1))
}

/** A version recorded as deployed to an environment, at the time of its newest record. */
export interface RecordedVersion {
  version: string
  /** UTC, whole seconds: `2026-12-01T10:50:03Z`. */
  deployedAt: string
}

/**
 * Each version of the records once, at its newest record, newest first (the entries are
 * newest first, as {@link listDeploymentRecords} gives them).
 */
export function recordedVersions(entries: readonly RecordEntry[]): RecordedVersion[] {
  const seen = new Set<string>()
  const versions: RecordedVersion[] = []
  for (const { version, stamp } of entries) {
    if (seen.has(version)) continue
    seen.add(version)
    const deployedAt = stamp.replace(
      /^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/,
      '$1-$2-$3T$4:$5:$6Z',
    )
    versions.push({ version, deployedAt })
  }
  return versions
}

/**
 * The versions a rollback of the environment may use, newest first: those its records show,
 * but the one live now, and only names the version rule accepts; at most `limit`.
 */
export async function listRollbackVersions(
  s3: S3Client,
  options: { bucket: string; app: string; environment: string; live: string; limit?: number },
): Promise<RecordedVersion[]> {
  const { bucket, app, environment, live } = options
  const entries = await listDeploymentRecords(s3, bucket, app, environment)
  return recordedVersions(entries)
    .filter(({ version }) => version !== live && fitsRule(version, VERSION_RULE))
    .slice(0, options.limit ?? LISTED_VERSIONS)
}

/** Reads and checks one record. */
export async function readDeploymentRecord(
  s3: S3Client,
  bucket: string,
  key: string,
): Promise<DeploymentRecord> {
  const where = `deployment record ${s3Uri(bucket, key)}`
  const read = await readJsonObject(s3, bucket, key, where)
  if (read === undefined) throw new ConfigurationError(`${where} does not exist`)
  return validateRecord(where, read.fields)
}

/** Options of {@link findDeploymentRecord}. */
export interface FindRecordOptions {
  bucket: string
  app: string
  environment: string
  version: string
}

/**
 * The newest record of `version` in the environment, read and checked against what was asked
 * (app, environment, version). No record: a ConfigurationError listing the versions that
 * were recorded there, newest first.
 */
export async function findDeploymentRecord(
  s3: S3Client,
  options: FindRecordOptions,
): Promise<DeploymentRecord> {
  const { bucket, app, environment, version } = options
  const entries = await listDeploymentRecords(s3, bucket, app, environment)
  const entry = entries.find(e => e.version === version)
  if (entry === undefined) {
    const versions = recordedVersions(entries)
      .slice(0, LISTED_VERSIONS)
      .map(v => v.version)
    const where = s3Uri(bucket, deploymentsPrefix(app, environment))
    const choice =
      versions.length === 0
        ? `no deployment to ${environment} has been recorded yet (under ${where})`
        : `versions deployed to ${environment} (newest first, from ${where}): ${versions.join(', ')}`
    throw new ConfigurationError(
      `version ${describeValue(version)} was never deployed successfully to environment ` +
        `${describeValue(environment)}, so it cannot be rolled back to; ${choice}. ` +
        "Set 'allow-any-stored-version: true' to deploy any stored version regardless",
    )
  }
  const record = await readDeploymentRecord(s3, bucket, entry.key)
  const asked = { app, environment, version }
  for (const field of ['app', 'environment', 'version'] as const) {
    if (record[field] !== asked[field]) {
      throw new ConfigurationError(
        `deployment record ${s3Uri(bucket, entry.key)} says ${field} ` +
          `${describeValue(record[field])}, not ${describeValue(asked[field])}: it cannot vouch for this rollback`,
      )
    }
  }
  return record
}

/**
 * The rollback lookup: the recorded object must still be there, with the recorded size (and,
 * when it carries our sha256 metadata, the recorded sha256). The location's sha256 is the
 * record's, never the object's own metadata, which anyone who can write the key can forge.
 */
export async function findRecordedArtifact(
  s3: S3Client,
  options: FindRecordOptions & { key: string; logger?: Logger | undefined },
): Promise<{ record: DeploymentRecord; location: ArtifactLocation }> {
  const { bucket, key, logger } = options
  const record = await findDeploymentRecord(s3, options)
  const uri = s3Uri(bucket, key)
  if (record.bucket !== bucket || record.key !== key) {
    throw new ConfigurationError(
      `${options.version} was deployed to ${options.environment} from ` +
        `${describeValue(s3Uri(record.bucket, record.key))}, not from ${uri}: ` +
        "set 'bucket' and 'key' as they were then",
    )
  }
  const existing = await headObject(s3, bucket, key)
  const changed = (what: string) =>
    new ConfigurationError(
      `${uri} ${what}, so it is not what was deployed to ${record.environment} at ` +
        `${record.time} (${record.runUrl}): the rollback was refused. Restore the object ` +
        `from a backup or S3 versioning (sha256 ${record.sha256}, ${record.size} bytes)`,
    )
  if (existing === undefined) throw changed('no longer exists')
  if (existing.size !== record.size) {
    throw changed(`now holds ${existing.size} bytes where ${record.size} were recorded`)
  }
  if (existing.sha256 !== undefined && existing.sha256 !== record.sha256) {
    throw changed(`now says sha256 ${describeValue(existing.sha256)}, not the recorded one`)
  }
  logger?.info(
    `${uri} was deployed to ${record.environment} at ${record.time} by ${record.runUrl}: ` +
      `${record.size} bytes, sha256 ${record.sha256} (from the record)`,
  )
  return { record, location: existingLocation(bucket, key, record.sha256, existing) }
}
