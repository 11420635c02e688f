import { validateBucketName } from '../../release-store/src/index.js'
import { invalidInput, renderTemplate, type Inputs } from '../../kit/src/index.js'
import type { RemoteOptions } from '../../remote/src/index.js'
import type { FleetDeployOptions } from './deploy.js'

// Reads the inputs that ssm-deploy and verify-health's rollback share into typed options.
// Input names are the action contract; every error names the input.

const INSTANCE_ID = /^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$/

/** find-instance's JSON array, or ids separated by commas or newlines. */
export function readInstanceIds(inputs: Inputs): string[] {
  const raw = inputs.required('instance-ids')
  const ids = raw.startsWith('[')
    ? inputs.json<unknown>('instance-ids', [])
    : inputs.list('instance-ids')
  if (!Array.isArray(ids) || ids.length === 0) {
    throw invalidInput(
      'instance-ids',
      raw,
      'use a JSON array of instance ids, or ids separated by commas',
    )
  }
  for (const id of ids) {
    if (typeof id !== 'string' || !INSTANCE_ID.test(id)) {
      throw invalidInput(
        'instance-ids',
        String(id),
        "use instance ids: 'i-' and 8 or 17 hex digits",
      )
    }
  }
  return [...new Set(ids as string[])]
}

/** SSM MaxConcurrency / MaxErrors: a count or a percentage. */
function readSsmLimit(inputs: Inputs, name: string, fallback: string): string {
  const value = inputs.string(name, fallback)
  if (
    !/^(?:[1-9]\d{0,5}|0|[1-9]\d?%|100%)$/.test(value) ||
    (name === 'max-concurrency' && value === '0')
  ) {
    throw invalidInput(name, value, "use a whole number or a percentage such as '1', '10' or '25%'")
  }
  return value
}

/**
 * The host engine's options from the inputs. verify-health forces `mode: rollback`; its target
 * is then input `previous-version` (ssm-deploy's output of that name), and when that is empty
 * the engine returns to the previous good release.
 */
export function readRemoteOptions(inputs: Inputs, mode?: 'deploy' | 'rollback'): RemoteOptions {
  const appName = inputs.optional('app-name')
  const {
    GITHUB_SERVER_URL: server,
    GITHUB_REPOSITORY: repository,
    GITHUB_RUN_ID: runId,
    GITHUB_SHA: sha,
  } = process.env
  const optional = <K extends keyof RemoteOptions>(key: K, value: RemoteOptions[K] | undefined) =>
    value === undefined ? {} : { [key]: value }
  const engineMode = mode ?? inputs.enum('mode', ['deploy', 'rollback'], 'deploy')
  return {
    mode: engineMode,
    // A deploy ships the workflow's own commit; a rollback's release was built from another.
    ...optional('commit', engineMode === 'deploy' && sha ? sha : undefined),
    deployDir: renderTemplate('deploy-dir', inputs.string('deploy-dir', '/opt/{app}'), {
      app: appName,
    }),
    ...optional('appName', appName),
    ...optional('version', inputs.optional(mode === 'rollback' ? 'previous-version' : 'version')),
    ...optional('environment', inputs.optional('environment')),
    ...optional('artifactUri', inputs.optional('artifact-uri')),
    ...optional('artifactSha256', inputs.optional('artifact-sha256')),
    download: inputs.enum('download', ['instance-role', 'presigned'], 'instance-role'),
    ...optional('runAs', inputs.optional('run-as')),
    sharedPaths: inputs.list('shared-paths'),
    ...optional('beforeSwitch', inputs.optional('before-switch')),
    ...optional('stopCommand', inputs.optional('stop-command')),
    ...optional('restartCommand', inputs.optional('restart-command')),
    ...optional('healthCommand', inputs.optional('health-command')),
    ...optional('healthUrl', inputs.optional('health-url')),
    healthVersion: inputs.boolean('health-version', true),
    healthRetries: inputs.integer('health-retries', 10, { min: 1, max: 1000 }),
    healthIntervalMs: inputs.duration('health-interval', 2000, { minMs: 100, maxMs: 600_000 }),
    keepReleases: inputs.integer('keep-releases', 5, { min: 1, max: 100 }),
    lockTimeoutMs: inputs.duration('lock-timeout', 600_000, { minMs: 0, maxMs: 86_400_000 }),
    allowDowngrade: inputs.boolean('allow-downgrade', false),
    ...optional(
      'runUrl',
      server && repository && runId ? `${server}/${repository}/actions/runs/${runId}` : undefined,
    ),
  }
}

/**
 * Everything a fleet deploy (or rollback) needs, from the inputs. `timeoutInput` names the
 * input holding the engine's execution timeout (verify-health's `timeout` is its own check's).
 */
export function readFleetDeployOptions(
  inputs: Inputs,
  mode?: 'deploy' | 'rollback',
  timeoutInput = 'timeout',
): FleetDeployOptions {
  const remote = readRemoteOptions(inputs, mode)
  const outputBucket = inputs.optional('output-s3-bucket')
  if (outputBucket !== undefined) validateBucketName('output-s3-bucket', outputBucket)
  const logGroup = inputs.optional('cloudwatch-log-group')
  if (logGroup !== undefined && !/^[.\-_/#A-Za-z0-9]{1,512}$/.test(logGroup)) {
    throw invalidInput(
      'cloudwatch-log-group',
      logGroup,
      "use letters, digits and '.', '-', '_', '/', '#'",
    )
  }
  return {
    instanceIds: readInstanceIds(inputs),
    remote,
    maxConcurrency: readSsmLimit(inputs, 'max-concurrency', '1'),
    maxErrors: readSsmLimit(inputs, 'max-errors', '0'),
    executionTimeoutSeconds: Math.ceil(
      inputs.duration(timeoutInput, 1_800_000, { minMs: 1000, maxMs: 172_800_000 }) / 1000,
    ),
    comment: `${remote.mode} ${remote.version ?? ''} ${process.env.GITHUB_REPOSITORY ?? ''}`.trim(),
    outputS3BucketName: outputBucket,
    outputS3KeyPrefix: inputs.optional('output-s3-prefix'),
    cloudWatchLogGroupName: logGroup,
  }
}
