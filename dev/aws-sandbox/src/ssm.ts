/**
 * SSM Run Command as the suite uses it: SendCommand (AWS-RunShellScript), ListCommands,
 * ListCommandInvocations, GetCommandInvocation, DescribeInstanceInformation and
 * CancelCommand, over the JSON 1.1 protocol. Invocations really run on the sandbox's
 * instances (see agent-script.ts), scheduled with SSM's MaxConcurrency / MaxErrors semantics.
 */
import { randomUUID } from 'node:crypto'
import { isAbsolute, join } from 'node:path'
import { readFileSync, statSync } from 'node:fs'
import type { IncomingMessage } from 'node:http'
import {
  type FastCommandHandler,
  type FastResult,
  type Fleet,
  isInstanceId,
  type SandboxInstance,
} from './instances.js'
import {
  decodeToken,
  encodeToken,
  ServiceError,
  type ServiceFrontEnd,
  type WireResponse,
} from './protocol.js'
import { type RunningScript, runScript } from './agent-script.js'

/** SSM caps on output returned by the API (characters). */
export const OUTPUT_LIMITS = {
  /** CommandPlugins[].Output in ListCommandInvocations with Details. */
  pluginOutput: 2500,
  /** GetCommandInvocation StandardOutputContent. */
  standardOutput: 24000,
  /** GetCommandInvocation StandardErrorContent. */
  standardError: 8000,
} as const

/** The only document the sandbox runs, and its single plugin. */
export const RUN_SHELL_SCRIPT = 'AWS-RunShellScript'
export const PLUGIN_NAME = 'aws:runShellScript'

/** What SSM reports as an invocation's Status. */
export type InvocationStatus =
  | 'Pending'
  | 'InProgress'
  | 'Delayed'
  | 'Success'
  | 'Cancelled'
  | 'TimedOut'
  | 'Failed'
  | 'Cancelling'

/** What SSM reports as a command's Status. */
export type CommandStatus =
  'Pending' | 'InProgress' | 'Success' | 'Cancelled' | 'Failed' | 'TimedOut' | 'Cancelling'

const TERMINAL: ReadonlySet<InvocationStatus> = new Set([
  'Success',
  'Cancelled',
  'TimedOut',
  'Failed',
])

/** Settings of the SSM simulation; all can be changed while the sandbox runs. */
export interface SsmSettings {
  region: string
  accountId: string
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
  /** Environment given to every command on every instance (before the instance's own env). */
  instanceEnv: Record<string, string>
  /** Computes results in fast command mode (default: exit 0, no output). */
  fastHandler: FastCommandHandler
  /**
   * Uploads an invocation's full output when the command names OutputS3BucketName, as the
   * agent does (`<prefix>/<command>/<instance>/awsrunShellScript/0.awsrunShellScript/stdout`
   * and `stderr`), and returns the URL to report. Undefined: the option is only echoed.
   */
  outputUploader: ((bucket: string, key: string, body: Buffer) => Promise<string>) | undefined
}

/** The state of one invocation (a command on one instance). */
export interface InvocationRecord {
  readonly commandId: string
  readonly instance: SandboxInstance
  status: InvocationStatus
  statusDetails: string
  responseCode: number
  startedAt: Date | undefined
  endedAt: Date | undefined
  stdout: string
  stderr: string
  /** True once handed to the agent (counts against MaxConcurrency until terminal). */
  dispatched: boolean
  /** Why a running script is being stopped. */
  stopping: 'timeout' | 'cancel' | undefined
  /** The host died under it: it never reports back. */
  lost: boolean
  script: RunningScript | undefined
  /** Where the full output was uploaded (OutputS3BucketName), else empty. */
  outputUrls: { stdout: string; stderr: string }
  timers: Set<NodeJS.Timeout>
  release: (() => void) | undefined
}

/** The state of one command. */
export interface CommandRecord {
  readonly id: string
  readonly documentName: string
  readonly documentVersion: string
  readonly comment: string
  readonly parameters: Record<string, string[]>
  readonly commands: readonly string[]
  readonly workingDirectory: string
  readonly executionTimeoutSeconds: number
  readonly timeoutSeconds: number
  readonly requestedInstanceIds: readonly string[]
  readonly targets: readonly { Key: string; Values: string[] }[]
  readonly requestedAt: Date
  readonly expiresAt: Date
  readonly visibleAt: number
  readonly maxConcurrency: string
  readonly maxErrors: string
  readonly concurrencyLimit: number
  readonly errorLimit: number
  readonly output: {
    OutputS3Region: string
    OutputS3BucketName: string
    OutputS3KeyPrefix: string
    CloudWatchOutputConfig: { CloudWatchLogGroupName: string; CloudWatchOutputEnabled: boolean }
    ServiceRole: string
    NotificationConfig: {
      NotificationArn: string
      NotificationEvents: string[]
      NotificationType: string
    }
  }
  readonly invocations: InvocationRecord[]
  /** Stop dispatching: MaxErrors exceeded or cancelled. */
  stopped: boolean
  cancelled: boolean
  errorCount: number
  completedAt: Date | undefined
  expiryTimer: NodeJS.Timeout | undefined
}

/** One CancelCommand call the sandbox received. */
export interface CancelRecord {
  commandId: string
  instanceIds: string[]
  at: Date
}

type Json = Record<string, unknown>

const MAX_TIMER_MS = 2 ** 31 - 1
const MAX_CONCURRENCY = /^([1-9][0-9]*|[1-9][0-9]%|[1-9]%|100%)$/
const MAX_ERRORS = /^([1-9][0-9]*|[0]|[1-9][0-9]%|[0-9]%|100%)$/
/** AWS-RunShellScript's executionTimeout: whole seconds from 1 to 172800 (48 hours). */
const EXECUTION_TIMEOUT = /^[1-9][0-9]{0,5}$/
const COMMAND_ID = /^[0-9a-f-]{36}$/

function validation(field: string, value: unknown, constraint: string): ServiceError {
  const shown = Array.isArray(value) ? `[${value.join(', ')}]` : String(value)
  return new ServiceError(
    'ValidationException',
    `1 validation error detected: Value '${shown}' at '${field}' failed to satisfy constraint: ${constraint}`,
  )
}

/** SSM takes at most 50 instance ids in one call (more need Targets). */
function checkInstanceIdCount(instanceIds: readonly string[]): void {
  if (instanceIds.length > 50) {
    throw validation('instanceIds', instanceIds, 'Member must have length less than or equal to 50')
  }
}

function wrongType(field: string, expected: string): ServiceError {
  return new ServiceError('SerializationException', `${field}: expected ${expected}`)
}

function optionalString(input: Json, field: string): string | undefined {
  const value = input[field]
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'string') throw wrongType(field, 'a string')
  return value
}

function optionalInteger(input: Json, field: string): number | undefined {
  const value = input[field]
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'number' || !Number.isInteger(value)) throw wrongType(field, 'an integer')
  return value
}

function optionalStringList(input: Json, field: string): string[] | undefined {
  const value = input[field]
  if (value === undefined || value === null) return undefined
  if (!Array.isArray(value) || value.some(item => typeof item !== 'string')) {
    throw wrongType(field, 'a list of strings')
  }
  return value as string[]
}

function optionalList(input: Json, field: string): Json[] | undefined {
  const value = input[field]
  if (value === undefined || value === null) return undefined
  if (!Array.isArray(value) || value.some(item => typeof item !== 'object' || item === null)) {
    throw wrongType(field, 'a list of structures')
  }
  return value as Json[]
}

function epochSeconds(date: Date): number {
  return date.getTime() / 1000
}

/** A count from a MaxConcurrency / MaxErrors value against `targets` targets. */
function resolveLimit(value: string, targets: number, atLeastOne: boolean): number {
  const count = value.endsWith('%')
    ? Math.floor((Number(value.slice(0, -1)) * targets) / 100)
    : Number(value)
  return atLeastOne ? Math.max(1, count) : count
}

/**
 * SSM's combined plugin Output: stdout, then stderr after an ERROR separator, cut to
 * `capacity` characters with a marker on each cut stream.
 */
export function pluginOutput(
  stdout: string,
  stderr: string,
  capacity = OUTPUT_LIMITS.pluginOutput,
): string {
  const separator = '\n----------ERROR-------\n'
  const errorPart = stderr === '' ? '' : `${separator}${stderr}`
  if (stdout.length + errorPart.length <= capacity) return `${stdout}${errorPart}`
  const outMarker = '\n---Output truncated---'
  const errMarker = '\n---Error truncated----'
  if (stderr === '') return `${stdout.slice(0, capacity - outMarker.length)}${outMarker}`
  // Stderr gets up to half the space, stdout the rest.
  const errorBudget = Math.min(errorPart.length, Math.floor(capacity / 2))
  const outputBudget = capacity - errorBudget
  const out =
    stdout.length <= outputBudget
      ? stdout
      : `${stdout.slice(0, outputBudget - outMarker.length)}${outMarker}`
  const remaining = capacity - out.length
  const err =
    errorPart.length <= remaining
      ? errorPart
      : `${errorPart.slice(0, remaining - errMarker.length)}${errMarker}`
  return `${out}${err}`
}

/** ISO 8601 duration as GetCommandInvocation reports ExecutionElapsedTime. */
function isoDuration(ms: number): string {
  return `PT${(ms / 1000).toFixed(3)}S`
}

/** SSM Run Command over the sandbox's fleet. */
export class SsmService {
  readonly fleet: Fleet
  readonly settings: SsmSettings
  /** Every CancelCommand call, in order. */
  readonly cancelRequests: CancelRecord[] = []
  private readonly commands = new Map<string, CommandRecord>()
  private readonly order: CommandRecord[] = []
  private readonly waiters = new Map<string, Set<(command: CommandRecord) => void>>()
  private closed = false

  constructor(fleet: Fleet, settings: SsmSettings) {
    this.fleet = fleet
    this.settings = settings
  }

  /** A command by id (internal record: statuses, invocations, timings). */
  command(commandId: string): CommandRecord | undefined {
    return this.commands.get(commandId)
  }

  /** All commands, oldest first. */
  allCommands(): readonly CommandRecord[] {
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

  /** The command's Status and StatusDetails, derived from its invocations as SSM does. */
  commandStatus(command: CommandRecord): { status: CommandStatus; details: string } {
    const invocations = command.invocations
    if (invocations.length === 0) return { status: 'Failed', details: 'No Instances In Tag' }
    const open = invocations.filter(invocation => !TERMINAL.has(invocation.status))
    if (command.cancelled) {
      return open.length > 0
        ? { status: 'Cancelling', details: 'Cancelling' }
        : { status: 'Cancelled', details: 'Cancelled' }
    }
    if (open.length > 0) {
      const started = invocations.some(i => i.status !== 'Pending' || TERMINAL.has(i.status))
      return started
        ? { status: 'InProgress', details: 'In Progress' }
        : { status: 'Pending', details: 'Pending' }
    }
    const executionTimeouts = invocations.filter(
      i => i.statusDetails === 'Execution Timed Out',
    ).length
    if (command.errorCount > command.errorLimit) {
      return executionTimeouts === command.errorCount
        ? { status: 'TimedOut', details: 'Execution Timed Out' }
        : { status: 'Failed', details: 'Failed' }
    }
    const deliveryTimeouts = invocations.filter(
      i => i.statusDetails === 'Delivery Timed Out',
    ).length
    const counted = invocations.filter(i => i.statusDetails !== 'Undeliverable')
    const successes = counted.filter(i => i.status === 'Success').length
    if (deliveryTimeouts > command.errorLimit && successes === 0) {
      return { status: 'TimedOut', details: 'Delivery Timed Out' }
    }
    if (counted.length === 0) return { status: 'Failed', details: 'Failed' }
    if (successes === counted.length) return { status: 'Success', details: 'Success' }
    return { status: 'Failed', details: 'Incomplete' }
  }

  // ---- operations -------------------------------------------------------------------

  /** SendCommand. */
  sendCommand(input: Json): Json {
    const documentName = optionalString(input, 'DocumentName')
    if (documentName === undefined) {
      throw validation('documentName', 'null', 'Member must not be null')
    }
    if (
      documentName !== RUN_SHELL_SCRIPT &&
      !documentName.endsWith(`:document/${RUN_SHELL_SCRIPT}`)
    ) {
      throw new ServiceError(
        'InvalidDocument',
        `Document with name ${documentName} does not exist.`,
      )
    }
    const instanceIds = optionalStringList(input, 'InstanceIds') ?? []
    const targetsInput = optionalList(input, 'Targets') ?? []
    checkInstanceIdCount(instanceIds)
    if (targetsInput.length > 5) {
      throw validation(
        'targets',
        targetsInput.map(t => JSON.stringify(t)),
        'Member must have length less than or equal to 5',
      )
    }
    if (instanceIds.length === 0 && targetsInput.length === 0) {
      throw new ServiceError(
        'ValidationException',
        'Either InstanceIds or Targets must be specified.',
      )
    }
    if (instanceIds.length > 0 && targetsInput.length > 0) {
      throw new ServiceError(
        'ValidationException',
        'InstanceIds and Targets cannot both be specified.',
      )
    }
    const targets = targetsInput.map((target, index) => {
      const key = optionalString(target, 'Key')
      const values = optionalStringList(target, 'Values') ?? []
      if (key === undefined)
        throw validation(`targets.${index + 1}.member.key`, 'null', 'Member must not be null')
      if (values.length > 50) {
        throw validation(
          `targets.${index + 1}.member.values`,
          values,
          'Member must have length less than or equal to 50',
        )
      }
      return { Key: key, Values: values }
    })
    const comment = optionalString(input, 'Comment') ?? ''
    if (comment.length > 100)
      throw validation('comment', comment, 'Member must have length less than or equal to 100')
    const timeoutSeconds = optionalInteger(input, 'TimeoutSeconds') ?? 3600
    if (timeoutSeconds < 30)
      throw validation(
        'timeoutSeconds',
        timeoutSeconds,
        'Member must have value greater than or equal to 30',
      )
    if (timeoutSeconds > 2592000) {
      throw validation(
        'timeoutSeconds',
        timeoutSeconds,
        'Member must have value less than or equal to 2592000',
      )
    }
    const maxConcurrency = optionalString(input, 'MaxConcurrency') ?? '50'
    if (!MAX_CONCURRENCY.test(maxConcurrency)) {
      throw validation(
        'maxConcurrency',
        maxConcurrency,
        `Member must satisfy regular expression pattern: ${MAX_CONCURRENCY.source}`,
      )
    }
    const maxErrors = optionalString(input, 'MaxErrors') ?? '0'
    if (!MAX_ERRORS.test(maxErrors)) {
      throw validation(
        'maxErrors',
        maxErrors,
        `Member must satisfy regular expression pattern: ${MAX_ERRORS.source}`,
      )
    }
    const parameters = this.readParameters(input)
    const commands = parameters.commands ?? []
    const executionTimeoutSeconds = Number(parameters.executionTimeout?.[0] ?? '3600')
    const workingDirectory = parameters.workingDirectory?.[0] ?? ''

    const instances =
      instanceIds.length > 0 ? this.resolveInstanceIds(instanceIds) : this.resolveTargets(targets)

    const id = randomUUID()
    const requestedAt = new Date()
    const totalTimeoutMs = (timeoutSeconds + executionTimeoutSeconds) * 1000
    const expiresAt = new Date(requestedAt.getTime() + totalTimeoutMs)
    const cloudWatch = input.CloudWatchOutputConfig as Json | undefined
    const notification = input.NotificationConfig as Json | undefined
    const command: CommandRecord = {
      id,
      documentName,
      documentVersion: optionalString(input, 'DocumentVersion') ?? '$DEFAULT',
      comment,
      parameters,
      commands,
      workingDirectory,
      executionTimeoutSeconds,
      timeoutSeconds,
      requestedInstanceIds: [...new Set(instanceIds)],
      targets,
      requestedAt,
      expiresAt,
      visibleAt: requestedAt.getTime() + this.settings.invocationVisibilityDelayMs,
      maxConcurrency,
      maxErrors,
      concurrencyLimit: resolveLimit(maxConcurrency, instances.length, true),
      errorLimit: resolveLimit(maxErrors, instances.length, false),
      output: {
        OutputS3Region: optionalString(input, 'OutputS3Region') ?? this.settings.region,
        OutputS3BucketName: optionalString(input, 'OutputS3BucketName') ?? '',
        OutputS3KeyPrefix: optionalString(input, 'OutputS3KeyPrefix') ?? '',
        CloudWatchOutputConfig: {
          CloudWatchLogGroupName:
            typeof cloudWatch?.CloudWatchLogGroupName === 'string'
              ? cloudWatch.CloudWatchLogGroupName
              : '',
          CloudWatchOutputEnabled: cloudWatch?.CloudWatchOutputEnabled === true,
        },
        ServiceRole: optionalString(input, 'ServiceRoleArn') ?? '',
        NotificationConfig: {
          NotificationArn:
            typeof notification?.NotificationArn === 'string' ? notification.NotificationArn : '',
          NotificationEvents: Array.isArray(notification?.NotificationEvents)
            ? (notification.NotificationEvents as string[])
            : [],
          NotificationType:
            typeof notification?.NotificationType === 'string' ? notification.NotificationType : '',
        },
      },
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
    return { Command: this.describeCommand(command) }
  }

  /** ListCommands. */
  listCommands(input: Json): Json {
    const commandId = optionalString(input, 'CommandId')
    const instanceId = optionalString(input, 'InstanceId')
    if (commandId !== undefined) this.checkCommandId(commandId)
    const filters = this.readCommandFilters(input, [
      'InvokedAfter',
      'InvokedBefore',
      'Status',
      'DocumentName',
    ])
    let commands = [...this.order].reverse()
    if (commandId !== undefined) {
      const command = this.commands.get(commandId)
      if (!command) throw new ServiceError('InvalidCommandId', '')
      commands = [command]
    }
    if (instanceId !== undefined) {
      commands = commands.filter(c => c.invocations.some(i => i.instance.id === instanceId))
    }
    commands = commands.filter(command =>
      filters.every(filter => {
        if (filter.key === 'Status') return this.commandStatusMatches(command, filter.value)
        if (filter.key === 'DocumentName') return command.documentName === filter.value
        return this.timeFilter(filter.key, filter.value, command.requestedAt)
      }),
    )
    const page = this.paginate(input, `ListCommands`, commands, 50)
    return { Commands: page.items.map(c => this.describeCommand(c)), ...page.next }
  }

  /** ListCommandInvocations. */
  listCommandInvocations(input: Json): Json {
    const commandId = optionalString(input, 'CommandId')
    const instanceId = optionalString(input, 'InstanceId')
    if (commandId !== undefined) this.checkCommandId(commandId)
    const details = input.Details === true
    const filters = this.readCommandFilters(input, [
      'InvokedAfter',
      'InvokedBefore',
      'Status',
      'DocumentName',
    ])
    const now = Date.now()
    const commands =
      commandId !== undefined
        ? [this.commands.get(commandId)].filter((c): c is CommandRecord => c !== undefined)
        : [...this.order].reverse()
    let invocations = commands.filter(c => c.visibleAt <= now).flatMap(c => c.invocations)
    if (instanceId !== undefined)
      invocations = invocations.filter(i => i.instance.id === instanceId)
    invocations = invocations.filter(invocation =>
      filters.every(filter => {
        const command = this.commands.get(invocation.commandId) as CommandRecord
        if (filter.key === 'Status') return invocationStatusMatches(invocation, filter.value)
        if (filter.key === 'DocumentName') return command.documentName === filter.value
        return this.timeFilter(filter.key, filter.value, command.requestedAt)
      }),
    )
    const page = this.paginate(
      input,
      `ListCommandInvocations:${commandId ?? ''}:${instanceId ?? ''}`,
      invocations,
      50,
    )
    return {
      CommandInvocations: page.items.map(invocation =>
        this.describeInvocation(invocation, details),
      ),
      ...page.next,
    }
  }

  /** GetCommandInvocation. */
  getCommandInvocation(input: Json): Json {
    const commandId = optionalString(input, 'CommandId')
    const instanceId = optionalString(input, 'InstanceId')
    if (commandId === undefined) throw validation('commandId', 'null', 'Member must not be null')
    if (instanceId === undefined) throw validation('instanceId', 'null', 'Member must not be null')
    this.checkCommandId(commandId)
    const pluginName = optionalString(input, 'PluginName')
    const command = this.commands.get(commandId)
    const invocation = command?.invocations.find(i => i.instance.id === instanceId)
    if (!command || !invocation || command.visibleAt > Date.now()) {
      throw new ServiceError('InvocationDoesNotExist', '')
    }
    if (pluginName !== undefined && pluginName !== PLUGIN_NAME && pluginName !== 'runShellScript') {
      throw new ServiceError('InvalidPluginName', '')
    }
    const ended = TERMINAL.has(invocation.status)
    return {
      CommandId: command.id,
      InstanceId: invocation.instance.id,
      Comment: command.comment,
      DocumentName: command.documentName,
      DocumentVersion: command.documentVersion,
      PluginName: PLUGIN_NAME,
      ResponseCode: invocation.responseCode,
      ExecutionStartDateTime: invocation.startedAt?.toISOString() ?? '',
      ExecutionElapsedTime:
        invocation.startedAt && invocation.endedAt
          ? isoDuration(invocation.endedAt.getTime() - invocation.startedAt.getTime())
          : '',
      ExecutionEndDateTime:
        ended && invocation.startedAt && invocation.endedAt ? invocation.endedAt.toISOString() : '',
      Status: invocation.status,
      StatusDetails: invocation.statusDetails,
      StandardOutputContent: Array.from(invocation.stdout)
        .slice(0, OUTPUT_LIMITS.standardOutput)
        .join(''),
      StandardOutputUrl: invocation.outputUrls.stdout,
      StandardErrorContent: Array.from(invocation.stderr)
        .slice(0, OUTPUT_LIMITS.standardError)
        .join(''),
      StandardErrorUrl: invocation.outputUrls.stderr,
      CloudWatchOutputConfig: command.output.CloudWatchOutputConfig,
    }
  }

  /** DescribeInstanceInformation. */
  describeInstanceInformation(input: Json): Json {
    const legacy = optionalList(input, 'InstanceInformationFilterList')
    const filters = optionalList(input, 'Filters')
    if (legacy && filters) {
      throw new ServiceError(
        'InvalidFilterKey',
        'InstanceInformationFilterList and Filters cannot be used together.',
      )
    }
    const maxResults = optionalInteger(input, 'MaxResults')
    if (maxResults !== undefined && (maxResults < 5 || maxResults > 50)) {
      throw validation(
        'maxResults',
        maxResults,
        maxResults < 5
          ? 'Member must have value greater than or equal to 5'
          : 'Member must have value less than or equal to 50',
      )
    }
    const conditions: { key: string; values: string[] }[] = []
    for (const filter of legacy ?? []) {
      const key = optionalString(filter, 'key')
      const values = optionalStringList(filter, 'valueSet') ?? []
      if (
        key === undefined ||
        !['InstanceIds', 'AgentVersion', 'PingStatus', 'PlatformTypes', 'ResourceType'].includes(
          key,
        )
      ) {
        throw new ServiceError(
          'InvalidInstanceInformationFilterValue',
          `The filter key ${String(key)} is not supported.`,
        )
      }
      conditions.push({ key, values })
    }
    for (const filter of filters ?? []) {
      const key = optionalString(filter, 'Key')
      const values = optionalStringList(filter, 'Values') ?? []
      const known = [
        'InstanceIds',
        'AgentVersion',
        'PingStatus',
        'PlatformTypes',
        'ResourceType',
        'tag-key',
      ]
      if (key === undefined || !(known.includes(key) || key.startsWith('tag:'))) {
        throw new ServiceError('InvalidFilterKey', `The filter key ${String(key)} is not valid.`)
      }
      conditions.push({ key, values })
    }
    const managed = this.fleet
      .list()
      .filter(instance => instance.ssmManaged && instance.state !== 'terminated')
      .filter(instance =>
        conditions.every(({ key, values }) => {
          if (key === 'InstanceIds') return values.includes(instance.id)
          if (key === 'AgentVersion') return values.includes(instance.agentVersion)
          if (key === 'PingStatus') return values.includes(instance.pingStatus)
          if (key === 'PlatformTypes') return values.includes('Linux')
          if (key === 'ResourceType') return values.includes('EC2Instance')
          if (key === 'tag-key') return values.some(value => instance.tags.has(value))
          const tagValue = instance.tags.get(key.slice('tag:'.length))
          return tagValue !== undefined && values.includes(tagValue)
        }),
      )
    const page = this.paginate(input, 'DescribeInstanceInformation', managed, 10)
    return {
      InstanceInformationList: page.items.map(instance => ({
        InstanceId: instance.id,
        PingStatus: instance.pingStatus,
        LastPingDateTime: epochSeconds(instance.lastPingDateTime),
        AgentVersion: instance.agentVersion,
        IsLatestVersion: false,
        PlatformType: 'Linux',
        PlatformName: 'Ubuntu',
        PlatformVersion: '24.04',
        ResourceType: 'EC2Instance',
        IPAddress: instance.privateIpAddress,
        ComputerName: `ip-${instance.privateIpAddress.replaceAll('.', '-')}.${this.settings.region}.compute.internal`,
        SourceId: instance.id,
        SourceType: 'AWS::EC2::Instance',
      })),
      ...page.next,
    }
  }

  /** CancelCommand. */
  cancelCommand(input: Json): Json {
    const commandId = optionalString(input, 'CommandId')
    if (commandId === undefined) throw validation('commandId', 'null', 'Member must not be null')
    this.checkCommandId(commandId)
    const instanceIds = optionalStringList(input, 'InstanceIds') ?? []
    checkInstanceIdCount(instanceIds)
    const command = this.commands.get(commandId)
    if (!command) throw new ServiceError('InvalidCommandId', '')
    this.cancelRequests.push({ commandId, instanceIds: [...instanceIds], at: new Date() })
    const selected =
      instanceIds.length === 0
        ? command.invocations
        : command.invocations.filter(invocation => instanceIds.includes(invocation.instance.id))
    if (instanceIds.length === 0 && !command.completedAt) {
      command.cancelled = true
      command.stopped = true
    }
    for (const invocation of selected) this.cancelInvocation(invocation)
    this.checkDone(command)
    return {}
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
    this.fleet.killAllProcesses()
  }

  // ---- scheduling ---------------------------------------------------------------------

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

  private later(invocation: InvocationRecord, ms: number, action: () => void): void {
    const timer = setTimeout(
      () => {
        invocation.timers.delete(timer)
        action()
      },
      Math.min(ms, MAX_TIMER_MS),
    )
    timer.unref()
    invocation.timers.add(timer)
  }

  private deliver(command: CommandRecord, invocation: InvocationRecord): void {
    const instance = invocation.instance
    if (!instance.agentOnline) {
      if (instance.offlineBehaviour === 'undeliverable') {
        this.later(invocation, this.settings.undeliverableAfterMs, () =>
          this.finish(command, invocation, 'Failed', 'Undeliverable', -1),
        )
      } else {
        this.setStatus(invocation, 'Delayed', 'Delayed')
        this.later(invocation, this.settings.redeliveryIntervalMs, () => {
          if (!TERMINAL.has(invocation.status)) this.deliver(command, invocation)
        })
      }
      return
    }
    this.later(invocation, instance.faults.deliveryDelayMs ?? 0, () => {
      if (TERMINAL.has(invocation.status)) return
      if (!instance.agentOnline) return this.deliver(command, invocation)
      this.start(command, invocation)
    })
  }

  private start(command: CommandRecord, invocation: InvocationRecord): void {
    const instance = invocation.instance
    this.setStatus(invocation, 'InProgress', 'In Progress')
    invocation.startedAt = new Date()
    invocation.release = instance.onDeath(() => this.lose(invocation))
    this.later(invocation, command.executionTimeoutSeconds * 1000, () => {
      if (TERMINAL.has(invocation.status) || invocation.lost) return
      invocation.stopping = 'timeout'
      if (invocation.script) invocation.script.kill()
      else this.finish(command, invocation, 'TimedOut', 'Execution Timed Out', -1)
    })
    if (instance.faults.dieAfterMs !== undefined) {
      this.later(invocation, instance.faults.dieAfterMs, () => {
        if (!TERMINAL.has(invocation.status)) instance.die()
      })
    }
    this.later(invocation, instance.faults.slowMs ?? 0, () => {
      if (TERMINAL.has(invocation.status) || invocation.lost || invocation.stopping) return
      if (instance.faults.commandMode === 'fast') this.runFast(command, invocation)
      else this.runShell(command, invocation)
    })
  }

  private workingDirectoryOf(command: CommandRecord, instance: SandboxInstance): string {
    const requested = command.workingDirectory
    if (requested === '') return instance.dir
    return isAbsolute(requested) ? requested : join(instance.dir, requested)
  }

  private runShell(command: CommandRecord, invocation: InvocationRecord): void {
    const instance = invocation.instance
    const cwd = this.workingDirectoryOf(command, instance)
    let isDirectory = false
    try {
      isDirectory = statSync(cwd).isDirectory()
    } catch {
      isDirectory = false
    }
    if (!isDirectory) {
      invocation.stderr = `failed to run commands: workingDirectory ${cwd} does not exist or is not a directory\n`
      return this.finish(command, invocation, 'Failed', 'Failed', 1)
    }
    let script: RunningScript
    try {
      script = runScript({
        instance,
        commandId: command.id,
        commands: command.commands,
        workingDirectory: cwd,
        // The agent's own environment under systemd: a minimal PATH, no HOME, no LANG.
        env: {
          PATH: this.fleet.agentPath(instance),
          AWS_SSM_INSTANCE_ID: instance.id,
          AWS_SSM_REGION_NAME: this.settings.region,
          ...this.settings.instanceEnv,
          ...instance.env,
        },
        readLimits: {
          stdout: OUTPUT_LIMITS.standardOutput + 1,
          stderr: OUTPUT_LIMITS.standardError + 1,
        },
      })
    } catch (error) {
      // The host could not start the script (no fds or processes left): the agent reports a failure.
      invocation.stderr = `failed to run commands: ${error instanceof Error ? error.message : String(error)}\n`
      return this.finish(command, invocation, 'Failed', 'Failed', 1)
    }
    invocation.script = script
    void script.done.then(async outcome => {
      invocation.script = undefined
      if (invocation.lost || TERMINAL.has(invocation.status)) return
      invocation.stdout = outcome.stdout
      invocation.stderr = outcome.stderr
      // The agent uploads the full output before it reports the result.
      await this.uploadOutput(command, invocation, script.orchestrationDir)
      if (invocation.lost || TERMINAL.has(invocation.status)) return
      if (invocation.stopping === 'timeout')
        return this.finish(command, invocation, 'TimedOut', 'Execution Timed Out', -1)
      if (invocation.stopping === 'cancel')
        return this.finish(command, invocation, 'Cancelled', 'Cancelled', -1)
      const code = outcome.exitCode ?? -1
      if (code === 0) this.finish(command, invocation, 'Success', 'Success', 0)
      else this.finish(command, invocation, 'Failed', 'Failed', code)
    })
  }

  private runFast(command: CommandRecord, invocation: InvocationRecord): void {
    void Promise.resolve()
      .then(() =>
        this.settings.fastHandler({
          instance: invocation.instance,
          commandId: command.id,
          commands: command.commands,
          workingDirectory: this.workingDirectoryOf(command, invocation.instance),
        }),
      )
      .then(
        result => result,
        (error: unknown): FastResult => ({
          exitCode: 1,
          stderr: `${error instanceof Error ? error.message : String(error)}\n`,
        }),
      )
      .then(result => {
        const complete = () => {
          if (invocation.lost || TERMINAL.has(invocation.status) || invocation.stopping) return
          invocation.stdout = result.stdout ?? ''
          invocation.stderr = result.stderr ?? ''
          if (result.exitCode === 0) this.finish(command, invocation, 'Success', 'Success', 0)
          else this.finish(command, invocation, 'Failed', 'Failed', result.exitCode)
        }
        const duration = result.durationMs ?? 0
        if (duration > 0) this.later(invocation, duration, complete)
        else complete()
      })
  }

  private async uploadOutput(
    command: CommandRecord,
    invocation: InvocationRecord,
    dir: string,
  ): Promise<void> {
    const bucket = command.output.OutputS3BucketName
    const upload = this.settings.outputUploader
    if (bucket === '' || !upload) return
    const prefix = command.output.OutputS3KeyPrefix.replace(/\/+$/, '')
    for (const stream of ['stdout', 'stderr'] as const) {
      let body: Buffer
      try {
        body = readFileSync(join(dir, stream))
      } catch {
        continue
      }
      const key = [
        prefix,
        command.id,
        invocation.instance.id,
        'awsrunShellScript/0.awsrunShellScript',
        stream,
      ]
        .filter(part => part !== '')
        .join('/')
      try {
        invocation.outputUrls[stream] = await upload(bucket, key, body)
      } catch {
        // As on a host whose role may not write the bucket: the result is still reported.
      }
    }
  }

  /** The host died under a running invocation: it never reports back. */
  private lose(invocation: InvocationRecord): void {
    if (TERMINAL.has(invocation.status)) return
    invocation.lost = true
    invocation.script?.kill()
    for (const timer of invocation.timers) clearTimeout(timer)
    invocation.timers.clear()
  }

  private cancelInvocation(invocation: InvocationRecord): void {
    const command = this.commands.get(invocation.commandId) as CommandRecord
    if (TERMINAL.has(invocation.status)) return
    if (invocation.status === 'InProgress' && invocation.script && !invocation.lost) {
      invocation.stopping = 'cancel'
      this.setStatus(invocation, 'Cancelling', 'Cancelling')
      invocation.script.kill()
      return
    }
    this.finish(command, invocation, 'Cancelled', 'Cancelled', -1)
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

  private setStatus(invocation: InvocationRecord, status: InvocationStatus, details: string): void {
    invocation.status = status
    invocation.statusDetails = details
  }

  private finish(
    command: CommandRecord,
    invocation: InvocationRecord,
    status: InvocationStatus,
    details: string,
    responseCode: number,
  ): void {
    if (TERMINAL.has(invocation.status)) return
    this.setStatus(invocation, status, details)
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
            this.setStatus(other, 'Cancelled', 'Terminated')
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

  // ---- helpers --------------------------------------------------------------------------

  private readParameters(input: Json): Record<string, string[]> {
    const raw = input.Parameters
    if (raw === undefined || raw === null) {
      throw new ServiceError('InvalidParameters', 'Parameters required for the document: commands')
    }
    if (typeof raw !== 'object' || Array.isArray(raw)) throw wrongType('Parameters', 'a map')
    const parameters: Record<string, string[]> = {}
    for (const [name, value] of Object.entries(raw as Json)) {
      if (!Array.isArray(value) || value.some(item => typeof item !== 'string')) {
        throw wrongType(`Parameters.${name}`, 'a list of strings')
      }
      if (!['commands', 'workingDirectory', 'executionTimeout'].includes(name)) {
        throw new ServiceError(
          'InvalidParameters',
          `Parameter "${name}" is not a parameter of ${RUN_SHELL_SCRIPT}.`,
        )
      }
      parameters[name] = value as string[]
    }
    if (!parameters.commands || parameters.commands.length === 0) {
      throw new ServiceError('InvalidParameters', 'Parameters required for the document: commands')
    }
    for (const name of ['executionTimeout', 'workingDirectory']) {
      if ((parameters[name]?.length ?? 0) > 1) {
        throw new ServiceError('InvalidParameters', `Parameter "${name}" takes a single value.`)
      }
    }
    const timeout = parameters.executionTimeout?.[0]
    if (timeout !== undefined && !(EXECUTION_TIMEOUT.test(timeout) && Number(timeout) <= 172800)) {
      throw new ServiceError(
        'InvalidParameters',
        `Parameter "executionTimeout" "${timeout}" does not match the allowed pattern: a number of seconds from 1 to 172800.`,
      )
    }
    return parameters
  }

  private resolveInstanceIds(ids: readonly string[]): SandboxInstance[] {
    const unique = [...new Set(ids)]
    const invalid = unique.filter(id => {
      const instance = isInstanceId(id) ? this.fleet.get(id) : undefined
      return !instance || !instance.ssmManaged || instance.state === 'terminated'
    })
    if (invalid.length > 0) {
      throw new ServiceError(
        'InvalidInstanceId',
        `Instances [[${invalid.join(', ')}]] not in a valid state for account ${this.settings.accountId}`,
      )
    }
    return unique.map(id => this.fleet.get(id) as SandboxInstance)
  }

  private resolveTargets(targets: readonly { Key: string; Values: string[] }[]): SandboxInstance[] {
    for (const target of targets) {
      if (
        target.Key !== 'InstanceIds' &&
        target.Key !== 'tag-key' &&
        !target.Key.startsWith('tag:')
      ) {
        throw new ServiceError('InvalidTarget', `Target key ${target.Key} is not supported.`)
      }
    }
    return this.fleet
      .list()
      .filter(instance => instance.ssmManaged && instance.state !== 'terminated')
      .filter(instance =>
        targets.every(target => {
          if (target.Key === 'InstanceIds')
            return target.Values.includes('*') || target.Values.includes(instance.id)
          if (target.Key === 'tag-key') return target.Values.some(key => instance.tags.has(key))
          const value = instance.tags.get(target.Key.slice('tag:'.length))
          return value !== undefined && target.Values.includes(value)
        }),
      )
  }

  private checkCommandId(commandId: string): void {
    if (commandId.length !== 36) {
      throw validation(
        'commandId',
        commandId,
        commandId.length < 36
          ? 'Member must have length greater than or equal to 36'
          : 'Member must have length less than or equal to 36',
      )
    }
    if (!COMMAND_ID.test(commandId)) throw new ServiceError('InvalidCommandId', '')
  }

  private readCommandFilters(
    input: Json,
    allowed: readonly string[],
  ): { key: string; value: string }[] {
    const filters = optionalList(input, 'Filters') ?? []
    return filters.map(filter => {
      const key = optionalString(filter, 'key')
      const value = optionalString(filter, 'value')
      if (key === undefined || !allowed.includes(key))
        throw new ServiceError('InvalidFilterKey', '')
      if (value === undefined)
        throw validation('filters.member.value', 'null', 'Member must not be null')
      return { key, value }
    })
  }

  private timeFilter(key: string, value: string, at: Date): boolean {
    const bound = Date.parse(value)
    if (Number.isNaN(bound))
      throw new ServiceError('InvalidFilterValue', `${key} value ${value} is not a timestamp.`)
    return key === 'InvokedAfter' ? at.getTime() >= bound : at.getTime() <= bound
  }

  private commandStatusMatches(command: CommandRecord, wanted: string): boolean {
    const { status, details } = this.commandStatus(command)
    return status === wanted || details.replaceAll(' ', '') === wanted
  }

  private paginate<T>(input: Json, listing: string, items: readonly T[], defaultMax: number) {
    const maxResults = optionalInteger(input, 'MaxResults') ?? defaultMax
    const limitLow = listing === 'DescribeInstanceInformation' ? 5 : 1
    if (maxResults < limitLow) {
      throw validation(
        'maxResults',
        maxResults,
        `Member must have value greater than or equal to ${limitLow}`,
      )
    }
    if (maxResults > 50)
      throw validation('maxResults', maxResults, 'Member must have value less than or equal to 50')
    const token = optionalString(input, 'NextToken')
    let offset = 0
    if (token !== undefined) {
      const decoded = decodeToken(token, listing)
      if (decoded === undefined)
        throw new ServiceError('InvalidNextToken', 'The specified token is not valid.')
      offset = decoded
    }
    const end = offset + maxResults
    return {
      items: items.slice(offset, end),
      next: end < items.length ? { NextToken: encodeToken(listing, end) } : {},
    }
  }

  private describeCommand(command: CommandRecord): Json {
    const { status, details } = this.commandStatus(command)
    const invocations = command.invocations
    return {
      CommandId: command.id,
      DocumentName: command.documentName,
      DocumentVersion: command.documentVersion,
      Comment: command.comment,
      ExpiresAfter: epochSeconds(command.expiresAt),
      Parameters: command.parameters,
      InstanceIds: command.requestedInstanceIds,
      Targets: command.targets,
      RequestedDateTime: epochSeconds(command.requestedAt),
      Status: status,
      StatusDetails: details,
      OutputS3Region: command.output.OutputS3Region,
      OutputS3BucketName: command.output.OutputS3BucketName,
      OutputS3KeyPrefix: command.output.OutputS3KeyPrefix,
      MaxConcurrency: command.maxConcurrency,
      MaxErrors: command.maxErrors,
      TargetCount: invocations.length,
      CompletedCount: invocations.filter(i => TERMINAL.has(i.status)).length,
      ErrorCount: command.errorCount,
      DeliveryTimedOutCount: invocations.filter(i => i.statusDetails === 'Delivery Timed Out')
        .length,
      ServiceRole: command.output.ServiceRole,
      NotificationConfig: command.output.NotificationConfig,
      CloudWatchOutputConfig: command.output.CloudWatchOutputConfig,
      TimeoutSeconds: command.timeoutSeconds,
      TriggeredAlarms: [],
    }
  }

  private describeInvocation(invocation: InvocationRecord, details: boolean): Json {
    const command = this.commands.get(invocation.commandId) as CommandRecord
    const plugin: Json = {
      Name: PLUGIN_NAME,
      Status: pluginStatus(invocation.status),
      StatusDetails: invocation.statusDetails,
      ResponseCode: invocation.responseCode,
      Output: pluginOutput(invocation.stdout, invocation.stderr),
      StandardOutputUrl: invocation.outputUrls.stdout,
      StandardErrorUrl: invocation.outputUrls.stderr,
      OutputS3Region: command.output.OutputS3Region,
      OutputS3BucketName: command.output.OutputS3BucketName,
      OutputS3KeyPrefix: command.output.OutputS3KeyPrefix,
    }
    if (invocation.startedAt) plugin.ResponseStartDateTime = epochSeconds(invocation.startedAt)
    if (invocation.startedAt && invocation.endedAt)
      plugin.ResponseFinishDateTime = epochSeconds(invocation.endedAt)
    return {
      CommandId: command.id,
      InstanceId: invocation.instance.id,
      InstanceName: '',
      Comment: command.comment,
      DocumentName: command.documentName,
      DocumentVersion: command.documentVersion,
      RequestedDateTime: epochSeconds(command.requestedAt),
      Status: invocation.status,
      StatusDetails: invocation.statusDetails,
      TraceOutput: '',
      StandardOutputUrl: invocation.outputUrls.stdout,
      StandardErrorUrl: invocation.outputUrls.stderr,
      CommandPlugins: details ? [plugin] : [],
      ServiceRole: command.output.ServiceRole,
      NotificationConfig: command.output.NotificationConfig,
      CloudWatchOutputConfig: command.output.CloudWatchOutputConfig,
    }
  }
}

function pluginStatus(status: InvocationStatus): string {
  if (status === 'Delayed') return 'Pending'
  if (status === 'Cancelling') return 'InProgress'
  return status
}

function invocationStatusMatches(invocation: InvocationRecord, wanted: string): boolean {
  if (invocation.status === wanted) return true
  return invocation.statusDetails.replaceAll(' ', '') === wanted
}

/** The JSON 1.1 front end of SsmService (`X-Amz-Target: AmazonSSM.<Operation>`). */
export class SsmFrontEnd implements ServiceFrontEnd {
  readonly service = 'ssm'
  readonly ssm: SsmService
  private readonly operations: Record<string, (input: Json) => Json>
  /** Throws a ServiceError (AccessDeniedException) for a call the signer may not make. */
  private readonly authorize:
    ((operation: string, request: IncomingMessage, input: Json) => void) | undefined

  constructor(
    ssm: SsmService,
    authorize?: (operation: string, request: IncomingMessage, input: Json) => void,
  ) {
    this.ssm = ssm
    this.authorize = authorize
    this.operations = {
      SendCommand: input => ssm.sendCommand(input),
      ListCommands: input => ssm.listCommands(input),
      ListCommandInvocations: input => ssm.listCommandInvocations(input),
      GetCommandInvocation: input => ssm.getCommandInvocation(input),
      DescribeInstanceInformation: input => ssm.describeInstanceInformation(input),
      CancelCommand: input => ssm.cancelCommand(input),
    }
  }

  operationOf(request: IncomingMessage): string {
    const target = request.headers['x-amz-target']
    const value = Array.isArray(target) ? target[0] : target
    if (request.method !== 'POST' || value === undefined || !value.startsWith('AmazonSSM.')) {
      throw new ServiceError('UnknownOperationException', '', 400)
    }
    const operation = value.slice('AmazonSSM.'.length)
    if (!Object.hasOwn(this.operations, operation)) {
      throw new ServiceError(
        'UnknownOperationException',
        `The sandbox does not implement ${operation}.`,
        400,
      )
    }
    return operation
  }

  async handle(operation: string, request: IncomingMessage, body: string): Promise<WireResponse> {
    let input: unknown
    try {
      input = body.trim() === '' ? {} : JSON.parse(body)
    } catch {
      throw new ServiceError(
        'SerializationException',
        'Start of structure or map found where not expected.',
      )
    }
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      throw new ServiceError(
        'SerializationException',
        'Start of structure or map found where not expected.',
      )
    }
    this.authorize?.(operation, request, input as Json)
    const handler = this.operations[operation] as (input: Json) => Json
    return this.json(200, handler(input as Json))
  }

  throttled(): WireResponse {
    return this.json(400, { __type: 'ThrottlingException', message: 'Rate exceeded' })
  }

  error(error: ServiceError): WireResponse {
    return this.json(error.status, { __type: error.code, message: error.message })
  }

  private json(status: number, body: unknown): WireResponse {
    return { status, contentType: 'application/x-amz-json-1.1', body: JSON.stringify(body) }
  }
}
