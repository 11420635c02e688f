import {
  ConfigurationError,
  Inputs,
  envInputSource,
  renderTemplate,
  type InputSource,
} from '../../packages/kit/src/index.js'
import {
  AWS_INPUT_DEFAULTS,
  readAwsInputs,
  type AwsInputs,
} from '../../packages/github/src/index.js'
import type { FleetDeployOptions } from '../../packages/fleet/src/index.js'
import {
  parseBodyExpectation,
  parseStatuses,
  parseUrls,
  parseVersionSource,
  type CheckTiming,
  type HttpExpectation,
} from '../../packages/health/src/index.js'
import { ENGINE_OPTIONS } from '../../packages/remote/src/index.js'
import {
  ROLLBACK_INPUT_DEFAULTS,
  readFleetDeployOptions,
  readInstanceIds,
} from '../shared/deploy-inputs.js'

/** verify-health's inputs, parsed and checked. */
export interface VerifyHealthInputs {
  /** `retries`, `interval`, `initial-delay`, `attempt-timeout` and `timeout`. */
  timing: CheckTiming
  /** With `via: http`: `urls` ({environment} and {app} filled in) and what they must answer. */
  http?: { urls: string[]; expect: HttpExpectation }
  /** With `via: ssm`: `instance-ids` and the `command` run on each. */
  ssm?: { instanceIds: string[]; command: string }
  /**
   * With `rollback-on-failure: true`: the rollback through the release engine (target
   * `previous-version`, `rollback-timeout`, and the engine's inputs it shares with ssm-deploy).
   */
  rollback?: FleetDeployOptions
  /** The common AWS inputs; read only when SSM is used (via: ssm, or a rollback). */
  aws?: AwsInputs
}

/** The defaults of verify-health's inputs by name (durations in ms), as action.yml declares them. */
export const INPUT_DEFAULTS = {
  via: 'http',
  'expect-status': '200',
  'version-source': 'auto',
  retries: 10,
  interval: 3000,
  'initial-delay': 0,
  'attempt-timeout': 10_000,
  timeout: 300_000,
  'rollback-on-failure': false,
  ...ROLLBACK_INPUT_DEFAULTS,
  'rollback-timeout': ENGINE_OPTIONS.executionTimeout.defaultMs,
  ...AWS_INPUT_DEFAULTS,
} as const

function readTiming(inputs: Inputs): CheckTiming {
  const d = INPUT_DEFAULTS
  return {
    retries: inputs.integer('retries', d.retries, { min: 1, max: 1000 }),
    intervalMs: inputs.duration('interval', d.interval, { minMs: 10, maxMs: 600_000 }),
    initialDelayMs: inputs.duration('initial-delay', d['initial-delay'], {
      minMs: 0,
      maxMs: 3_600_000,
    }),
    attemptTimeoutMs: inputs.duration('attempt-timeout', d['attempt-timeout'], {
      minMs: 100,
      maxMs: 3_600_000,
    }),
    timeoutMs: inputs.duration('timeout', d.timeout, { minMs: 1000, maxMs: 86_400_000 }),
  }
}

function readHttp(inputs: Inputs): NonNullable<VerifyHealthInputs['http']> {
  const urls = parseUrls(
    'urls',
    inputs.list('urls').map(url =>
      renderTemplate('urls', url, {
        environment: inputs.optional('environment'),
        app: inputs.optional('app-name'),
      }),
    ),
  )
  const expect = {
    statuses: parseStatuses(
      'expect-status',
      inputs.string('expect-status', INPUT_DEFAULTS['expect-status']),
    ),
    body: parseBodyExpectation('expect-body', inputs.optional('expect-body')),
    version: inputs.optional('expect-version'),
    versionSource: parseVersionSource(
      'version-source',
      inputs.string('version-source', INPUT_DEFAULTS['version-source']),
    ),
  }
  if (urls.length === 0) throw new ConfigurationError("input 'urls' is required with via: http")
  return { urls, expect }
}

/**
 * Reads and checks every input before anything is checked, so a bad input never leaves
 * hosts half-handled; throws a ConfigurationError naming the first bad one.
 */
export function getInputs(
  source: InputSource = envInputSource(),
  env: NodeJS.ProcessEnv = process.env,
): VerifyHealthInputs {
  const inputs = new Inputs(source)
  const via = inputs.enum('via', ['http', 'ssm'], INPUT_DEFAULTS.via)
  const timing = readTiming(inputs)
  const rollback = inputs.boolean('rollback-on-failure', INPUT_DEFAULTS['rollback-on-failure'])
    ? readFleetDeployOptions(inputs, 'rollback', 'rollback-timeout', env)
    : undefined
  const http = via === 'http' ? readHttp(inputs) : undefined
  const ssm =
    via === 'ssm'
      ? { instanceIds: readInstanceIds(inputs), command: inputs.required('command') }
      : undefined
  const aws = ssm || rollback ? readAwsInputs(inputs) : undefined
  return {
    timing,
    ...(http ? { http } : {}),
    ...(ssm ? { ssm } : {}),
    ...(rollback ? { rollback } : {}),
    ...(aws ? { aws } : {}),
  }
}
