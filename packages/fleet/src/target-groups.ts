// The load balancer around each wave (ELBv2 target groups of type `instance`): before a wave,
// its hosts leave every target group they are registered in and drain; after it, the hosts
// that serve a release come back on the same ports and must turn healthy before the next wave.
// The SDK's commands are loaded with import() where a call needs them (see command.ts).
import type {
  ElasticLoadBalancingV2Client,
  TargetDescription,
  TargetHealth,
} from '@aws-sdk/client-elastic-load-balancing-v2'
import { awsErrorCode, explainFleetCall } from '../../aws/src/index.js'
import {
  ConfigurationError,
  describeValue,
  errorMessage,
  formatDuration,
  sleep as realSleep,
  type Logger,
} from '../../kit/src/index.js'
import type { GateFailures, Wave, WaveGate } from './waves.js'

/** An ELBv2 target group ARN: partition, region, account, `targetgroup/<name>/<16 hex>`. */
export const TARGET_GROUP_ARN =
  /^arn:aws(?:-[a-z]+)*:elasticloadbalancing:[a-z]{2}(?:-[a-z]+)+-\d:\d{12}:targetgroup\/(?!-)[A-Za-z0-9-]{1,32}(?<!-)\/[0-9a-f]{16}$/

/** ELBv2's default `deregistration_delay.timeout_seconds`. */
const DEFAULT_DEREGISTRATION_DELAY_SECONDS = 300

export interface TargetGroupGateOptions {
  /** The target groups (ARNs matching {@link TARGET_GROUP_ARN}). */
  targetGroupArns: readonly string[]
  /**
   * The longest wait for a wave's hosts to drain. Past it the wave goes on with a warning, as
   * CodeDeploy does after the deregistration delay: requests still in flight may be cut.
   */
  drainTimeoutMs: number
  /** How long after its deregistration delay a target may still read `draining`. Default 30 s. */
  drainSlackMs?: number
  /**
   * How long, beyond a group's health check interval × healthy threshold, a registered host
   * may take to turn healthy before it is failed. Default 60 s.
   */
  healthySlackMs?: number
  /** Between two DescribeTargetHealth rounds. Default 5 s. */
  pollIntervalMs?: number
  sleep?: (ms: number) => Promise<void>
  now?: () => number
}

/** What the gate reads of a target group once, before the first wave. */
interface Group {
  arn: string
  name: string
  deregistrationDelayMs: number
  /** Health check interval × healthy threshold: the least time a target takes to turn healthy. */
  healthyAfterMs: number
  /** With health checks off, ELBv2 reports registered targets `unavailable`, never `healthy`. */
  healthChecks: boolean
}

/** One host on one port of one target group. */
interface Target {
  group: Group
  instanceId: string
  port: number
}

/** The health of a target that ran out of time, as last read. */
interface Overdue {
  target: Target
  health: TargetHealth | undefined
}

const DRAINING_STATES = new Set(['draining', 'unhealthy.draining'])

/** `id:port`, the key of a target within one group. */
const key = (instanceId: string, port: number | undefined) => `${instanceId}:${port ?? ''}`

/** Seconds for the log: 1.6 s, 45 s. */
function seconds(ms: number): string {
  const value = ms / 1000
  return `${value < 10 ? Math.round(value * 10) / 10 : Math.round(value)} s`
}

/** `Target.ResponseCodeMismatch (Health checks failed with these codes: [503])`. */
function describeHealth(health: TargetHealth | undefined): string {
  if (!health) return 'no health reported'
  const why = health.Reason ?? health.State ?? 'unknown'
  return health.Description ? `${why} (${health.Description})` : why
}

/** Groups items by a key, keeping their order. */
function groupBy<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>()
  for (const item of items) {
    const list = groups.get(keyOf(item))
    if (list) list.push(item)
    else groups.set(keyOf(item), [item])
  }
  return groups
}

/**
 * The load balancer gate: deregisters a wave's hosts from the target groups they are in and
 * waits until they are drained (the group's deregistration delay, at most `drainTimeoutMs`);
 * after the wave, registers the hosts that serve a release again on the same ports and waits
 * until the groups report them healthy; a host that never turns healthy is failed. A host not
 * registered in a group is left alone there.
 */
export class TargetGroupGate implements WaveGate {
  readonly name = 'load balancer'
  private readonly options: Required<TargetGroupGateOptions>
  private groups: Promise<Group[]> | undefined
  /** Where each host of the current wave was registered: instance id → group ARN → ports. */
  private readonly registrations = new Map<string, Map<string, number[]>>()

  constructor(
    private readonly client: ElasticLoadBalancingV2Client,
    private readonly logger: Logger,
    options: TargetGroupGateOptions,
  ) {
    this.options = {
      drainSlackMs: 30_000,
      healthySlackMs: 60_000,
      pollIntervalMs: 5_000,
      sleep: realSleep,
      now: () => Date.now(),
      ...options,
    }
  }

  /**
   * Reads every target group once (its type, deregistration delay and health check settings);
   * a group that is missing or not of type `instance` is a ConfigurationError. Called before
   * the first wave; the action calls it before anything is deployed.
   */
  async prepare(): Promise<void> {
    await this.described()
  }

  async beforeWave(wave: Wave): Promise<GateFailures> {
    const groups = await this.described()
    const deregistered: Target[] = []
    for (const id of wave.instanceIds) this.registrations.set(id, new Map())
    try {
      for (const group of groups)
        deregistered.push(...(await this.deregister(group, wave.instanceIds)))
    } catch (error) {
      // The run fails (a refusal, an outage): hosts already taken out go back, as they were.
      await this.putBack(deregistered)
      throw error
    }
    const started = this.options.now()
    const overdue = await this.watch(
      deregistered,
      (_target, health) => health === undefined || health.State === 'unused',
      group => started + this.drainLimitMs(group),
      (target, elapsedMs) =>
        this.logger.info(
          `load balancer: ${target.instanceId} drained from target group ${target.group.name} in ${seconds(elapsedMs)}`,
        ),
    )
    for (const { target, health } of overdue)
      this.logger.warning(
        `load balancer: ${target.instanceId} still ${health?.State ?? 'draining'} in target group ${target.group.name} ` +
          `after ${seconds(this.drainLimitMs(target.group))} (drain-timeout): deploying anyway; requests still in flight to it may be cut`,
      )
    return new Map()
  }

  async afterWave(wave: Wave, serving: readonly string[]): Promise<GateFailures> {
    const groups = await this.described()
    const failures = new Map<string, string>()
    const fail = (id: string, reason: string) =>
      failures.set(id, failures.has(id) ? `${failures.get(id)}; ${reason}` : reason)
    const servingSet = new Set(serving)
    const registered: Target[] = []
    for (const group of groups) {
      const targets: Target[] = []
      const keptOut: string[] = []
      for (const id of wave.instanceIds) {
        const ports = this.registrations.get(id)?.get(group.arn) ?? []
        if (ports.length === 0) continue
        if (servingSet.has(id))
          targets.push(...ports.map(port => ({ group, instanceId: id, port })))
        else keptOut.push(id)
      }
      if (keptOut.length > 0)
        this.logger.warning(
          `load balancer: ${keptOut.join(', ')} serve(s) no release: kept out of target group ${group.name}`,
        )
      if (targets.length === 0) continue
      const refused = await this.register(group, targets)
      for (const [id, reason] of refused) fail(id, reason)
      const accepted = targets.filter(target => !refused.has(target.instanceId))
      if (accepted.length > 0)
        this.logger.info(
          `load balancer: registered ${describeTargets(accepted)} in target group ${group.name} again; ` +
            `waiting up to ${seconds(this.healthyLimitMs(group))} for it to report them healthy`,
        )
      registered.push(...accepted)
    }
    const started = this.options.now()
    const overdue = await this.watch(
      registered,
      (target, health) =>
        health?.State === 'healthy' ||
        (!target.group.healthChecks && health?.State === 'unavailable'),
      group => started + this.healthyLimitMs(group),
      (target, elapsedMs) =>
        this.logger.info(
          `load balancer: ${target.instanceId} healthy in target group ${target.group.name} after ${seconds(elapsedMs)}`,
        ),
    )
    for (const { target, health } of overdue) {
      const reason =
        `not healthy in target group ${target.group.name} after ${seconds(this.healthyLimitMs(target.group))}: ` +
        describeHealth(health)
      this.logger.error(`load balancer: ${target.instanceId} ${reason}`)
      fail(target.instanceId, reason)
    }
    for (const id of wave.instanceIds) this.registrations.delete(id)
    return failures
  }

  private described(): Promise<Group[]> {
    this.groups ??= this.describeGroups()
    return this.groups
  }

  /** Deregisters the hosts registered in `group` (each port), remembering where they were. */
  private async deregister(group: Group, instanceIds: readonly string[]): Promise<Target[]> {
    const { DeregisterTargetsCommand } = await import('@aws-sdk/client-elastic-load-balancing-v2')
    const targets = await this.registeredTargets(group, instanceIds)
    const found = new Set(targets.map(target => target.instanceId))
    const absent = instanceIds.filter(id => !found.has(id))
    if (absent.length > 0)
      this.logger.info(
        `load balancer: ${absent.join(', ')} not registered in target group ${group.name}: left alone there`,
      )
    if (targets.length === 0) return []
    for (const target of targets) {
      const ports = this.registrations.get(target.instanceId)!
      ports.set(group.arn, [...(ports.get(group.arn) ?? []), target.port])
    }
    await this.call('DeregisterTargets', targets, () =>
      this.client.send(
        new DeregisterTargetsCommand({
          TargetGroupArn: group.arn,
          Targets: targets.map(toDescription),
        }),
      ),
    )
    this.logger.info(
      `load balancer: deregistered ${describeTargets(targets)} from target group ${group.name}; ` +
        `draining for up to ${seconds(this.drainLimitMs(group))} (deregistration delay ${seconds(group.deregistrationDelayMs)})`,
    )
    return targets
  }

  /** Registers `targets` again after a failed wave start; best effort, each failure logged. */
  private async putBack(targets: readonly Target[]): Promise<void> {
    for (const [, some] of groupBy(targets, target => target.group.arn)) {
      const group = some[0]!.group
      try {
        await this.register(group, some)
        this.logger.warning(
          `load balancer: registered ${describeTargets(some)} in target group ${group.name} again, as before this wave`,
        )
      } catch (error) {
        this.logger.error(
          `load balancer: could not register ${describeTargets(some)} in target group ${group.name} again: ${errorMessage(error)}`,
        )
      }
    }
  }

  /** How long a group's targets are given to drain. */
  private drainLimitMs(group: Group): number {
    return Math.min(
      group.deregistrationDelayMs + this.options.drainSlackMs,
      this.options.drainTimeoutMs,
    )
  }

  /** How long a group's registered targets are given to turn healthy. */
  private healthyLimitMs(group: Group): number {
    return group.healthyAfterMs + this.options.healthySlackMs
  }

  private async describeGroups(): Promise<Group[]> {
    const { DescribeTargetGroupsCommand, DescribeTargetGroupAttributesCommand } =
      await import('@aws-sdk/client-elastic-load-balancing-v2')
    const arns = [...new Set(this.options.targetGroupArns)]
    const described = await this.call('DescribeTargetGroups', [], () =>
      this.client.send(new DescribeTargetGroupsCommand({ TargetGroupArns: arns })),
    ).catch((error: unknown) => {
      if (awsErrorCode(error) !== 'TargetGroupNotFound') throw error
      throw new ConfigurationError(
        `input 'target-group-arns': ELBv2 did not find ${arns.map(arn => describeValue(arn)).join(', ')} ` +
          `(TargetGroupNotFound: ${errorMessage(error)}): check each ARN, and that 'aws-region' is its region`,
      )
    })
    const groups: Group[] = []
    for (const arn of arns) {
      const found = described.TargetGroups?.find(group => group.TargetGroupArn === arn)
      if (!found)
        throw new ConfigurationError(
          `input 'target-group-arns': ELBv2 did not describe target group ${describeValue(arn)}`,
        )
      const name = found.TargetGroupName ?? arn
      if (found.TargetType !== 'instance')
        throw new ConfigurationError(
          `input 'target-group-arns': target group ${describeValue(name)} has target type ` +
            `${describeValue(found.TargetType ?? '(none)')}: the deploy deregisters and registers ` +
            "instances, so use target groups of target type 'instance'",
        )
      const attributes = await this.call('DescribeTargetGroupAttributes', [], () =>
        this.client.send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: arn })),
      )
      const delay = attributes.Attributes?.find(
        attribute => attribute.Key === 'deregistration_delay.timeout_seconds',
      )?.Value
      const delaySeconds = Number(delay ?? DEFAULT_DEREGISTRATION_DELAY_SECONDS)
      const group: Group = {
        arn,
        name,
        deregistrationDelayMs: (Number.isFinite(delaySeconds) ? delaySeconds : 0) * 1000,
        healthyAfterMs:
          (found.HealthCheckIntervalSeconds ?? 30) * (found.HealthyThresholdCount ?? 5) * 1000,
        healthChecks: found.HealthCheckEnabled !== false,
      }
      this.logger.info(
        `load balancer: target group ${name}: deregistration delay ${seconds(group.deregistrationDelayMs)}, ` +
          `healthy after ${found.HealthyThresholdCount ?? 5} check(s) ${found.HealthCheckIntervalSeconds ?? 30} s apart`,
      )
      if (group.deregistrationDelayMs > this.options.drainTimeoutMs)
        this.logger.warning(
          `load balancer: drain-timeout ${formatDuration(this.options.drainTimeoutMs)} is shorter than the ` +
            `deregistration delay of target group ${name} (${seconds(group.deregistrationDelayMs)}): ` +
            'requests still in flight to a host after drain-timeout may be cut',
        )
      groups.push(group)
    }
    return groups
  }

  /** The targets of `instanceIds` registered in `group` (draining ones are someone else's). */
  private async registeredTargets(group: Group, instanceIds: readonly string[]): Promise<Target[]> {
    const wanted = new Set(instanceIds)
    const health = await this.describeTargetHealth(group, undefined)
    const targets: Target[] = []
    for (const row of health) {
      const id = row.Target?.Id
      const port = row.Target?.Port
      if (id === undefined || port === undefined || !wanted.has(id)) continue
      if (DRAINING_STATES.has(row.TargetHealth?.State ?? '')) {
        this.logger.info(
          `load balancer: ${id} (port ${port}) is already draining from target group ${group.name}: left alone there`,
        )
        continue
      }
      targets.push({ group, instanceId: id, port })
    }
    return targets
  }

  private async describeTargetHealth(group: Group, targets: readonly Target[] | undefined) {
    const { DescribeTargetHealthCommand } =
      await import('@aws-sdk/client-elastic-load-balancing-v2')
    const out = await this.call('DescribeTargetHealth', targets ?? [], () =>
      this.client.send(
        new DescribeTargetHealthCommand({
          TargetGroupArn: group.arn,
          ...(targets ? { Targets: targets.map(toDescription) } : {}),
        }),
      ),
    )
    return out.TargetHealthDescriptions ?? []
  }

  /**
   * Registers `targets` in one call. ELBv2 refuses the whole call when one target cannot be
   * registered (InvalidTarget: a stopped instance), so then each host is tried alone; the
   * ones refused come back with the reason.
   */
  private async register(group: Group, targets: readonly Target[]): Promise<Map<string, string>> {
    const { RegisterTargetsCommand } = await import('@aws-sdk/client-elastic-load-balancing-v2')
    const send = (some: readonly Target[]) =>
      this.call('RegisterTargets', some, () =>
        this.client.send(
          new RegisterTargetsCommand({
            TargetGroupArn: group.arn,
            Targets: some.map(toDescription),
          }),
        ),
      )
    const refused = new Map<string, string>()
    try {
      await send(targets)
      return refused
    } catch (error) {
      if (awsErrorCode(error) !== 'InvalidTarget') throw error
    }
    for (const [id, own] of groupBy(targets, target => target.instanceId)) {
      try {
        await send(own)
      } catch (error) {
        if (awsErrorCode(error) !== 'InvalidTarget') throw error
        const reason = `not registered in target group ${group.name} again: ${errorMessage(error)}`
        this.logger.error(`load balancer: ${id} ${reason}`)
        refused.set(id, reason)
      }
    }
    return refused
  }

  /**
   * Polls DescribeTargetHealth (one call per group a round) until `done` holds for every
   * target, or its group's deadline passes; logs each target as it is done. Resolves with the
   * targets that ran out of time and their last health.
   */
  private async watch(
    targets: readonly Target[],
    done: (target: Target, health: TargetHealth | undefined) => boolean,
    deadlineOf: (group: Group) => number,
    onDone: (target: Target, elapsedMs: number) => void,
  ): Promise<Overdue[]> {
    const started = this.options.now()
    const overdue: Overdue[] = []
    let pending = [...targets]
    while (pending.length > 0) {
      const last = new Map<Target, TargetHealth | undefined>()
      for (const [, some] of groupBy(pending, target => target.group.arn)) {
        const rows = await this.describeTargetHealth(some[0]!.group, some)
        const byKey = new Map(rows.map(row => [key(row.Target?.Id ?? '', row.Target?.Port), row]))
        for (const target of some)
          last.set(target, byKey.get(key(target.instanceId, target.port))?.TargetHealth)
      }
      const now = this.options.now()
      const still: Target[] = []
      for (const target of pending) {
        const health = last.get(target)
        if (done(target, health)) onDone(target, now - started)
        else if (now >= deadlineOf(target.group)) overdue.push({ target, health })
        else still.push(target)
      }
      pending = still
      if (pending.length === 0) break
      const nextDeadline = Math.min(...pending.map(target => deadlineOf(target.group)))
      await this.options.sleep(
        Math.max(0, Math.min(this.options.pollIntervalMs, nextDeadline - now)),
      )
    }
    return overdue
  }

  /** One ELBv2 call; a failure is explained as for SSM and EC2 (access denied names the scope). */
  private call<T>(
    operation: string,
    targets: readonly Target[],
    send: () => Promise<T>,
  ): Promise<T> {
    const ids = [...new Set(targets.map(target => target.instanceId))]
    return explainFleetCall(this.client, operation, ids, send)
  }
}

const toDescription = (target: Target): TargetDescription => ({
  Id: target.instanceId,
  Port: target.port,
})

/** `i-a (port 8080), i-b (port 8080)`. */
function describeTargets(targets: readonly Target[]): string {
  return targets.map(target => `${target.instanceId} (port ${target.port})`).join(', ')
}
