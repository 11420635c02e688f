/**
 * SSM's scheduling of a command's invocations: at most MaxConcurrency of them handed to agents
 * at once; once errors exceed MaxErrors, nothing more is sent and the rest end Cancelled /
 * Terminated. Delivery to an offline agent ends Undeliverable, or Delayed and retried; what
 * is not finished when the command expires (TimeoutSeconds + executionTimeout after the send)
 * ends Delivery Timed Out; CancelCommand stops what has not ended. It keeps every command.
 */
import { randomUUID } from 'node:crypto'
import { Agent, type AgentSettings } from './agent.js'
import type { Fleet, SandboxInstance } from './instances.js'
import type { SendCommandRequest } from './ssm-requests.js'
import {
  type CommandOutputOptions,
  type CommandRecord,
  type InvocationRecord,
  type InvocationStatus,
  later,
  MAX_TIMER_MS,
  setStatus,
  TERMINAL,
} from './ssm-records.js'

/** What the scheduler needs to know; read at each use, so it may change while the sandbox runs. */
export interface SchedulerSettings {
  /**
   * For this long after SendCommand, the command's invocations are invisible:
   * GetCommandInvocation answers InvocationDoesNotExist and ListCommandInvocations omits
   * them, as real SSM does for a short while.
   */
  invocationVisibilityDelayMs: number
  /**
   * Overrides when commands expire (normally TimeoutSeconds + executionTimeout seconds after
   * the send); invocations not finished by then end `Delivery Timed Out`. Lets tests of lost
   * instances and offline agents finish in seconds.
   */
  deliveryTimeoutMs: number | undefined
  /** How long an unreachable agent's invocation takes to be marked Undeliverable. */
  undeliverableAfterMs: number
  /** How often a Delayed invocation is retried while its agent is offline. */
  redeliveryIntervalMs: number
}

/** A count from a MaxConcurrency / MaxErrors value against `targets` targets. */
function resolveLimit(value: string, targets: number, atLeastOne: boolean): number {
  const count = value.endsWith('%')
    ? Math.floor((Number(value.slice(0, -1)) * targets) / 100)
    : Number(value)
  return atLeastOne ? Math.max(1, count) : count
}

/** Every command sent to one fleet, and the invocations in flight. */
export class CommandScheduler {
  private readonly settings: SchedulerSettings
  private readonly agent: Agent
  private readonly commands = new Map<string, CommandRecord>()
  private readonly order: CommandRecord[] = []
  private readonly waiters = new Map<string, Set<(command: CommandRecord) => void>>()
  private closed = false

  constructor(fleet: Fleet, settings: SchedulerSettings & AgentSettings) {
    this.settings = settings
    this.agent = new Agent(fleet, settings, (command, invocation, status, details, code) =>
      this.finish(command, invocation, status, details, code),
    )
  }

  /** A command by id. */
  get(commandId: string): CommandRecord | undefined {
    return this.commands.get(commandId)
  }

  /** All commands, oldest first. */
  all(): readonly CommandRecord[] {
    return this.order
  }

  /** Resolves once every invocation of the command is terminal. */
  whenDone(commandId: string): Promise<CommandRecord> {
    const command = this.commands.get(commandId)
    if (!command) return Promise.reject(new Error(`no command ${commandId}`))
    if (command.completedAt) return Promise.resolve(command)
    return new Promise(resolve => {
      const set = this.waiters.get(commandId) ?? new Set()
      set.add(resolve)
      this.waiters.set(commandId, set)
    })
  }

  /**
   * A new command, one invocation per instance, dispatched as far as MaxConcurrency allows;
   * `associationId` when State Manager sends it to apply an association.
   */
  send(
    request: SendCommandRequest,
    options: { documentVersion: string; output: CommandOutputOptions },
    instances: readonly SandboxInstance[],
    associationId?: string,
  ): CommandRecord {
    const id = randomUUID()
    const requestedAt = new Date()
    const totalTimeoutMs = (request.timeoutSeconds + request.executionTimeoutSeconds) * 1000
    const command: CommandRecord = {
      id,
      documentName: request.documentName,
      documentVersion: options.documentVersion,
      comment: request.comment,
      parameters: request.parameters,
      commands: request.commands,
      workingDirectory: request.workingDirectory,
      executionTimeoutSeconds: request.executionTimeoutSeconds,
      timeoutSeconds: request.timeoutSeconds,
      requestedInstanceIds: [...new Set(request.instanceIds)],
      targets: request.targets,
      requestedAt,
      associationId,
      expiresAt: new Date(requestedAt.getTime() + totalTimeoutMs),
      visibleAt: requestedAt.getTime() + this.settings.invocationVisibilityDelayMs,
      maxConcurrency: request.maxConcurrency,
      maxErrors: request.maxErrors,
      concurrencyLimit: resolveLimit(request.maxConcurrency, instances.length, true),
      errorLimit: resolveLimit(request.maxErrors, instances.length, false),
      output: options.output,
      invocations: [],
      stopped: false,
      cancelled: false,
      errorCount: 0,
      completedAt: undefined,
      expiryTimer: undefined,
    }
    for (const instance of instances) {
      command.invocations.push({
        commandId: id,
        instance,
        status: 'Pending',
        statusDetails: 'Pending',
        responseCode: -1,
        startedAt: undefined,
        endedAt: undefined,
        stdout: '',
        stderr: '',
        dispatched: false,
        stopping: undefined,
        lost: false,
        script: undefined,
        outputUrls: { stdout: '', stderr: '' },
        timers: new Set(),
        release: undefined,
      })
    }
    this.commands.set(id, command)
    this.order.push(command)
    const expiryMs = this.settings.deliveryTimeoutMs ?? totalTimeoutMs
    if (expiryMs <= MAX_TIMER_MS) {
      command.expiryTimer = setTimeout(() => this.expire(command), expiryMs)
      command.expiryTimer.unref()
    }
    this.pump(command)
    this.checkDone(command)
    return command
  }

  /**
   * CancelCommand: the selected invocations that have not ended are cancelled; a cancel of the
   * whole command before it completed also stops dispatching.
   */
  cancel(command: CommandRecord, selected: readonly InvocationRecord[], whole: boolean): void {
    if (whole && !command.completedAt) {
      command.cancelled = true
      command.stopped = true
    }
    for (const invocation of selected) {
      if (TERMINAL.has(invocation.status)) continue
      if (!this.agent.cancel(invocation))
        this.finish(command, invocation, 'Cancelled', 'Cancelled', -1)
    }
    this.checkDone(command)
  }

  /** Stops every timer and kills every running script (the sandbox is closing). */
  close(): void {
    this.closed = true
    for (const command of this.order) {
      if (command.expiryTimer) clearTimeout(command.expiryTimer)
      for (const invocation of command.invocations) {
        for (const timer of invocation.timers) clearTimeout(timer)
        invocation.timers.clear()
        invocation.script?.kill()
        invocation.release?.()
      }
    }
  }

  /** Hands invocations to their agents while fewer than MaxConcurrency are in flight. */
  private pump(command: CommandRecord): void {
    if (this.closed) return
    let active = command.invocations.filter(i => i.dispatched && !TERMINAL.has(i.status)).length
    for (const invocation of command.invocations) {
      if (command.stopped || active >= command.concurrencyLimit) break
      if (invocation.dispatched || TERMINAL.has(invocation.status)) continue
      invocation.dispatched = true
      active += 1
      this.deliver(command, invocation)
    }
  }

  private deliver(command: CommandRecord, invocation: InvocationRecord): void {
    const instance = invocation.instance
    if (!instance.agentOnline) {
      if (instance.offlineBehaviour === 'undeliverable') {
        later(invocation, this.settings.undeliverableAfterMs, () =>
          this.finish(command, invocation, 'Failed', 'Undeliverable', -1),
        )
      } else {
        setStatus(invocation, 'Delayed', 'Delayed')
        later(invocation, this.settings.redeliveryIntervalMs, () => {
          if (!TERMINAL.has(invocation.status)) this.deliver(command, invocation)
        })
      }
      return
    }
    later(invocation, instance.faults.deliveryDelayMs ?? 0, () => {
      if (TERMINAL.has(invocation.status)) return
      if (!instance.agentOnline) return this.deliver(command, invocation)
      this.agent.start(command, invocation)
    })
  }

  private expire(command: CommandRecord): void {
    command.expiryTimer = undefined
    for (const invocation of command.invocations) {
      if (TERMINAL.has(invocation.status)) continue
      if (!invocation.dispatched && command.stopped) continue
      invocation.lost = true
      invocation.script?.kill()
      this.finish(command, invocation, 'TimedOut', 'Delivery Timed Out', -1)
    }
  }

  /** An invocation ended: count its error against MaxErrors, then dispatch the next ones. */
  private finish(
    command: CommandRecord,
    invocation: InvocationRecord,
    status: InvocationStatus,
    details: string,
    responseCode: number,
  ): void {
    if (TERMINAL.has(invocation.status)) return
    setStatus(invocation, status, details)
    invocation.responseCode = responseCode
    invocation.endedAt = new Date()
    for (const timer of invocation.timers) clearTimeout(timer)
    invocation.timers.clear()
    invocation.release?.()
    invocation.release = undefined
    const isError =
      (status === 'Failed' && details === 'Failed') || details === 'Execution Timed Out'
    if (isError) {
      command.errorCount += 1
      if (command.errorCount > command.errorLimit && !command.stopped) {
        command.stopped = true
        // MaxErrors exceeded: invocations not yet sent never start.
        for (const other of command.invocations) {
          if (!other.dispatched && !TERMINAL.has(other.status)) {
            setStatus(other, 'Cancelled', 'Terminated')
            other.endedAt = new Date()
          }
        }
      }
    }
    this.pump(command)
    this.checkDone(command)
  }

  private checkDone(command: CommandRecord): void {
    if (command.completedAt) return
    if (command.invocations.some(invocation => !TERMINAL.has(invocation.status))) return
    command.completedAt = new Date()
    if (command.expiryTimer) clearTimeout(command.expiryTimer)
    command.expiryTimer = undefined
    const waiters = this.waiters.get(command.id)
    this.waiters.delete(command.id)
    for (const resolve of waiters ?? []) resolve(command)
  }
}
