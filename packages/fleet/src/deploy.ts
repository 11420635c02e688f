import type { EC2Client } from '@aws-sdk/client-ec2'
import { errorMessage, type Logger } from '../../kit/src/index.js'
import { renderCommands, type RemoteOptions } from '../../remote/src/index.js'
import {
  FleetCommands,
  WaitAborted,
  deliveryTimeoutFor,
  type FleetCommand,
  type InstanceOutcome,
} from './command.js'
import {
  judgeHosts,
  type DeployResult,
  type JudgedHost,
  type OutputPrinter,
} from './host-results.js'
import { fleetStatus, type FleetStatus, type HostStatus } from './status.js'
import { errorBudget, planWaves, stepsOf } from './wave-plan.js'
import type { GateFailures, Wave, WaveGate } from './waves.js'

export { fleetStatus, type FleetStatus, type HostStatus }

/**
 * How a wave ended: `passed` (the rollout went on; failures stayed within max-errors),
 * `failed` (its failures went past max-errors: the rollout stopped there), `cancelled`,
 * `not-started`; for the revert wave, `reverted` (every host switched back) or `failed`.
 */
export type WaveOutcome = 'passed' | 'failed' | 'cancelled' | 'not-started' | 'reverted'

/** One wave of the run (the `waves` output writes it in kebab-case, at the edge). */
export interface WaveReport {
  /** 1-based position in the plan; 0 for the revert wave (`on-failure: rollback`). */
  wave: number
  instanceIds: string[]
  /** Hosts it deployed (for the revert wave: switched back), gates passed. */
  succeeded: number
  /** Hosts it failed, counted against max-errors (revert wave: hosts not switched back). */
  failed: number
  durationMs: number
  outcome: WaveOutcome
}

/** What a run that stops on errors does with the hosts it already switched. */
export type OnFailure = 'rollback' | 'stop'

export interface DeployReport {
  commandIds: string[]
  status: FleetStatus
  results: DeployResult[]
  succeeded: number
  /** Hosts that failed, failed before the switch, or were cancelled. */
  failed: number
  rolledBack: number
  /** Hosts SSM never ran the command on (it stopped at max-errors). */
  untouched: number
  /** The version that was live before this run: the one to roll back to. */
  previousVersion: string
  /** Instances still running the command when the run was cancelled. */
  interrupted: string[]
  /** Each planned wave in order, then the revert wave when there was one. */
  waves: WaveReport[]
  /** Hosts this run switched that it could not switch back: a human is needed there. */
  revertFailed: string[]
}

export interface FleetDeployOptions {
  instanceIds: readonly string[]
  remote: RemoteOptions
  maxConcurrency: string
  maxErrors: string
  executionTimeoutSeconds: number
  comment?: string | undefined
  outputS3BucketName?: string | undefined
  outputS3KeyPrefix?: string | undefined
  cloudWatchLogGroupName?: string | undefined
  /**
   * `waves`: cumulative sizes, counts or percentages of the fleet (`1, 25%, 100%`); empty or
   * undefined: waves of `maxConcurrency` hosts. See {@link planWaves}.
   */
  waves?: string | undefined
  /**
   * `on-failure`: once failures pass `maxErrors`, `rollback` switches back every host this run
   * switched; `stop` (the default here) leaves them. A run in rollback mode is never reverted.
   */
  onFailure?: OnFailure | undefined
  /** Work around each wave (a load balancer, a bake-time check), in this order. */
  gates?: readonly WaveGate[] | undefined
}

/** The host statuses the `failed` count adds up. */
const FAILED: ReadonlySet<HostStatus> = new Set(['failed', 'failed-before-switch', 'cancelled'])

/** The most common non-empty value, or ''. */
function mostCommon(values: readonly string[]): string {
  const counts = new Map<string, number>()
  for (const value of values) if (value) counts.set(value, (counts.get(value) ?? 0) + 1)
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]?.[0] ?? ''
}

/** Name tags of the instances (best effort: a deploy does not fail for want of a name). */
async function instanceNames(
  ec2: EC2Client | undefined,
  ids: readonly string[],
  logger: Logger,
): Promise<Map<string, string>> {
  const names = new Map<string, string>()
  if (!ec2) return names
  const { DescribeInstancesCommand } = await import('@aws-sdk/client-ec2')
  try {
    for (let i = 0; i < ids.length; i += 1000) {
      const page = await ec2.send(
        new DescribeInstancesCommand({ InstanceIds: ids.slice(i, i + 1000) }),
      )
      for (const instance of (page.Reservations ?? []).flatMap(r => r.Instances ?? [])) {
        const name = instance.Tags?.find(t => t.Key === 'Name')?.Value
        if (instance.InstanceId && name) names.set(instance.InstanceId, name)
      }
    }
  } catch (error) {
    logger.debug(`could not read instance names: ${errorMessage(error)}`)
  }
  return names
}

/** Hosts that serve a release after their wave: deployed, rolled back by themselves, or untouched by a failure before the switch. */
const SERVING: ReadonlySet<HostStatus> = new Set(['success', 'rolled-back', 'failed-before-switch'])

/** Host statuses that count against max-errors. */
const ERRORS: ReadonlySet<HostStatus> = new Set([
  'failed',
  'failed-before-switch',
  'rolled-back',
  'cancelled',
])

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`

/** A host's rollback options: the engine's rollback mode to the previous good release. */
function revertOptions(remote: RemoteOptions): RemoteOptions {
  const {
    version: _version,
    artifactUri: _artifactUri,
    artifactSha256: _artifactSha256,
    download: _download,
    sharedPaths: _sharedPaths,
    beforeSwitch: _beforeSwitch,
    allowDowngrade: _allowDowngrade,
    commit: _commit,
    ...kept
  } = remote
  return { ...kept, mode: 'rollback' }
}

/** Why the rollout stopped, for the reasons of the hosts it left. */
interface Stop {
  wave: Wave
  failures: number
}

/** The state of one run: each host's result as it comes in, and who this run switched. */
class RunState {
  readonly results = new Map<string, DeployResult>()
  readonly switched = new Set<string>()
  readonly waves: WaveReport[] = []
  readonly interrupted: string[] = []
  readonly revertFailed: string[] = []
  private readonly waveOf = new Map<string, number>()

  constructor(plan: readonly (readonly string[])[]) {
    plan.forEach((ids, index) => {
      for (const id of ids) this.waveOf.set(id, index + 1)
    })
  }

  record(judged: readonly JudgedHost[]): void {
    for (const { result, switched } of judged) {
      this.results.set(result.instanceId, {
        ...result,
        wave: this.waveOf.get(result.instanceId) ?? 0,
      })
      if (switched) this.switched.add(result.instanceId)
    }
  }

  /** Marks a host failed by a gate (or left out), keeping what its deploy reported. */
  set(id: string, name: string, status: HostStatus, reason: string): void {
    const known = this.results.get(id)
    this.results.set(id, {
      ...(known ?? {
        instanceId: id,
        name,
        exitCode: null,
        previousVersion: '',
        version: '',
        rolledBack: false,
        durationMs: null,
        warnings: [],
        wave: this.waveOf.get(id) ?? 0,
      }),
      status,
      reason,
    })
  }

  errors(): number {
    let count = 0
    for (const result of this.results.values()) if (ERRORS.has(result.status)) count++
    return count
  }

  statusOf(id: string): HostStatus | undefined {
    return this.results.get(id)?.status
  }
}

/**
 * Deploys (or rolls back) a release on a fleet through SSM, in waves the suite plans for the
 * whole fleet: each wave runs its gates, deploys in steps of at most `max-concurrency` hosts
 * (each step sent at once, in calls of ≤ 50 ids), and is judged before the next starts.
 * Failures count across waves; past `max-errors` nothing more starts, and with
 * `on-failure: rollback` every host this run switched is switched back. Each host is judged by
 * its engine result line; SSM's overall status is never trusted.
 */
export class FleetDeploy {
  private cancelled = false

  constructor(
    private readonly commands: FleetCommands,
    private readonly logger: Logger,
    private readonly ec2?: EC2Client,
  ) {}

  /** Asks the run to stop: pending waits end, the commands in flight are cancelled, no wave starts. */
  cancel(): void {
    this.cancelled = true
  }

  async run(options: FleetDeployOptions, printOutput: OutputPrinter): Promise<DeployReport> {
    const engine = renderCommands(options.remote)
    const ids = options.instanceIds
    const plan = planWaves(ids, options.waves ?? '', options.maxConcurrency)
    const budget = errorBudget(options.maxErrors, ids.length)
    const names = await instanceNames(this.ec2, ids, this.logger)
    const state = new RunState(plan)
    const context = { options, engine, names, printOutput, state, budget }
    let stop: Stop | undefined
    if (plan.length > 1) {
      this.logger.info(
        `${plan.length} waves of ${sizesOf(plan)} host(s); at most ` +
          `${stepsOf(ids, options.maxConcurrency, ids.length)[0]?.length ?? 0} deploy at once, ` +
          `and the rollout stops once more than ${budget} fail (max-errors ${options.maxErrors})`,
      )
    }
    for (const [index, instanceIds] of plan.entries()) {
      const wave: Wave = { number: index + 1, of: plan.length, purpose: 'deploy', instanceIds }
      if (stop || this.cancelled) {
        state.waves.push(this.notStarted(wave))
        for (const id of instanceIds) this.leave(state, id, names, stop)
        continue
      }
      const report = await this.runWave(wave, context)
      state.waves.push(report)
      if (report.outcome === 'failed') stop = { wave, failures: state.errors() }
    }
    const revert = [...state.switched]
    if (stop && revert.length > 0) {
      if (options.onFailure === 'rollback' && options.remote.mode !== 'rollback')
        await this.revert(revert, stop, plan.length, context)
      else
        this.logger.warning(
          `${revert.length} host(s) keep what this run switched them to ` +
            `(${options.remote.mode === 'rollback' ? 'a rollback is never reverted' : `on-failure: ${options.onFailure ?? 'stop'}`}): ${listed(revert)}`,
        )
    }
    return this.summarize(state)
  }

  /** A wave: gates before, its steps while failures stay within max-errors, gates after. */
  private async runWave(wave: Wave, context: RunContext): Promise<WaveReport> {
    const { options, state, budget, names } = context
    const started = Date.now()
    const steps = stepsOf(wave.instanceIds, options.maxConcurrency, options.instanceIds.length)
    this.logger.info(
      `wave ${wave.number} of ${wave.of}: ${wave.instanceIds.length} host(s)` +
        `${steps.length > 1 ? ` in ${steps.length} steps of at most ${steps[0]?.length} at once` : ''}: ${listed(wave.instanceIds)}`,
    )
    const deployable = await this.gatesBefore(wave, options.gates ?? [], (id, reason) =>
      state.set(id, names.get(id) ?? '', 'failed-before-switch', reason),
    )
    for (const step of stepsOf(deployable, options.maxConcurrency, options.instanceIds.length)) {
      if (this.cancelled || state.errors() > budget) {
        const stop = this.cancelled ? undefined : { wave, failures: state.errors() }
        for (const id of step) this.leave(state, id, names, stop)
        continue
      }
      let done: Awaited<ReturnType<FleetDeploy['stepOutcomes']>>
      try {
        done = await this.stepOutcomes(step, context.engine, context)
      } catch (error) {
        // Before any host was judged, the error is the run's; after, the hosts judged so far
        // must still be reported (and switched back): the step's hosts are in an unknown state.
        if (state.results.size === 0) throw error
        this.logger.error(`wave ${wave.number} of ${wave.of}: ${errorMessage(error)}`)
        for (const id of step) {
          state.set(id, names.get(id) ?? '', 'failed', `the command failed: ${errorMessage(error)}`)
        }
        continue
      }
      state.record(done.hosts)
      state.interrupted.push(...done.interrupted)
    }
    const serving = wave.instanceIds.filter(id => SERVING.has(state.statusOf(id) ?? 'untouched'))
    await this.gatesAfter(wave, serving, options.gates ?? [], (id, reason) =>
      state.set(id, names.get(id) ?? '', 'failed', reason),
    )
    const mine = wave.instanceIds.map(id => state.statusOf(id))
    const report: WaveReport = {
      wave: wave.number,
      instanceIds: [...wave.instanceIds],
      succeeded: mine.filter(status => status === 'success').length,
      failed: mine.filter(status => status !== undefined && ERRORS.has(status)).length,
      durationMs: Date.now() - started,
      outcome: this.cancelled ? 'cancelled' : state.errors() > budget ? 'failed' : 'passed',
    }
    this.logger.info(
      `wave ${wave.number} of ${wave.of}: ${report.succeeded} deployed, ${report.failed} failed` +
        `${report.outcome === 'failed' ? ` (more than max-errors ${options.maxErrors} in all: the rollout stops)` : ''}, in ${seconds(report.durationMs)}`,
    )
    return report
  }

  /**
   * The revert wave (`on-failure: rollback`): the hosts this run switched go back to their
   * previous release with the engine's rollback mode, through the same gates, every one of them.
   */
  private async revert(ids: string[], stop: Stop, planned: number, context: RunContext) {
    const { options, state, names } = context
    const started = Date.now()
    const wave: Wave = { number: planned + 1, of: planned + 1, purpose: 'revert', instanceIds: ids }
    const why = `wave ${stop.wave.number} of ${stop.wave.of} took the failures to ${stop.failures}, more than max-errors ${options.maxErrors}`
    this.logger.warning(
      `revert: switching ${ids.length} host(s) back to their previous release (${why}): ${listed(ids)}`,
    )
    const human = (id: string, problem: string) => {
      const result = state.results.get(id)
      state.set(
        id,
        names.get(id) ?? '',
        'failed',
        `deployed ${result?.version || 'the new release'}, then switching back failed (${problem}): a human is needed on this host`,
      )
      state.revertFailed.push(id)
    }
    const reverting = await this.gatesBefore(wave, options.gates ?? [], human)
    const engine = renderCommands(revertOptions(options.remote))
    const back = new Map<string, DeployResult>()
    const failures = new Map<string, string>()
    for (const step of stepsOf(reverting, options.maxConcurrency, options.instanceIds.length)) {
      if (this.cancelled) break
      try {
        for (const { result } of (await this.stepOutcomes(step, engine, context)).hosts)
          back.set(result.instanceId, result)
      } catch (error) {
        this.logger.error(`revert: ${errorMessage(error)}`)
        for (const id of step) failures.set(id, `the command failed: ${errorMessage(error)}`)
      }
    }
    for (const id of reverting) {
      const result = back.get(id)
      if (result?.status === 'success') {
        const deployed = state.results.get(id)
        state.results.set(id, {
          ...(deployed as DeployResult),
          status: 'rolled-back',
          rolledBack: true,
          reason: `${deployed?.status === 'success' ? '' : `${deployed?.reason}; `}switched back to ${result.version || 'its previous release'}: ${why} (on-failure: rollback)`,
        })
      } else
        human(
          id,
          failures.get(id) ??
            (result ? result.reason || result.status : 'the run was cancelled first'),
        )
    }
    const serving = reverting.filter(id => state.statusOf(id) === 'rolled-back')
    await this.gatesAfter(wave, serving, options.gates ?? [], human)
    const failed = ids.filter(id => state.statusOf(id) !== 'rolled-back').length
    const report: WaveReport = {
      wave: 0,
      instanceIds: [...ids],
      succeeded: ids.length - failed,
      failed,
      durationMs: Date.now() - started,
      outcome: failed === 0 ? 'reverted' : 'failed',
    }
    state.waves.push(report)
    const end = `revert: ${report.succeeded} switched back, ${failed} failed, in ${seconds(report.durationMs)}`
    if (failed > 0)
      this.logger.error(`${end}; a human is needed on ${state.revertFailed.join(', ')}`)
    else this.logger.info(end)
  }

  /** Runs the gates before a wave in order; returns the hosts none failed. */
  private async gatesBefore(
    wave: Wave,
    gates: readonly WaveGate[],
    fail: (id: string, reason: string) => void,
  ): Promise<string[]> {
    let remaining = [...wave.instanceIds]
    for (const gate of gates) {
      if (!gate.beforeWave || remaining.length === 0) continue
      const failures = await gate.beforeWave({ ...wave, instanceIds: remaining })
      remaining = this.applyGate(gate, failures, remaining, fail)
    }
    return remaining
  }

  /** Runs the gates after a wave in order, for the hosts that serve a release. */
  private async gatesAfter(
    wave: Wave,
    serving: readonly string[],
    gates: readonly WaveGate[],
    fail: (id: string, reason: string) => void,
  ): Promise<void> {
    let remaining = [...serving]
    for (const gate of gates) {
      if (!gate.afterWave || remaining.length === 0) continue
      remaining = this.applyGate(gate, await gate.afterWave(wave, remaining), remaining, fail)
    }
  }

  private applyGate(
    gate: WaveGate,
    failures: GateFailures,
    hosts: readonly string[],
    fail: (id: string, reason: string) => void,
  ): string[] {
    const kept: string[] = []
    for (const id of hosts) {
      const reason = failures.get(id)
      if (reason === undefined) {
        kept.push(id)
        continue
      }
      this.logger.error(`${id}: ${gate.name}: ${reason}`)
      fail(id, `${gate.name}: ${reason}`)
    }
    return kept
  }

  /**
   * Sends the engine to a step's hosts at once (calls of ≤ 50 ids, SSM's MaxConcurrency the
   * step's size so it holds nothing back) and waits for every verdict.
   */
  private async stepOutcomes(
    ids: readonly string[],
    engine: readonly string[],
    { options, names, printOutput }: RunContext,
  ): Promise<{ hosts: JudgedHost[]; cancelled: boolean; interrupted: string[] }> {
    const all = String(ids.length)
    const command: FleetCommand = {
      instanceIds: ids,
      commands: engine,
      comment: options.comment,
      executionTimeoutSeconds: options.executionTimeoutSeconds,
      deliveryTimeoutSeconds: deliveryTimeoutFor(ids.length, all, options.executionTimeoutSeconds),
      maxConcurrency: all,
      maxErrors: all,
      outputS3BucketName: options.outputS3BucketName,
      outputS3KeyPrefix: options.outputS3KeyPrefix,
      cloudWatchLogGroupName: options.cloudWatchLogGroupName,
    }
    const started = Date.now()
    const byCommand = await this.commands.send(command)
    let outcomes: InstanceOutcome[]
    try {
      outcomes = await this.commands.wait(
        byCommand,
        this.commands.deadlineFor(command, started),
        () => this.cancelled,
      )
    } catch (error) {
      if (!(error instanceof WaitAborted)) {
        // Not a cancellation, and reported as what it is; a cancel asked for meanwhile still holds.
        if (this.cancelled) await this.commands.cancel(byCommand.keys())
        throw error
      }
      await this.commands.cancel(byCommand.keys())
      // One more look, so the report says which hosts were mid-deploy.
      outcomes = await this.commands.wait(byCommand, Date.now() + 15_000)
      const interrupted = outcomes
        .filter(o => o.status === 'Cancelled' || o.status === 'InProgress')
        .map(o => o.instanceId)
      const hosts = await judgeHosts(this.commands, outcomes, names, printOutput, this.logger, true)
      return { hosts, cancelled: true, interrupted }
    }
    // Hosts given up on at the deadline may still run the command: stop it there.
    if (outcomes.some(o => o.kind === 'timed-out')) await this.commands.cancel(byCommand.keys())
    const hosts = await judgeHosts(this.commands, outcomes, names, printOutput, this.logger, false)
    return { hosts, cancelled: false, interrupted: [] }
  }

  /** A host the rollout never started: it keeps its release. */
  private leave(
    state: RunState,
    id: string,
    names: ReadonlyMap<string, string>,
    stop: Stop | undefined,
  ) {
    state.set(
      id,
      names.get(id) ?? '',
      'untouched',
      stop
        ? `not deployed: the rollout stopped at wave ${stop.wave.number} of ${stop.wave.of}, where failures (${stop.failures}) passed 'max-errors'; this host keeps its previous release`
        : 'not deployed: the run was cancelled before this host started; it keeps its previous release',
    )
  }

  private notStarted(wave: Wave): WaveReport {
    return {
      wave: wave.number,
      instanceIds: [...wave.instanceIds],
      succeeded: 0,
      failed: 0,
      durationMs: 0,
      outcome: 'not-started',
    }
  }

  private summarize(state: RunState): DeployReport {
    const results = [...state.results.values()].sort((a, b) =>
      a.instanceId.localeCompare(b.instanceId),
    )
    return {
      commandIds: [...this.commands.commandIds],
      status: fleetStatus(results.map(r => r.status)),
      results,
      succeeded: results.filter(r => r.status === 'success').length,
      failed: results.filter(r => FAILED.has(r.status)).length,
      rolledBack: results.filter(r => r.status === 'rolled-back').length,
      untouched: results.filter(r => r.status === 'untouched').length,
      previousVersion: mostCommon(results.map(r => r.previousVersion)),
      interrupted: state.interrupted,
      waves: state.waves,
      revertFailed: state.revertFailed,
    }
  }
}

/** What every wave of one run shares. */
interface RunContext {
  options: FleetDeployOptions
  engine: readonly string[]
  names: ReadonlyMap<string, string>
  printOutput: OutputPrinter
  state: RunState
  budget: number
}

/** Wave sizes for a log line, runs of one size counted: '1, 49, 200, 250', '120 × 1'. */
function sizesOf(plan: readonly (readonly string[])[]): string {
  const runs: { size: number; count: number }[] = []
  for (const wave of plan) {
    const last = runs.at(-1)
    if (last?.size === wave.length) last.count++
    else runs.push({ size: wave.length, count: 1 })
  }
  return runs.map(run => (run.count > 1 ? `${run.count} × ${run.size}` : `${run.size}`)).join(', ')
}

/** Instance ids for a log line: all of them, or the first few and how many more. */
function listed(ids: readonly string[]): string {
  return ids.length <= 10
    ? ids.join(', ')
    : `${ids.slice(0, 10).join(', ')} and ${ids.length - 10} more`
}
