// The per-host results the report reads: ssm-deploy's and verify-health's `results` outputs,
// read back from their JSON by the summary action (actions/shared/results-json.ts). The values
// come from a workflow's inputs: the report checks their types where it uses them.

/** One instance's deploy result, as ssm-deploy's `results` output has it. */
export interface InstanceResult {
  instanceId?: string | undefined
  name?: string | undefined
  status?: string | undefined
  exitCode?: number | null | undefined
  previousVersion?: string | undefined
  version?: string | undefined
  rolledBack?: boolean | undefined
  durationMs?: number | null | undefined
  reason?: string | undefined
  output?: string | undefined
  /** What the engine warned about on this instance (e.g. hooks running as root). */
  warnings?: unknown
  /** The wave of ssm-deploy's rollout the instance was planned in (1-based). */
  wave?: number | undefined
}

/**
 * One wave of ssm-deploy's rollout, as its `waves` output has it: `wave` is 1-based, 0 for
 * the revert wave of `on-failure: rollback`; `outcome` is `passed`, `failed`, `cancelled`,
 * `not-started`, or `reverted` for the revert wave.
 */
export interface WaveResult {
  wave?: number | undefined
  instanceIds?: unknown
  succeeded?: number | undefined
  failed?: number | undefined
  durationMs?: number | undefined
  outcome?: string | undefined
}

/** One health check result (per URL or per instance), as verify-health's `results` has it. */
export interface HealthResult {
  target?: string | undefined
  healthy?: boolean | undefined
  status?: string | number | undefined
  attempts?: number | undefined
  durationMs?: number | undefined
  detail?: string | undefined
}
