import { describeValue } from '../../packages/kit/src/index.js'
import type { AwsActionDeps, OutputValues } from '../../packages/github/src/index.js'
import { s3Uri, writeDeploymentRecord } from '../../packages/release-store/src/index.js'
import type { RecordReleaseInputs } from './inputs.js'

/** The key of the record written; undefined when the deploy did not succeed. */
export interface RecordResult {
  recordKey: string | undefined
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
  const { fields: record, aws } = inputs.record
  const clients = await deps.awsClients({ component: 'record-release', aws })
  try {
    // The SDK is loaded here, not at start-up: a step that fails on its inputs never loads it.
    const { S3Client } = await import('@aws-sdk/client-s3')
    const written = await writeDeploymentRecord(clients.client(S3Client), {
      bucket: record.bucket,
      record,
      logger,
    })
    logger.info(
      `recorded ${record.mode} of ${record.version} to ${record.environment}: ${s3Uri(record.bucket, written.key)}`,
    )
    return { recordKey: written.key }
  } finally {
    clients.destroy()
  }
}

/** The action's outputs, by their action.yml names. */
export function outputs({ recordKey }: RecordResult): OutputValues {
  return { 'record-key': recordKey ?? '', recorded: recordKey !== undefined }
}
