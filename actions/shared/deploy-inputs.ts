// The inputs ssm-deploy and verify-health's rollback share, read into the fleet's and the
// engine's typed options. Input names are the action contract; every error names the input.
import { invalidInput, renderTemplate, type Inputs } from '../../packages/kit/src/index.js'
import { workflowRunUrl } from '../../packages/github/src/index.js'
import {
  INSTANCE_ID,
  parseWaveSpec,
  type FleetDeployOptions,
  type OnFailure,
} from '../../packages/fleet/src/index.js'
import {
  BLUE_GREEN_DEFAULTS,
  ENGINE_OPTIONS,
  parseSlotPorts,
  strategyVariables,
  type BlueGreenOptions,
  type CountOption,
  type DurationOption,
  type RemoteOptions,
} from '../../packages/remote/src/index.js'
import { validateBucketName } from '../../packages/release-store/src/index.js'

/** The defaults of `strategy` and blue-green's inputs, the engine's own (durations in ms). */
const STRATEGY_INPUT_DEFAULTS = {
  strategy: BLUE_GREEN_DEFAULTS.strategy,
  'slot-ports': BLUE_GREEN_DEFAULTS.slotPorts.join(','),
  'proxy-reload-command': BLUE_GREEN_DEFAULTS.proxyReloadCommand,
  'drain-time': ENGINE_OPTIONS.drainTime.defaultMs,
  'keep-old-slot': BLUE_GREEN_DEFAULTS.keepOldSlot,
} as const

/**
 * The defaults the shared reader applies, by input name (durations in ms). The engine's come
 * from its one table, ENGINE_OPTIONS; the contract test holds action.yml to these.
 */
export const DEPLOY_INPUT_DEFAULTS = {
  mode: 'deploy',
  'deploy-dir': '/opt/{app}',
  download: 'instance-role',
  'health-version': true,
  'allow-downgrade': false,
  'max-concurrency': '1',
  'max-errors': '0',
  'health-retries': ENGINE_OPTIONS.healthRetries.default,
  'health-interval': ENGINE_OPTIONS.healthInterval.defaultMs,
  'keep-releases': ENGINE_OPTIONS.keepReleases.default,
  'lock-timeout': ENGINE_OPTIONS.lockTimeout.defaultMs,
  ...STRATEGY_INPUT_DEFAULTS,
} as const

/** The defaults of ssm-deploy's rollout inputs (verify-health's rollback has none of them). */
export const ROLLOUT_INPUT_DEFAULTS = {
  'on-failure': 'rollback',
  'bake-time': 0,
} as const

/** ssm-deploy's rollout in waves: `waves` (checked here, so a bad list fails before any send) and `on-failure`. */
export function readRolloutOptions(
  inputs: Inputs,
): Pick<FleetDeployOptions, 'waves' | 'onFailure'> {
  const waves = inputs.string('waves')
  parseWaveSpec(waves, 'waves')
  return {
    waves,
    onFailure: inputs.enum<OnFailure>(
      'on-failure',
      ['rollback', 'stop'],
      ROLLOUT_INPUT_DEFAULTS['on-failure'],
    ),
  }
}

/** The inputs of DEPLOY_INPUT_DEFAULTS that verify-health's rollback declares too. */
export const ROLLBACK_INPUT_DEFAULTS = {
  'deploy-dir': DEPLOY_INPUT_DEFAULTS['deploy-dir'],
  'health-version': DEPLOY_INPUT_DEFAULTS['health-version'],
  'max-concurrency': DEPLOY_INPUT_DEFAULTS['max-concurrency'],
  'max-errors': DEPLOY_INPUT_DEFAULTS['max-errors'],
  'health-retries': DEPLOY_INPUT_DEFAULTS['health-retries'],
  'health-interval': DEPLOY_INPUT_DEFAULTS['health-interval'],
  'keep-releases': DEPLOY_INPUT_DEFAULTS['keep-releases'],
  'lock-timeout': DEPLOY_INPUT_DEFAULTS['lock-timeout'],
  ...STRATEGY_INPUT_DEFAULTS,
} as const

/** A count option of the engine, read within its table range. */
export function readCount(inputs: Inputs, option: CountOption): number {
  return inputs.integer(option.input, option.default, { min: option.min, max: option.max })
}

/** A duration option of the engine (ms), read within its table range; `input` overrides its name. */
export function readDurationMs(
  inputs: Inputs,
  option: DurationOption,
  input = option.input,
): number {
  return inputs.duration(input, option.defaultMs, { minMs: option.minMs, maxMs: option.maxMs })
}

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
function readSsmLimit(inputs: Inputs, name: 'max-concurrency' | 'max-errors'): string {
  const value = inputs.string(name, DEPLOY_INPUT_DEFAULTS[name])
  if (
    !/^(?:[1-9]\d{0,5}|0|[1-9]\d?%|100%)$/.test(value) ||
    (name === 'max-concurrency' && value === '0')
  ) {
    throw invalidInput(name, value, "use a whole number or a percentage such as '1', '10' or '25%'")
  }
  return value
}

const optional = <K extends keyof RemoteOptions>(key: K, value: RemoteOptions[K] | undefined) =>
  value === undefined ? {} : { [key]: value }

/**
 * What only a deploy reads: the artifact, the new release's preparation and the downgrade
 * guard. A rollback switches to a release already on the host, so it reads none of them.
 */
function readDeployOnlyOptions(inputs: Inputs): Partial<RemoteOptions> {
  return {
    ...optional('artifactUri', inputs.optional('artifact-uri')),
    ...optional('artifactSha256', inputs.optional('artifact-sha256')),
    download: inputs.enum(
      'download',
      ['instance-role', 'presigned'],
      DEPLOY_INPUT_DEFAULTS.download,
    ),
    sharedPaths: inputs.list('shared-paths'),
    ...optional('beforeSwitch', inputs.optional('before-switch')),
    allowDowngrade: inputs.boolean('allow-downgrade', DEPLOY_INPUT_DEFAULTS['allow-downgrade']),
  }
}

/**
 * `strategy`, and blue-green's own inputs when it is chosen (in-place reads none of them, so
 * its options stay what they were). A rollback reads them too: it switches back the same way.
 */
function readStrategyOptions(inputs: Inputs): BlueGreenOptions {
  const defaults = STRATEGY_INPUT_DEFAULTS
  const strategy = inputs.enum('strategy', ['in-place', 'blue-green'], defaults.strategy)
  if (strategy === 'in-place') return {}
  return {
    strategy,
    slotPorts: parseSlotPorts(inputs.string('slot-ports', defaults['slot-ports'])),
    ...optional('proxyUpstreamFile', inputs.optional('proxy-upstream-file')),
    proxyReloadCommand: inputs.string('proxy-reload-command', defaults['proxy-reload-command']),
    drainTimeMs: readDurationMs(inputs, ENGINE_OPTIONS.drainTime),
    keepOldSlot: inputs.boolean('keep-old-slot', defaults['keep-old-slot']),
  }
}

/**
 * The host engine's options from the inputs. verify-health forces `mode: rollback`; its target
 * is then input `previous-version` (ssm-deploy's output of that name), and when that is empty
 * the engine returns to the previous good release.
 */
export function readRemoteOptions(
  inputs: Inputs,
  mode?: 'deploy' | 'rollback',
  env: NodeJS.ProcessEnv = process.env,
): RemoteOptions {
  const appName = inputs.optional('app-name')
  const engineMode = mode ?? inputs.enum('mode', ['deploy', 'rollback'], DEPLOY_INPUT_DEFAULTS.mode)
  const options: RemoteOptions = {
    mode: engineMode,
    // A deploy ships the workflow's own commit; a rollback's release was built from another.
    ...optional('commit', engineMode === 'deploy' && env.GITHUB_SHA ? env.GITHUB_SHA : undefined),
    deployDir: renderTemplate(
      'deploy-dir',
      inputs.string('deploy-dir', DEPLOY_INPUT_DEFAULTS['deploy-dir']),
      { app: appName },
    ),
    ...optional('appName', appName),
    ...optional('version', inputs.optional(mode === 'rollback' ? 'previous-version' : 'version')),
    ...optional('environment', inputs.optional('environment')),
    // verify-health's rollback (mode given) declares only what a rollback uses.
    ...(mode === 'rollback' ? {} : readDeployOnlyOptions(inputs)),
    ...optional('runAs', inputs.optional('run-as')),
    ...optional('stopCommand', inputs.optional('stop-command')),
    ...optional('restartCommand', inputs.optional('restart-command')),
    ...optional('healthCommand', inputs.optional('health-command')),
    ...optional('healthUrl', inputs.optional('health-url')),
    healthVersion: inputs.boolean('health-version', DEPLOY_INPUT_DEFAULTS['health-version']),
    healthRetries: readCount(inputs, ENGINE_OPTIONS.healthRetries),
    healthIntervalMs: readDurationMs(inputs, ENGINE_OPTIONS.healthInterval),
    keepReleases: readCount(inputs, ENGINE_OPTIONS.keepReleases),
    lockTimeoutMs: readDurationMs(inputs, ENGINE_OPTIONS.lockTimeout),
    ...optional('runUrl', workflowRunUrl(env)),
    ...readStrategyOptions(inputs),
  }
  // The strategy's rules (health-url's {port}, the upstream file…) fail the step now, before
  // anything runs: verify-health would otherwise meet them only when it has to roll back.
  strategyVariables(options)
  return options
}

/** ssm-deploy's SSM output options: its hosts' full output kept in S3 or CloudWatch Logs. */
function readOutputOptions(
  inputs: Inputs,
): Pick<FleetDeployOptions, 'outputS3BucketName' | 'outputS3KeyPrefix' | 'cloudWatchLogGroupName'> {
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
    outputS3BucketName: outputBucket,
    outputS3KeyPrefix: inputs.optional('output-s3-prefix'),
    cloudWatchLogGroupName: logGroup,
  }
}

/**
 * Everything a fleet deploy (or rollback) needs, from the inputs. `timeoutInput` names the
 * input holding the engine's execution timeout (verify-health's `timeout` is its own check's).
 */
export function readFleetDeployOptions(
  inputs: Inputs,
  mode?: 'deploy' | 'rollback',
  timeoutInput: string = ENGINE_OPTIONS.executionTimeout.input,
  env: NodeJS.ProcessEnv = process.env,
): FleetDeployOptions {
  const remote = readRemoteOptions(inputs, mode, env)
  const output = mode === 'rollback' ? {} : readOutputOptions(inputs)
  return {
    instanceIds: readInstanceIds(inputs),
    remote,
    maxConcurrency: readSsmLimit(inputs, 'max-concurrency'),
    maxErrors: readSsmLimit(inputs, 'max-errors'),
    executionTimeoutSeconds: Math.ceil(
      readDurationMs(inputs, ENGINE_OPTIONS.executionTimeout, timeoutInput) / 1000,
    ),
    comment: `${remote.mode} ${remote.version ?? ''} ${env.GITHUB_REPOSITORY ?? ''}`.trim(),
    outputS3BucketName: undefined,
    outputS3KeyPrefix: undefined,
    cloudWatchLogGroupName: undefined,
    ...output,
  }
}
