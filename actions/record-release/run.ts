import { describeValue, errorMessage, type Logger } from '../../packages/kit/src/index.js'
import type { AwsActionDeps, OutputValues } from '../../packages/github/src/index.js'
import {
  readDesiredRelease,
  s3Uri,
  writeDeploymentRecord,
  writeDesiredRelease,
  type DesiredRelease,
  type RecordedVersion,
} from '../../packages/release-store/src/index.js'
import type { S3Client } from '@aws-sdk/client-s3'
import { rollbackVersionsOrWarn, rollbackVersionsOutput } from '../shared/rollback-versions.js'
import type { RecordReleaseInputs } from './inputs.js'

/** The keys written: the record (undefined when the deploy did not succeed) and desired.json. */
export interface RecordResult {
  recordKey: string | undefined
  desiredKey?: string
  /** The versions a rollback may use now, newest first; undefined when they were not listed. */
  rollbackVersions?: RecordedVersion[]
}

/**
 * Makes the record just written the environment's desired release, compare-and-swap against
 * desired.json as read here. A lost race fails the step; the record stays written.
 */
async function setDesiredRelease(
  s3: S3Client,
  bucket: string,
  desired: DesiredRelease,
  logger: Logger,
): Promise<string> {
  const { app, environment, version } = desired.record
  try {
    const current = await readDesiredRelease(s3, bucket, app, environment)
    const written = await writeDesiredRelease(s3, {
      bucket,
      desired,
      previousEtag: current?.etag ?? null,
    })
    logger.info(
      `${version} is the desired release of ${environment}` +
        `${current ? ` (was ${current.record.version})` : ''}: ${s3Uri(bucket, written.key)}`,
    )
    return written.key
  } catch (error) {
    logger.error(
      `the desired release of ${environment} was not set to ${version} (${errorMessage(error)}); ` +
        `the deployment record ${s3Uri(bucket, desired.recordKey)} stays written`,
    )
    throw error
  }
}

/** Writes the deployment record of a successful deploy; anything else is not recorded. */
export async function run(inputs: RecordReleaseInputs, deps: AwsActionDeps): Promise<RecordResult> {
  const { logger } = deps
  if (inputs.record === undefined) {
    logger.info(
      `deploy-status is ${describeValue(inputs.deployStatus)}, not "success": nothing is recorded, so this ` +
        'version cannot be rolled back to from this run',
    )
    return { recordKey: undefined }
  }
  const { fields: record, aws, engine } = inputs.record
  const clients = await deps.awsClients({ component: 'record-release', aws })
  try {
    // The SDK is loaded here, not at start-up: a step that fails on its inputs never loads it.
    const { S3Client } = await import('@aws-sdk/client-s3')
    const s3 = clients.client(S3Client)
    const written = await writeDeploymentRecord(s3, { bucket: record.bucket, record, logger })
    logger.info(
      `recorded ${record.mode} of ${record.version} to ${record.environment}: ${s3Uri(record.bucket, written.key)}`,
    )
    const { bucket, app, environment, version } = record
    const rollbackVersions = await rollbackVersionsOrWarn(
      s3,
      { bucket, app, environment, live: version },
      logger,
    )
    const listed = rollbackVersions ? { rollbackVersions } : {}
    if (engine === undefined) return { recordKey: written.key, ...listed }
    const desired = { record: written.record, recordKey: written.key, engine }
    const desiredKey = await setDesiredRelease(s3, record.bucket, desired, logger)
    return { recordKey: written.key, desiredKey, ...listed }
  } finally {
    clients.destroy()
  }
}

/** The action's outputs, by their action.yml names. */
export function outputs({ recordKey, desiredKey, rollbackVersions }: RecordResult): OutputValues {
  return {
    'record-key': recordKey ?? '',
    recorded: recordKey !== undefined,
    'desired-key': desiredKey ?? '',
    'rollback-versions': rollbackVersionsOutput(rollbackVersions),
  }
}
