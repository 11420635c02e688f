import { join } from 'node:path'
import { ConfigurationError, describeValue, type Logger } from '../../packages/kit/src/index.js'
import {
  downloadWorkflowArtifact,
  workflowRunUrl,
  type AwsActionDeps,
  type OutputValues,
} from '../../packages/github/src/index.js'
import {
  findArtifact,
  findRecordedArtifact,
  presignDownload,
  publishArtifact,
  readRelease,
  versionPrefix,
  type ArtifactLocation,
  type RecordedVersion,
} from '../../packages/release-store/src/index.js'
import type { S3Client } from '@aws-sdk/client-s3'
import { rollbackVersionsOrWarn, rollbackVersionsOutput } from '../shared/rollback-versions.js'
import type { S3UploadInputs } from './inputs.js'

/** Presigned URLs longer-lived than this get a warning: SSM keeps them readable. */
const PRESIGN_WARN_SECONDS = 15 * 60

/** Where the release is in S3, and its presigned URL ('' when none was asked for). */
export interface S3UploadResult {
  location: ArtifactLocation
  presignedUrl: string
  /** The versions recorded in the environment before this run; undefined when not listed. */
  rollbackVersions: RecordedVersion[] | undefined
}

/** Downloads the workflow artifact and returns the one file it holds. */
async function artifactFile(
  env: NodeJS.ProcessEnv,
  name: string,
  expectedDigest: string | undefined,
): Promise<string> {
  const destination = join(env.RUNNER_TEMP ?? process.cwd(), 's3-upload-artifact')
  const files = await downloadWorkflowArtifact(name, destination, { expectedDigest })
  if (files.length !== 1 || files[0] === undefined) {
    throw new ConfigurationError(
      `input 'artifact-name': workflow artifact ${describeValue(name)} holds ` +
        `${files.length} files, expected the one release zip`,
    )
  }
  return files[0]
}

/**
 * The versions a rollback of the environment may use, as recorded before this run, but the one
 * it deploys: a failed deploy records nothing, so its summary's picker takes them from here.
 * Undefined without `app` and `environment`, or when the listing failed (a warning).
 */
function rollbackVersionsBefore(
  s3: S3Client,
  inputs: S3UploadInputs,
  logger: Logger,
): Promise<RecordedVersion[] | undefined> {
  const { app, environment, version } = inputs.keyValues
  if (app === undefined || environment === undefined) return Promise.resolve(undefined)
  const listing = { bucket: inputs.bucket, app, environment, live: version ?? '' }
  return rollbackVersionsOrWarn(s3, listing, logger)
}

/**
 * Uploads the release (a file or a workflow artifact) under the policy of `if-exists`, or,
 * for a rollback, finds the stored version its deployment records allow; then presigns it and
 * lists the versions recorded before.
 */
export async function run(inputs: S3UploadInputs, deps: AwsActionDeps): Promise<S3UploadResult> {
  const { logger, env } = deps
  const { bucket, key, aws } = inputs
  // Downloaded only once every input has been checked.
  const file =
    inputs.artifactName === undefined
      ? inputs.file
      : await artifactFile(env, inputs.artifactName, inputs.artifactDigest)
  // Hashing runs while the OIDC token is fetched and the role assumed.
  const hashed = file === undefined ? undefined : readRelease(file)

  const clients = await deps.awsClients({
    component: 's3-upload',
    requestChecksumCalculation: 'WHEN_REQUIRED',
    aws,
  })
  try {
    // The SDK is loaded here, not at start-up: a step that fails on its inputs never loads it.
    const { S3Client } = await import('@aws-sdk/client-s3')
    const s3 = clients.client(S3Client)
    const { app, environment, version } = inputs.keyValues
    let location: ArtifactLocation
    if (file === undefined && !inputs.allowAnyStoredVersion) {
      // Narrowed by getInputs: a recorded rollback has both.
      const recorded = { app: app ?? '', environment: environment ?? '', version: version ?? '' }
      ;({ location } = await findRecordedArtifact(s3, { ...recorded, bucket, key, logger }))
    } else if (file === undefined) {
      logger.warning(
        "allow-any-stored-version: the version's sha256 comes from the object's own " +
          'metadata, which anyone who can write the key can forge, not from a deployment record',
      )
      const prefix = versionPrefix('key', inputs.keyTemplate, inputs.keyValues)
      location = await findArtifact(s3, { bucket, key, prefix, logger })
    } else {
      const runUrl = workflowRunUrl(env)
      location = await publishArtifact(s3, {
        bucket,
        key,
        file,
        hashed,
        expectedSha256: inputs.expectedSha256,
        ifExists: inputs.ifExists,
        partSize: inputs.partSize,
        concurrency: inputs.concurrency,
        sse: inputs.sse,
        kmsKeyId: inputs.kmsKeyId,
        storageClass: inputs.storageClass,
        contentType: key.endsWith('.zip') ? 'application/zip' : 'application/octet-stream',
        metadata: {
          ...(version ? { version } : {}),
          ...(env.GITHUB_SHA && /^[0-9a-f]{40}$/.test(env.GITHUB_SHA)
            ? { 'git-sha': env.GITHUB_SHA }
            : {}),
          ...(runUrl ? { 'run-url': encodeURI(runUrl) } : {}),
        },
        logger,
      })
    }
    if (inputs.expectedSha256 !== undefined && location.sha256 !== inputs.expectedSha256) {
      throw new ConfigurationError(
        `input 'expected-sha256': ${location.uri} has sha256 ${location.sha256}, not ` +
          `${inputs.expectedSha256}`,
      )
    }
    const rollbackVersions = await rollbackVersionsBefore(s3, inputs, logger)
    if (inputs.presignMs === 0) return { location, presignedUrl: '', rollbackVersions }
    const seconds = Math.ceil(inputs.presignMs / 1000)
    const presignedUrl = await presignDownload(s3, bucket, key, seconds)
    // Masked before anything else (log, outputs) sees it.
    deps.setSecret(presignedUrl)
    if (seconds > PRESIGN_WARN_SECONDS) {
      logger.warning(
        `the presigned URL stays valid for ${seconds}s: until then anyone who can read this ` +
          "deploy's SSM command (ssm:ListCommands, ssm:GetCommandInvocation) can download " +
          "the release with it; keep 'presign-expires' at 15m or less, or use download: instance-role",
      )
    }
    if (aws.roleToAssume !== undefined && seconds > aws.roleDurationSeconds) {
      logger.warning(
        `the presigned URL stops working when the role session ends, after ${aws.roleDurationSeconds}s, ` +
          `not after ${seconds}s: raise 'role-duration-seconds' to match 'presign-expires'`,
      )
    }
    return { location, presignedUrl, rollbackVersions }
  } finally {
    clients.destroy()
  }
}

/** The action's outputs, by their action.yml names. */
export function outputs({
  location,
  presignedUrl,
  rollbackVersions,
}: S3UploadResult): OutputValues {
  return {
    bucket: location.bucket,
    key: location.key,
    uri: location.uri,
    sha256: location.sha256,
    size: String(location.size),
    etag: location.etag,
    'version-id': location.versionId,
    uploaded: location.uploaded,
    'presigned-url': presignedUrl,
    'rollback-versions': rollbackVersionsOutput(rollbackVersions),
  }
}
