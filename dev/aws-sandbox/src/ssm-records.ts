/**
 * The state SSM keeps of a command and of its invocations (one per instance), and the words
 * every part of the SSM stand-in shares: the document, its plugin, the statuses.
 */
import type { SandboxInstance } from './instances.js'
import type { RunningScript } from './agent-script.js'

/** A JSON 1.1 request or answer body. */
export type Json = Record<string, unknown>

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

/** The invocation statuses that never change again. */
export const TERMINAL: ReadonlySet<InvocationStatus> = new Set([
  'Success',
  'Cancelled',
  'TimedOut',
  'Failed',
])

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

/** Where a command's output goes besides the API, as SendCommand gave it. */
export interface CommandOutputOptions {
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
  /** The State Manager association this command applies; undefined for SendCommand's. */
  readonly associationId: string | undefined
  readonly expiresAt: Date
  readonly visibleAt: number
  readonly maxConcurrency: string
  readonly maxErrors: string
  readonly concurrencyLimit: number
  readonly errorLimit: number
  readonly output: CommandOutputOptions
  readonly invocations: InvocationRecord[]
  /** Stop dispatching: MaxErrors exceeded or cancelled. */
  stopped: boolean
  cancelled: boolean
  errorCount: number
  completedAt: Date | undefined
  expiryTimer: NodeJS.Timeout | undefined
}

/** The longest delay setTimeout takes. */
export const MAX_TIMER_MS = 2 ** 31 - 1

export function setStatus(
  invocation: InvocationRecord,
  status: InvocationStatus,
  details: string,
): void {
  invocation.status = status
  invocation.statusDetails = details
}

/** Runs `action` after `ms`, unless the invocation's timers are cleared first (it ended). */
export function later(invocation: InvocationRecord, ms: number, action: () => void): void {
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
