// The contract between a rollout in waves (FleetDeploy) and the work that surrounds each wave:
// a load balancer's drain and re-registration, a bake-time check. Types only: the rollout
// and each gate live in their own files.

/** One wave of a rollout: the hosts that deploy together, and where it sits in the plan. */
export interface Wave {
  /** 1-based position in the plan. */
  number: number
  /** How many waves the plan has. */
  of: number
  /** `revert` is the run switching hosts it already deployed back (`on-failure: rollback`). */
  purpose: 'deploy' | 'revert'
  instanceIds: readonly string[]
}

/** Hosts a gate failed, each with a sentence saying why (for the log and the results). */
export type GateFailures = ReadonlyMap<string, string>

/**
 * Work around each wave. Gates run in their given order before a wave, and in the same order
 * after it. A gate that throws fails the run (an outage or a bug, not a host's fault).
 */
export interface WaveGate {
  /** For the log: 'load balancer', 'bake'. */
  readonly name: string
  /** Before the wave deploys. A host it fails is not deployed, and counts against max-errors. */
  beforeWave?(wave: Wave): Promise<GateFailures>
  /**
   * After the wave, for its hosts that serve a release: deployed, rolled back by themselves, or
   * failed before the switch. A host it fails counts as failed, against max-errors.
   */
  afterWave?(wave: Wave, serving: readonly string[]): Promise<GateFailures>
}
