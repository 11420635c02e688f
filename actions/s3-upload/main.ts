import { join } from 'node:path'
import * as core from '@actions/core'
import {
  ConfigurationError,
  ENVIRONMENT_RULE,
  Inputs,
  VERSION_RULE,
  assertSafeName,
  describeValue,
  invalidInput,
} from '../../packages/kit/src/index.js'
import { runAction, runnerLogger, setOutputs } from '../../packages/github/src/index.js'
import { APP_RULE } from '../../packages/artifact/src/index.js'
import { awsClientsFromInputs, readAwsInputs } from '../../packages/github/src/index.js'
import {
  downloadWorkflowArtifact,
  normalizeArtifactDigest,
} from '../../packages/github/src/index.js'
import {
  DEFAULT_KEY_TEMPLATE,
  MAX_PRESIGN_SECONDS,
  findArtifact,
  findRecordedArtifact,
  readRelease,
  parsePartSize,
  presignDownload,
  publishArtifact,
  renderObjectKey,
  validateBucketName,
  validateStorageClass,
  versionPrefix,
  workflowRunUrl,
  type ArtifactLocation,
  type KeyValues,
} from '../../packages/release-store/src/index.js'

/** Presigned URLs longer-lived than this get a warning: SSM keeps them readable. */
const PRESIGN_WARN_SECONDS = 15 * 60

/** Downloads the workflow artifact and returns the one file it holds. */
async function artifactFile(name: string, expectedDigest: string | undefined): Promise<string> {
  const destination = join(process.env.RUNNER_TEMP ?? process.cwd(), 's3-upload-artifact')
  const files = await downloadWorkflowArtifact(name, destination, { expectedDigest })
  if (files.length !== 1 || files[0] === undefined) {
    throw new ConfigurationError(
      `input 'artifact-name': workflow artifact ${describeValue(name)} holds ` +
        `${files.length} files, expected the one release zip`,
    )
  }
  return files[0]
}

/** An optional sha256 input: 64 hex digits (lowercased), or undefined. */
function optionalSha256(inputs: Inputs, name: string): string | undefined {
  const value = inputs.optional(name)
  if (value === undefined) return undefined
  if (!/^[0-9a-fA-F]{64}$/.test(value)) throw invalidInput(name, value, 'use 64 hex digits')
  return value.toLowerCase()
}

await runAction(async () => {
  const inputs = new Inputs()
  const env = process.env
  const app = inputs.optional('app')
  const version = inputs.optional('version')
  const environment = inputs.optional('environment')
  const fileInput = inputs.optional('file')
  const artifactName = inputs.optional('artifact-name')
  if (fileInput !== undefined && artifactName !== undefined) {
    throw new ConfigurationError("set either input 'file' or input 'artifact-name', not both")
  }
  if (fileInput === undefined && artifactName === undefined && version === undefined) {
    throw new ConfigurationError(
      "nothing to do: set input 'file' or 'artifact-name' to upload a release, " +
        "or input 'version' to check that an existing version can be deployed",
    )
  }
  if (app !== undefined) assertSafeName("input 'app'", app, APP_RULE)
  if (version !== undefined) assertSafeName("input 'version'", version, VERSION_RULE)
  if (environment !== undefined)
    assertSafeName("input 'environment'", environment, ENVIRONMENT_RULE)
  const values: KeyValues = {
    app,
    version,
    environment,
    repository: env.GITHUB_REPOSITORY,
    sha: env.GITHUB_SHA,
  }
  const bucket = validateBucketName('bucket', inputs.required('bucket'))
  const template = inputs.string('key', DEFAULT_KEY_TEMPLATE)
  const key = renderObjectKey('key', template, values)
  const ifExists = inputs.enum('if-exists', ['skip-same', 'fail', 'overwrite'], 'skip-same')
  const sse = inputs.optional('sse')
  const kmsKeyId = inputs.optional('kms-key-id')
  const sseMode =
    sse === undefined ? undefined : inputs.enum('sse', ['AES256', 'aws:kms'], 'AES256')
  if (kmsKeyId !== undefined && sseMode !== 'aws:kms') {
    throw new ConfigurationError("input 'kms-key-id' is set, but input 'sse' is not 'aws:kms'")
  }
  const storageClassInput = inputs.optional('storage-class')
  const storageClass =
    storageClassInput === undefined
      ? undefined
      : validateStorageClass('storage-class', storageClassInput)
  const partSize = parsePartSize('part-size', inputs.string('part-size', '16MiB'))
  const concurrency = inputs.integer('concurrency', 8, { min: 1, max: 64 })
  const presignMs = inputs.duration('presign-expires', 0, { maxMs: MAX_PRESIGN_SECONDS * 1000 })
  const expectedSha256 = optionalSha256(inputs, 'expected-sha256')
  const digestInput = inputs.optional('artifact-digest')
  const artifactDigest =
    digestInput === undefined ? undefined : normalizeArtifactDigest(digestInput)
  if (digestInput !== undefined && artifactDigest === undefined) {
    throw invalidInput('artifact-digest', digestInput, "use 'sha256:' and 64 hex digits")
  }
  if (artifactDigest !== undefined && artifactName === undefined) {
    throw new ConfigurationError("input 'artifact-digest' is set, but input 'artifact-name' is not")
  }
  const allowAnyStoredVersion = inputs.boolean('allow-any-stored-version', false)
  const lookup = fileInput === undefined && artifactName === undefined
  if (lookup && !allowAnyStoredVersion && (app === undefined || environment === undefined)) {
    throw new ConfigurationError(
      `input '${app === undefined ? 'app' : 'environment'}' is empty: a rollback (input ` +
        "'version' without 'file' or 'artifact-name') may only use a version that was " +
        "deployed to that environment, per its deployment records; set 'app' and " +
        "'environment', or set 'allow-any-stored-version: true' to deploy any stored version",
    )
  }
  const aws = readAwsInputs(inputs)
  // Downloaded only once every input has been checked.
  const file =
    artifactName === undefined ? fileInput : await artifactFile(artifactName, artifactDigest)
  // Hashing runs while the OIDC token is fetched and the role assumed.
  const hashed = file === undefined ? undefined : readRelease(file)

  const clients = await awsClientsFromInputs({
    component: 's3-upload',
    requestChecksumCalculation: 'WHEN_REQUIRED',
    aws,
    logger: runnerLogger,
  })
  try {
    // The SDK is loaded here, not at start-up: a step that fails on its inputs never loads it.
    const { S3Client } = await import('@aws-sdk/client-s3')
    const s3 = clients.client(S3Client)
    let location: ArtifactLocation
    if (file === undefined && !allowAnyStoredVersion) {
      // Narrowed by the check above: a recorded rollback has both.
      const recorded = { app: app ?? '', environment: environment ?? '', version: version ?? '' }
      ;({ location } = await findRecordedArtifact(s3, {
        ...recorded,
        bucket,
        key,
        logger: runnerLogger,
      }))
    } else if (file === undefined) {
      runnerLogger.warning(
        "allow-any-stored-version: the version's sha256 comes from the object's own " +
          'metadata, which anyone who can write the key can forge, not from a deployment record',
      )
      const prefix = versionPrefix('key', template, values)
      location = await findArtifact(s3, { bucket, key, prefix, logger: runnerLogger })
    } else {
      const runUrl = workflowRunUrl(env)
      location = await publishArtifact(s3, {
        bucket,
        key,
        file,
        hashed,
        expectedSha256,
        ifExists,
        partSize,
        concurrency,
        sse: sseMode,
        kmsKeyId,
        storageClass,
        contentType: key.endsWith('.zip') ? 'application/zip' : 'application/octet-stream',
        metadata: {
          ...(version ? { version } : {}),
          ...(env.GITHUB_SHA && /^[0-9a-f]{40}$/.test(env.GITHUB_SHA)
            ? { 'git-sha': env.GITHUB_SHA }
            : {}),
          ...(runUrl ? { 'run-url': encodeURI(runUrl) } : {}),
        },
        logger: runnerLogger,
      })
    }
    if (expectedSha256 !== undefined && location.sha256 !== expectedSha256) {
      throw new ConfigurationError(
        `input 'expected-sha256': ${location.uri} has sha256 ${location.sha256}, not ` +
          `${expectedSha256}`,
      )
    }
    let presignedUrl = ''
    if (presignMs > 0) {
      const seconds = Math.ceil(presignMs / 1000)
      presignedUrl = await presignDownload(s3, bucket, key, seconds)
      // Masked before anything else (log, outputs) sees it.
      core.setSecret(presignedUrl)
      if (seconds > PRESIGN_WARN_SECONDS) {
        runnerLogger.warning(
          `the presigned URL stays valid for ${seconds}s: until then anyone who can read this ` +
            "deploy's SSM command (ssm:ListCommands, ssm:GetCommandInvocation) can download " +
            "the release with it; keep 'presign-expires' at 15m or less, or use download: instance-role",
        )
      }
      if (aws.roleToAssume !== undefined && seconds > aws.roleDurationSeconds) {
        runnerLogger.warning(
          `the presigned URL stops working when the role session ends, after ${aws.roleDurationSeconds}s, ` +
            `not after ${seconds}s: raise 'role-duration-seconds' to match 'presign-expires'`,
        )
      }
    }
    setOutputs({
      bucket: location.bucket,
      key: location.key,
      uri: location.uri,
      sha256: location.sha256,
      size: String(location.size),
      etag: location.etag,
      'version-id': location.versionId,
      uploaded: location.uploaded,
      'presigned-url': presignedUrl,
    })
  } finally {
    clients.destroy()
  }
})
