// The per-host `results` outputs and ssm-deploy's `waves` as the contract names them
// (kebab-case JSON), made here at the edge from the domain's camelCase results, and read back
// by the summary. One key table per shape, in the order the outputs write the keys, so every
// output's JSON stays byte for byte.
import type { HealthResult, InstanceResult, WaveResult } from '../../packages/report/src/index.js'

/** A results entry as its JSON has it. */
export type ResultJson = Record<string, unknown>

/** ssm-deploy's `results` and verify-health's `rollback-results` (fleet's DeployResult fits). */
const INSTANCE_KEYS = {
  instanceId: 'instance-id',
  name: 'name',
  status: 'status',
  exitCode: 'exit-code',
  previousVersion: 'previous-version',
  version: 'version',
  rolledBack: 'rolled-back',
  durationMs: 'duration-ms',
  reason: 'reason',
  warnings: 'warnings',
  output: 'output',
  wave: 'wave',
} as const satisfies Record<keyof InstanceResult, string>

/** ssm-deploy's `waves` (fleet's WaveReport fits). */
const WAVE_KEYS = {
  wave: 'wave',
  instanceIds: 'instances',
  succeeded: 'succeeded',
  failed: 'failed',
  durationMs: 'duration-ms',
  outcome: 'outcome',
} as const satisfies Record<keyof WaveResult, string>

/** verify-health's `results` (health's TargetResult fits). */
const HEALTH_KEYS = {
  target: 'target',
  healthy: 'healthy',
  status: 'status',
  attempts: 'attempts',
  durationMs: 'duration-ms',
  detail: 'detail',
} as const satisfies Record<keyof HealthResult, string>

type KeyTable = Readonly<Record<string, string>>

/** The entry's JSON: each field under its output key; fields that are undefined are left out. */
function toJson(value: object, keys: KeyTable): ResultJson {
  const json: ResultJson = {}
  for (const [field, key] of Object.entries(keys)) {
    const item = (value as Record<string, unknown>)[field]
    if (item !== undefined) json[key] = item
  }
  return json
}

/**
 * The entry read back from its JSON. Values are taken as they are: the report checks the type of
 * each where it uses it, so a malformed entry still shows what it can. Unknown keys are dropped.
 */
function fromJson(json: object, keys: KeyTable): Record<string, unknown> {
  const value: Record<string, unknown> = {}
  for (const [field, key] of Object.entries(keys)) {
    if (Object.hasOwn(json, key)) value[field] = (json as Record<string, unknown>)[key]
  }
  return value
}

/** Per-instance deploy results as the `results` output writes them. */
export function instanceResultsToJson(results: readonly InstanceResult[]): ResultJson[] {
  return results.map(result => toJson(result, INSTANCE_KEYS))
}

/** Health check results as verify-health's `results` output writes them. */
export function healthResultsToJson(results: readonly HealthResult[]): ResultJson[] {
  return results.map(result => toJson(result, HEALTH_KEYS))
}

/** The rollout's waves as ssm-deploy's `waves` output writes them. */
export function waveResultsToJson(waves: readonly WaveResult[]): ResultJson[] {
  return waves.map(wave => toJson(wave, WAVE_KEYS))
}

/** One entry of a `waves` input (ssm-deploy's `waves`), for the report. */
export function waveResultFromJson(json: object): WaveResult {
  return fromJson(json, WAVE_KEYS) as WaveResult
}

/** One entry of a `deploy-results` input (ssm-deploy's `results`), for the report. */
export function instanceResultFromJson(json: object): InstanceResult {
  return fromJson(json, INSTANCE_KEYS) as InstanceResult
}

/** One entry of a `health-results` input (verify-health's `results`), for the report. */
export function healthResultFromJson(json: object): HealthResult {
  return fromJson(json, HEALTH_KEYS) as HealthResult
}
