// The versions a rollback of the environment may use, for the summary's rollback picker: listed
// by record-release after a successful deploy, and by s3-upload before any deploy (so that a
// failed deploy's summary still offers them).
import { errorMessage, type Logger } from '../../packages/kit/src/index.js'
import {
  listRollbackVersions,
  type RecordedVersion,
} from '../../packages/release-store/src/index.js'
import type { S3Client } from '@aws-sdk/client-s3'
import { rollbackVersionsToJson } from './results-json.js'

/** Where the records are, and the version left out (the one this run deploys). */
export interface RollbackListing {
  bucket: string
  app: string
  environment: string
  live: string
}

/**
 * The versions recorded in the environment but `live`, newest first. A failure to list is a
 * warning and undefined: the picker is a convenience, never a reason to fail the step.
 */
export async function rollbackVersionsOrWarn(
  s3: S3Client,
  listing: RollbackListing,
  logger: Logger,
): Promise<RecordedVersion[] | undefined> {
  try {
    return await listRollbackVersions(s3, listing)
  } catch (error) {
    logger.warning(
      `the versions to roll back to were not listed (${errorMessage(error)}); the summary shows none`,
    )
    return undefined
  }
}

/** The `rollback-versions` output: the JSON list, or '' when nothing was listed. */
export function rollbackVersionsOutput(versions: readonly RecordedVersion[] | undefined) {
  return versions ? rollbackVersionsToJson(versions) : ''
}
