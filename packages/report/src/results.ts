// The per-host results the report reads: ssm-deploy's and verify-health's `results` outputs.

/** One instance's deploy result, as ssm-deploy's `results` output has it. */
export interface InstanceResult {
  'instance-id'?: string
  name?: string
  status?: string
  'exit-code'?: number | null
  'previous-version'?: string
  version?: string
  'rolled-back'?: boolean
  'duration-ms'?: number | null
  reason?: string
  output?: string
  /** What the engine warned about on this instance (e.g. hooks running as root). */
  warnings?: unknown
}

/** One health check result (per URL or per instance), as verify-health's `results` has it. */
export interface HealthResult {
  target?: string
  healthy?: boolean
  status?: string | number
  attempts?: number
  'duration-ms'?: number
  detail?: string
}
