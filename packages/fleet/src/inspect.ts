// What runs where: the read-only status probe sent to the instances find-instance finds, each
// host's line parsed (hostile output) and judged against the environment's desired version.
import { errorMessage, type Logger } from '../../kit/src/index.js'
import {
  parseStatusLine,
  statusCommands,
  versionOfRelease,
  type HostState,
  type LastDeploy,
  type LockHolder,
  type ReleaseOnHost,
} from '../../remote/src/index.js'
import type { FleetCommands, InstanceOutcome } from './command.js'
import { offlineReason, type Discovery, type FoundInstance } from './discover.js'

/**
 * How one host stands, in the order it is judged:
 * - `offline`: its agent is not online, or the probe could not be delivered or timed out;
 * - `unreadable`: no well-formed status line, or a layout root must not read (a symlink, a
 *   directory others can write), or `current` is not a release of the engine;
 * - `locked`: a deploy holds the lock now (who, since when);
 * - `no-release`: nothing is live (no deploy dir, or no `current`);
 * - `drifted`: the live version is not the desired one (desired.json);
 * - `ok`: anything else (the desired version, or no desired.json to compare with).
 */
export type HostCondition = 'ok' | 'drifted' | 'locked' | 'offline' | 'no-release' | 'unreadable'

/** One host's status, as the status action reports it. */
export interface HostStatusReport {
  instanceId: string
  name: string
  state: HostCondition
  /** Why it is not ok, for a person ('' when ok). */
  reason: string
  pingStatus: string
  /** The version `current` points to ('' when none or unknown). */
  liveVersion: string
  /** The release id `current` points to. */
  release: string
  /** The releases on disk, oldest first, with their last outcome in the host's history. */
  releases: ReleaseOnHost[]
  /** Versions of good releases on disk other than the live one, newest first: rollback targets. */
  rollbackVersions: string[]
  lastDeploy: LastDeploy | undefined
  lock: LockHolder | undefined
  liveSlot: string | undefined
  /** Live version ≠ desired; undefined when either is unknown (offline, unreadable, no desired.json). */
  drift: boolean | undefined
}

/** Options of {@link inspectFleet}. */
export interface InspectOptions {
  /** The deploy dir on the hosts (ssm-deploy's `deploy-dir`). */
  deployDir: string
  /** The environment's desired version; undefined: no drift is judged. */
  desiredVersion: string | undefined
  /** How long the probe may run on a host, and an agent may take to pick it up. */
  timeoutSeconds: number
}

/** Judges one host from its probe's state. */
export function judgeHost(
  state: HostState,
  desiredVersion: string | undefined,
): Pick<HostStatusReport, 'state' | 'reason' | 'drift'> {
  const live = versionOfRelease(state.current)
  const drift = desiredVersion === undefined ? undefined : live !== desiredVersion
  if (state.problem !== undefined) {
    return { state: 'unreadable', reason: state.problem, drift: undefined }
  }
  if (state.currentProblem !== undefined) {
    return { state: 'unreadable', reason: state.currentProblem, drift: undefined }
  }
  if (state.lock !== undefined) {
    const since = state.lock.since ? ` since ${state.lock.since}` : ''
    return { state: 'locked', reason: `a deploy holds the lock${since}`, drift }
  }
  if (!state.deployDirPresent || state.current === '') {
    const reason = state.deployDirPresent ? 'no release is live (no current)' : 'no deploy dir'
    return { state: 'no-release', reason, drift }
  }
  if (drift) {
    return { state: 'drifted', reason: `runs ${live}, desired is ${desiredVersion}`, drift }
  }
  return { state: 'ok', reason: '', drift }
}

/** Good releases on disk other than the live one, as versions, newest first, once each. */
function rollbackVersions(state: HostState): string[] {
  const good = state.releases.filter(r => r.status === 'good' && r.release !== state.current)
  return [...new Set(good.map(r => r.version).reverse())]
}

function unknownHost(
  instance: FoundInstance,
  state: HostCondition,
  reason: string,
): HostStatusReport {
  return {
    instanceId: instance.id,
    name: instance.name,
    state,
    reason,
    pingStatus: instance.pingStatus,
    liveVersion: '',
    release: '',
    releases: [],
    rollbackVersions: [],
    lastDeploy: undefined,
    lock: undefined,
    liveSlot: undefined,
    drift: undefined,
  }
}

/**
 * Sends the read-only probe to the online instances (in SendCommand calls of ≤ 50), reads each
 * host's line, and judges every instance; the offline ones that discovery skipped are
 * reported offline without a send. Sorted by instance id.
 */
export async function inspectFleet(
  commands: FleetCommands,
  found: Discovery,
  options: InspectOptions,
  logger: Logger,
): Promise<HostStatusReport[]> {
  const probe = statusCommands(options.deployDir)
  const reports = found.skipped.map(i => unknownHost(i, 'offline', offlineReason(i)))
  if (found.instances.length > 0) {
    const command = {
      instanceIds: found.instances.map(i => i.id),
      commands: probe,
      comment: 'ec2-deploy-actions status (read-only)',
      executionTimeoutSeconds: options.timeoutSeconds,
      deliveryTimeoutSeconds: Math.max(30, options.timeoutSeconds),
      maxConcurrency: '100%',
      maxErrors: '100%',
    }
    const outcomes = await commands.wait(
      await commands.send(command),
      commands.deadlineFor(command, Date.now()),
    )
    if (outcomes.some(o => o.kind === 'timed-out')) await commands.cancelAll()
    const byId = new Map(found.instances.map(i => [i.id, i]))
    for (const outcome of outcomes) {
      const instance = byId.get(outcome.instanceId) as FoundInstance
      reports.push(await reportOf(commands, instance, outcome, options, logger))
    }
  }
  return reports.sort((a, b) => a.instanceId.localeCompare(b.instanceId))
}

async function reportOf(
  commands: FleetCommands,
  instance: FoundInstance,
  outcome: InstanceOutcome,
  options: InspectOptions,
  logger: Logger,
): Promise<HostStatusReport> {
  if (outcome.kind === 'undeliverable' || outcome.kind === 'timed-out') {
    return unknownHost(instance, 'offline', outcome.reason)
  }
  let state = parseStatusLine(outcome.outputHead)
  if (state === undefined && outcome.status !== 'Missing') {
    // ListCommandInvocations keeps 2,500 characters; GetCommandInvocation 24,000.
    try {
      state = parseStatusLine((await commands.output(outcome.commandId, instance.id)).stdout)
    } catch (error) {
      logger.debug(`GetCommandInvocation ${instance.id}: ${errorMessage(error)}`)
    }
  }
  if (state === undefined) {
    const why = outcome.verdict === 'success' ? 'the host printed no status line' : outcome.reason
    return unknownHost(instance, 'unreadable', why)
  }
  return {
    ...unknownHost(instance, 'ok', ''),
    ...judgeHost(state, options.desiredVersion),
    liveVersion: versionOfRelease(state.current),
    release: state.current,
    releases: state.releases,
    rollbackVersions: rollbackVersions(state),
    lastDeploy: state.lastDeploy,
    lock: state.lock,
    liveSlot: state.liveSlot,
  }
}
