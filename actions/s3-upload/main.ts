import { join } from 'node:path'
import * as core from '@actions/core'
import { S3Client } from '@aws-sdk/client-s3'
import {
  ConfigurationError,
  ENVIRONMENT_RULE,
  Inputs,
  VERSION_RULE,
  assertSafeName,
  describeValue,
} from '../../packages/kit/src/index.js'
import { runAction, runnerLogger, setOutputs } from '../../packages/kit/src/github.js'
import { awsClientsFromInputs, readAwsInputs } from '../../packages/kit/src/github-aws.js'
import { downloadWorkflowArtifact } from '../../packages/kit/src/github-artifact.js'
import {
  DEFAULT_KEY_TEMPLATE,
  MAX_PRESIGN_SECONDS,
  findArtifact,
  readRelease,
  parsePartSize,
  presignDownload,
  publishArtifact,
  renderObjectKey,
  validateBucketName,
  validateStorageClass,
  versionPrefix,
  type ArtifactLocation,
  type KeyValues,
} from '../../packages/aws/src/index.js'

/** Downloads the workflow artifact and returns the one file it holds. */
async function artifactFile(name: string): Promise<string> {
  const destination = join(process.env.RUNNER_TEMP ?? process.cwd(), 's3-upload-artifact')
  const files = await downloadWorkflowArtifact(name, destination)
  if (files.length !== 1 || files[0] === undefined) {
    throw new ConfigurationError(
      `input 'artifact-name': workflow artifact ${describeValue(name)} holds ` +
        `${files.length} files, expected the one release zip`,
    )
  }
  return files[0]
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
  if (app !== undefined) assertSafeName("input 'app'", app, VERSION_RULE)
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
  const aws = readAwsInputs(inputs)
  // Downloaded only once every input has been checked.
  const file = artifactName === undefined ? fileInput : await artifactFile(artifactName)
  // Hashing runs while the OIDC token is fetched and the role assumed.
  const hashed = file === undefined ? undefined : readRelease(file)

  const clients = await awsClientsFromInputs({
    component: 's3-upload',
    requestChecksumCalculation: 'WHEN_REQUIRED',
    aws,
    logger: runnerLogger,
  })
  const s3 = clients.client(S3Client)
  try {
    let location: ArtifactLocation
    if (file === undefined) {
      const prefix = versionPrefix('key', template, values)
      location = await findArtifact(s3, { bucket, key, prefix, logger: runnerLogger })
    } else {
      const runUrl =
        env.GITHUB_SERVER_URL && env.GITHUB_REPOSITORY && env.GITHUB_RUN_ID
          ? `${env.GITHUB_SERVER_URL}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}`
          : ''
      location = await publishArtifact(s3, {
        bucket,
        key,
        file,
        hashed,
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
    let presignedUrl = ''
    if (presignMs > 0) {
      const seconds = Math.ceil(presignMs / 1000)
      presignedUrl = await presignDownload(s3, bucket, key, seconds)
      // Masked before anything else (log, outputs) sees it.
      core.setSecret(presignedUrl)
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
