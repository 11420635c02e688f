import {
  ENVIRONMENT_RULE,
  Inputs,
  VERSION_RULE,
  assertSafeName,
  describeValue,
  invalidInput,
  type NameRule,
} from '../../packages/kit/src/index.js'
import { runAction, runnerLogger, setOutputs } from '../../packages/github/src/index.js'
import { awsClientsFromInputs, readAwsInputs } from '../../packages/github/src/index.js'
import { APP_RULE } from '../../packages/artifact/src/index.js'
import {
  runContext,
  s3Uri,
  validateBucketName,
  validateObjectKey,
  writeDeploymentRecord,
} from '../../packages/release-store/src/index.js'

await runAction(async () => {
  const inputs = new Inputs()
  const status = inputs.required('deploy-status')
  if (status !== 'success') {
    runnerLogger.info(
      `deploy-status is ${describeValue(status)}, not "success": nothing is recorded, so this ` +
        'version cannot be rolled back to from this run',
    )
    setOutputs({ 'record-key': '', recorded: false })
    return
  }
  const named = (name: string, rule: NameRule) =>
    assertSafeName(`input '${name}'`, inputs.required(name), rule)
  const app = named('app', APP_RULE)
  const environment = named('environment', ENVIRONMENT_RULE)
  const version = named('version', VERSION_RULE)
  const bucket = validateBucketName('bucket', inputs.required('bucket'))
  const key = validateObjectKey('key', inputs.required('key'))
  const sha256 = inputs.required('sha256')
  if (!/^[0-9a-f]{64}$/.test(sha256)) {
    throw invalidInput('sha256', sha256, 'use 64 lowercase hex digits')
  }
  inputs.required('size')
  const size = inputs.integer('size', 0, { min: 0 })
  const mode = inputs.enum('mode', ['deploy', 'rollback'], 'deploy')
  const run = runContext(process.env)
  const aws = readAwsInputs(inputs)

  const clients = await awsClientsFromInputs({
    component: 'record-release',
    aws,
    logger: runnerLogger,
  })
  try {
    // The SDK is loaded here, not at start-up: a step that fails on its inputs never loads it.
    const { S3Client } = await import('@aws-sdk/client-s3')
    const written = await writeDeploymentRecord(clients.client(S3Client), {
      bucket,
      record: { app, environment, version, bucket, key, sha256, size, mode, ...run },
      logger: runnerLogger,
    })
    runnerLogger.info(
      `recorded ${mode} of ${version} to ${environment}: ${s3Uri(bucket, written.key)}`,
    )
    setOutputs({ 'record-key': written.key, recorded: true })
  } finally {
    clients.destroy()
  }
})
