/**
 * What SSM answers about commands, invocations and managed instances: the command's status as
 * SSM derives it from its invocations, the shapes of ListCommands, ListCommandInvocations,
 * GetCommandInvocation and DescribeInstanceInformation, and the output caps (24,000 characters
 * of stdout and 8,000 of stderr in GetCommandInvocation; 2,500 in a plugin's Output).
 */
import type { SandboxInstance } from './instances.js'
import {
  type CommandRecord,
  type CommandStatus,
  type InvocationRecord,
  type InvocationStatus,
  type Json,
  PLUGIN_NAME,
  TERMINAL,
} from './ssm-records.js'

/** SSM caps on output returned by the API (characters). */
export const OUTPUT_LIMITS = {
  /** CommandPlugins[].Output in ListCommandInvocations with Details. */
  pluginOutput: 2500,
  /** GetCommandInvocation StandardOutputContent. */
  standardOutput: 24000,
  /** GetCommandInvocation StandardErrorContent. */
  standardError: 8000,
} as const

/** A JSON 1.1 timestamp: seconds since the epoch. */
export function epochSeconds(date: Date): number {
  return date.getTime() / 1000
}

/** ISO 8601 duration as GetCommandInvocation reports ExecutionElapsedTime. */
function isoDuration(ms: number): string {
  return `PT${(ms / 1000).toFixed(3)}S`
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

/** The command's Status and StatusDetails, derived from its invocations as SSM does. */
export function commandStatus(command: CommandRecord): { status: CommandStatus; details: string } {
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
  const deliveryTimeouts = invocations.filter(i => i.statusDetails === 'Delivery Timed Out').length
  const counted = invocations.filter(i => i.statusDetails !== 'Undeliverable')
  const successes = counted.filter(i => i.status === 'Success').length
  if (deliveryTimeouts > command.errorLimit && successes === 0) {
    return { status: 'TimedOut', details: 'Delivery Timed Out' }
  }
  if (counted.length === 0) return { status: 'Failed', details: 'Failed' }
  if (successes === counted.length) return { status: 'Success', details: 'Success' }
  return { status: 'Failed', details: 'Incomplete' }
}

/** A `Status` filter on a command: its Status, or its StatusDetails without spaces. */
export function commandStatusMatches(command: CommandRecord, wanted: string): boolean {
  const { status, details } = commandStatus(command)
  return status === wanted || details.replaceAll(' ', '') === wanted
}

/** A `Status` filter on an invocation: its Status, or its StatusDetails without spaces. */
export function invocationStatusMatches(invocation: InvocationRecord, wanted: string): boolean {
  if (invocation.status === wanted) return true
  return invocation.statusDetails.replaceAll(' ', '') === wanted
}

/** A command as ListCommands and SendCommand answer it. */
export function describeCommand(command: CommandRecord): Json {
  const { status, details } = commandStatus(command)
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
    DeliveryTimedOutCount: invocations.filter(i => i.statusDetails === 'Delivery Timed Out').length,
    ServiceRole: command.output.ServiceRole,
    NotificationConfig: command.output.NotificationConfig,
    CloudWatchOutputConfig: command.output.CloudWatchOutputConfig,
    TimeoutSeconds: command.timeoutSeconds,
    TriggeredAlarms: [],
  }
}

/** The status a plugin (or an association target) reports for an invocation status. */
export function pluginStatus(status: InvocationStatus): string {
  if (status === 'Delayed') return 'Pending'
  if (status === 'Cancelling') return 'InProgress'
  return status
}

/** An invocation as ListCommandInvocations answers it (its plugin only with Details). */
export function describeInvocation(
  command: CommandRecord,
  invocation: InvocationRecord,
  details: boolean,
): Json {
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

/** GetCommandInvocation's answer: stdout and stderr cut at their caps. */
export function invocationResult(command: CommandRecord, invocation: InvocationRecord): Json {
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

/** A managed instance as DescribeInstanceInformation answers it. */
export function instanceInformation(instance: SandboxInstance, region: string): Json {
  return {
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
    ComputerName: `ip-${instance.privateIpAddress.replaceAll('.', '-')}.${region}.compute.internal`,
    SourceId: instance.id,
    SourceType: 'AWS::EC2::Instance',
  }
}
