// The engine's numeric options: one range and one default each, used by the actions that
// read them (ssm-deploy, verify-health's rollback) and by the renderer that checks them.

/** A whole-number option: its input name, default and inclusive range. */
export interface CountOption {
  input: string
  default: number
  min: number
  max: number
}

/** A duration option, in milliseconds: its input name, default and inclusive range. */
export interface DurationOption {
  input: string
  defaultMs: number
  minMs: number
  maxMs: number
}

/**
 * The engine's numeric options. The defaults match engine.sh's own and action.yml's.
 * `health-retries` stops at 100: with the delay doubling up to 4× `health-interval`, 100
 * attempts already outlast any sensible execution timeout.
 */
export const ENGINE_OPTIONS = {
  healthRetries: { input: 'health-retries', default: 10, min: 1, max: 100 },
  healthInterval: { input: 'health-interval', defaultMs: 2000, minMs: 100, maxMs: 600_000 },
  keepReleases: { input: 'keep-releases', default: 5, min: 1, max: 100 },
  lockTimeout: { input: 'lock-timeout', defaultMs: 600_000, minMs: 0, maxMs: 86_400_000 },
  /** How long SSM lets the engine run on one host (SendCommand's executionTimeout). */
  executionTimeout: { input: 'timeout', defaultMs: 1_800_000, minMs: 1000, maxMs: 172_800_000 },
  /** Blue-green: how long the old slot keeps running after the switch, for its requests to end. */
  drainTime: { input: 'drain-time', defaultMs: 10_000, minMs: 0, maxMs: 3_600_000 },
} as const satisfies Record<string, CountOption | DurationOption>
