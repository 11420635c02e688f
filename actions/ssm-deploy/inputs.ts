import {
  ConfigurationError,
  Inputs,
  describeValue,
  envInputSource,
  invalidInput,
  type InputSource,
} from '../../packages/kit/src/index.js'
import {
  AWS_INPUT_DEFAULTS,
  readAwsInputs,
  type AwsInputs,
} from '../../packages/github/src/index.js'
import { TARGET_GROUP_ARN, type FleetDeployOptions } from '../../packages/fleet/src/index.js'
import { ENGINE_OPTIONS, type RemoteOptions } from '../../packages/remote/src/index.js'
import { validateBucketName } from '../../packages/release-store/src/index.js'
import {
  DEPLOY_INPUT_DEFAULTS,
  ROLLOUT_INPUT_DEFAULTS,
  readFleetDeployOptions,
  readRolloutOptions,
} from '../shared/deploy-inputs.js'

/** ssm-deploy's inputs, parsed and checked. */
export interface SsmDeployInputs {
  /**
   * The fleet deploy: `instance-ids`, `max-concurrency`, `max-errors`, `timeout`, the SSM
   * output options, and the engine's options (`mode`, `version`, `artifact-uri`, hooks…).
   */
  deploy: FleetDeployOptions
  /** The common AWS inputs (`aws-region`, `role-to-assume`…). */
  aws: AwsInputs
  /**
   * `bake-time` in ms: after each deploy wave but the last, wait this long, then check the
   * wave's hosts with health-url and health-command over SSM. 0: no bake.
   */
  bakeTimeMs: number
  /**
   * With `record-engine: true`: where the release's rendered engine is stored before the
   * SSM command is sent, for the hosts that converge to the desired release later.
   */
  recordEngine?: EngineStoreTarget
  /** With `target-group-arns`: the target groups each wave leaves and rejoins. */
  loadBalancer?: LoadBalancerInputs
}

/** The ELBv2 target groups around each wave, and how long a wave's hosts may drain. */
export interface LoadBalancerInputs {
  targetGroupArns: string[]
  drainTimeoutMs: number
}

/** The artifact's bucket, and the app and environment whose `engine/` prefix gets the engine. */
export interface EngineStoreTarget {
  bucket: string
  app: string
  environment: string
}

/** The defaults of ssm-deploy's inputs by name (durations in ms), as action.yml declares them. */
export const INPUT_DEFAULTS = {
  ...DEPLOY_INPUT_DEFAULTS,
  ...ROLLOUT_INPUT_DEFAULTS,
  'record-engine': false,
  timeout: ENGINE_OPTIONS.executionTimeout.defaultMs,
  'drain-timeout': 360_000,
  ...AWS_INPUT_DEFAULTS,
}

/** The longest bake: a GitHub job runs at most 6 hours. */
const BAKE_TIME_MAX_MS = 6 * 3600_000

/** ELBv2's longest deregistration delay is one hour: waiting longer never helps. */
const MAX_DRAIN_TIMEOUT_MS = 3_600_000

/** Reads and checks every input; throws a ConfigurationError naming the first bad one. */
export function getInputs(
  source: InputSource = envInputSource(),
  env: NodeJS.ProcessEnv = process.env,
): SsmDeployInputs {
  const inputs = new Inputs(source)
  const deploy = {
    ...readFleetDeployOptions(inputs, undefined, 'timeout', env),
    ...readRolloutOptions(inputs),
  }
  const recordEngine = inputs.boolean('record-engine', INPUT_DEFAULTS['record-engine'])
  const loadBalancer = readLoadBalancer(inputs)
  return {
    deploy,
    aws: readAwsInputs(inputs),
    bakeTimeMs: inputs.duration('bake-time', INPUT_DEFAULTS['bake-time'], {
      maxMs: BAKE_TIME_MAX_MS,
    }),
    ...(recordEngine ? { recordEngine: engineStoreTarget(deploy.remote) } : {}),
    ...(loadBalancer ? { loadBalancer } : {}),
  }
}

/** `target-group-arns` (commas or newlines) and, with them, `drain-timeout`. */
function readLoadBalancer(inputs: Inputs): LoadBalancerInputs | undefined {
  const arns = [...new Set(inputs.list('target-group-arns'))]
  if (arns.length === 0) return undefined
  for (const arn of arns) {
    if (!TARGET_GROUP_ARN.test(arn))
      throw invalidInput(
        'target-group-arns',
        arn,
        'use ELBv2 target group ARNs such as ' +
          "'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef', " +
          'separated by commas or newlines',
      )
  }
  return {
    targetGroupArns: arns,
    drainTimeoutMs: inputs.duration('drain-timeout', INPUT_DEFAULTS['drain-timeout'], {
      maxMs: MAX_DRAIN_TIMEOUT_MS,
    }),
  }
}

/**
 * Where `record-engine` stores the engine: the artifact's bucket, under the app's and the
 * environment's prefix. A host fetches the engine and the artifact with its own role, so
 * only `download: instance-role` can be recorded.
 */
function engineStoreTarget(remote: RemoteOptions): EngineStoreTarget {
  const needed: [string, string | undefined][] = [
    ['app-name', remote.appName],
    ['environment', remote.environment],
    ['version', remote.version],
    ['artifact-uri', remote.artifactUri],
  ]
  for (const [name, value] of needed) {
    if (value === undefined) {
      throw new ConfigurationError(
        `input 'record-engine' is true but input '${name}' is empty: a stored engine needs ` +
          'app-name, environment, version and artifact-uri',
      )
    }
  }
  if (remote.download !== 'instance-role') {
    throw new ConfigurationError(
      `input 'record-engine' is true but input 'download' is ${describeValue(remote.download ?? '')}: ` +
        "a stored engine is run later by hosts with their own role, so use download 'instance-role'",
    )
  }
  const bucket = /^s3:\/\/([^/]+)\//.exec(remote.artifactUri ?? '')?.[1] ?? ''
  return {
    bucket: validateBucketName('artifact-uri', bucket),
    app: remote.appName!,
    environment: remote.environment!,
  }
}
