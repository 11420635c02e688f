// The SDK's commands are loaded with import() where a call needs them, so a step that fails
// on its inputs never loads the SDK (bench/startup); statically, only its types.
import type { CommandInvocation, SSMClient } from '@aws-sdk/client-ssm'
import { explainFleetCall } from '../../aws/src/index.js'
import { errorMessage, sleep as realSleep, type Logger } from '../../kit/src/index.js'
import {
  NO_INVOCATION_REASON,
  endedKind,
  judgeInvocation,
  type InvocationState,
  type OutcomeKind,
} from './verdict.js'

/** SendCommand accepts at most this many InstanceIds per call. */
export const SEND_COMMAND_MAX_TARGETS = 50
/** GetCommandInvocation returns at most this much of stdout; more lives only in S3/CloudWatch. */
export const STDOUT_LIMIT = 24_000
/** … and this much of stderr. */
export const STDERR_LIMIT = 8_000

/** What to run, where, and how SSM should roll it out. */
export interface FleetCommand {
  instanceIds: readonly string[]
  /** AWS-RunShellScript `commands`. */
  commands: readonly string[]
  /** Shown in the SSM console; at most 100 characters. */
  comment?: string | undefined
  /** How long the script may run on one instance. */
  executionTimeoutSeconds: number
  /** How long SSM may take to deliver the command to an agent (SendCommand TimeoutSeconds). */
  deliveryTimeoutSeconds: number
  /**
   * SSM MaxConcurrency: '1', '10', '25%'. Applies within each SendCommand call of ≤ 50
   * instances; FleetDeploy sends a step's hosts all at once and does the rolling itself.
   */
  maxConcurrency: string
  /** SSM MaxErrors: '0', '1', '10%'. Applies within each SendCommand call of ≤ 50 instances. */
  maxErrors: string
  outputS3BucketName?: string | undefined
  outputS3KeyPrefix?: string | undefined
  cloudWatchLogGroupName?: string | undefined
}

/** Polling knobs; the defaults suit real SSM, tests shrink them. */
export interface PollTuning {
  /** First wait between poll rounds, and the wait after any progress. */
  initialDelayMs: number
  /** Longest wait between rounds while nothing changes and nothing runs yet (delivery). */
  maxDelayMs: number
  /**
   * Longest wait while some instance is running: the end of a deploy is noticed within this
   * (half of it on median), which is what a person waiting for the result feels.
   */
  activeMaxDelayMs: number
  /** How long an instance may be absent from a command's invocations before it counts as failed. */
  missingGraceMs: number
  /** Added to the computed deadline (delivery + waves × execution timeout). */
  deadlineSlackMs: number
  sleep: (ms: number) => Promise<void>
  now: () => number
}

export const DEFAULT_POLL_TUNING: PollTuning = {
  initialDelayMs: 1000,
  maxDelayMs: 5000,
  activeMaxDelayMs: 1500,
  missingGraceMs: 30_000,
  deadlineSlackMs: 60_000,
  sleep: realSleep,
  now: () => Date.now(),
}

/** How one instance ended. */
export interface InstanceOutcome {
  instanceId: string
  commandId: string
  /** SSM's Status, or 'Missing' when SSM never listed an invocation for the instance. */
  status: string
  statusDetails: string
  /** The script's exit code; undefined when it never ran. */
  exitCode: number | undefined
  verdict: 'success' | 'failed'
  /** How the invocation ended; code branches on this, never on `reason`. */
  kind: OutcomeKind
  reason: string
  durationMs: number | undefined
  /** The first 2,500 characters of output, from ListCommandInvocations. */
  outputHead: string
}

/** Thrown by {@link FleetCommands.wait} when it was asked to stop waiting. */
export class WaitAborted extends Error {
  override name = 'WaitAborted'
  constructor() {
    super('waiting for the command was aborted')
  }
}

/** Call counts, for logs and benchmarks. */
export interface FleetStats {
  sendCalls: number
  listCalls: number
  rounds: number
  maxListCallsPerRound: number
  throttledRounds: number
}

/** SendCommand's TimeoutSeconds bounds. */
const MIN_DELIVERY_SECONDS = 30
const MAX_DELIVERY_SECONDS = 2_592_000
/** The longest an agent is given to pick a command up, once its wave is due. */
const MAX_PICKUP_SECONDS = 600

/**
 * A SendCommand TimeoutSeconds (counted from the send) that lets every rolling wave start
 * and no more: the waves before the last must finish first ((waves − 1) × execution
 * timeout), then an agent gets as long as one execution timeout (30 s to 10 minutes) to pick
 * the command up. So an offline agent holds a one-wave deploy with `timeout: 2m` for two
 * minutes, not for SSM's default or a fixed quarter of an hour; it then ends DeliveryTimedOut.
 */
export function deliveryTimeoutFor(
  instanceCount: number,
  maxConcurrency: string,
  executionTimeoutSeconds: number,
): number {
  const largestChunk = Math.max(1, Math.min(instanceCount, SEND_COMMAND_MAX_TARGETS))
  const waves = Math.ceil(largestChunk / concurrencyOf(maxConcurrency, largestChunk))
  const pickup = Math.min(MAX_PICKUP_SECONDS, executionTimeoutSeconds)
  return Math.min(
    MAX_DELIVERY_SECONDS,
    Math.max(MIN_DELIVERY_SECONDS, (waves - 1) * executionTimeoutSeconds + pickup),
  )
}

/** Splits a list into chunks of at most `size`. */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = []
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size))
  return chunks
}

/** How many instances of `total` run at once under an SSM MaxConcurrency value. */
export function concurrencyOf(maxConcurrency: string, total: number): number {
  const percent = /^(\d+)%$/.exec(maxConcurrency)
  const count = percent ? Math.ceil((total * Number(percent[1])) / 100) : Number(maxConcurrency)
  return Math.max(1, Math.min(total, Number.isFinite(count) ? count : total))
}

function isThrottling(error: unknown): boolean {
  const name = (error as { name?: string } | undefined)?.name ?? ''
  return /Throttl|TooManyRequests|RequestLimitExceeded/i.test(name)
}

interface Tracked {
  instanceId: string
  commandId: string
  state?: InvocationState & {
    output: string
    started?: Date | undefined
    finished?: Date | undefined
  }
  outcome?: InstanceOutcome
}

/**
 * Runs one shell command on many instances through SSM Run Command and judges every instance
 * itself: sends in chunks of ≤ 50 (SSM's MaxConcurrency/MaxErrors do the rolling), polls
 * ListCommandInvocations with backoff, and ends at the command's own deadline rather than a
 * fixed cap.
 */
export class FleetCommands {
  readonly stats: FleetStats = {
    sendCalls: 0,
    listCalls: 0,
    rounds: 0,
    maxListCallsPerRound: 0,
    throttledRounds: 0,
  }
  readonly commandIds: string[] = []
  private readonly tuning: PollTuning

  constructor(
    private readonly ssm: SSMClient,
    private readonly logger: Logger,
    tuning: Partial<PollTuning> = {},
  ) {
    this.tuning = { ...DEFAULT_POLL_TUNING, ...tuning }
  }

  /** Sends the command in ⌈N/50⌉ SendCommand calls; returns the instances of each command id. */
  async send(command: FleetCommand): Promise<Map<string, string[]>> {
    const { SendCommandCommand } = await import('@aws-sdk/client-ssm')
    const byCommand = new Map<string, string[]>()
    for (const instanceIds of chunk(command.instanceIds, SEND_COMMAND_MAX_TARGETS)) {
      this.stats.sendCalls++
      const response = await explainFleetCall(this.ssm, 'SendCommand', instanceIds, () =>
        this.ssm.send(
          new SendCommandCommand({
            DocumentName: 'AWS-RunShellScript',
            InstanceIds: instanceIds,
            Parameters: {
              commands: [...command.commands],
              executionTimeout: [String(command.executionTimeoutSeconds)],
            },
            TimeoutSeconds: command.deliveryTimeoutSeconds,
            MaxConcurrency: command.maxConcurrency,
            MaxErrors: command.maxErrors,
            Comment: command.comment?.slice(0, 100),
            OutputS3BucketName: command.outputS3BucketName,
            OutputS3KeyPrefix: command.outputS3KeyPrefix,
            CloudWatchOutputConfig: command.cloudWatchLogGroupName
              ? {
                  CloudWatchLogGroupName: command.cloudWatchLogGroupName,
                  CloudWatchOutputEnabled: true,
                }
              : undefined,
          }),
        ),
      )
      const commandId = response.Command?.CommandId
      if (!commandId) throw new Error('SSM SendCommand returned no CommandId')
      this.commandIds.push(commandId)
      byCommand.set(commandId, instanceIds)
      this.logger.info(
        `Sent command ${commandId} to ${instanceIds.length} instance(s): ${instanceIds.join(', ')}`,
      )
    }
    return byCommand
  }

  /**
   * The latest moment worth waiting for: SSM's delivery timeout (which must cover every
   * rolling wave, see {@link deliveryTimeoutFor}), then one execution timeout for the last
   * instance started, plus slack.
   */
  deadlineFor(command: FleetCommand, startedAt: number): number {
    return (
      startedAt +
      (command.deliveryTimeoutSeconds + command.executionTimeoutSeconds) * 1000 +
      this.tuning.deadlineSlackMs
    )
  }

  /**
   * Polls until every instance has a final verdict or the deadline passes. `aborted` is checked
   * between rounds, so a cancelled workflow stops waiting promptly: it throws {@link WaitAborted}.
   */
  async wait(
    byCommand: ReadonlyMap<string, readonly string[]>,
    deadline: number,
    aborted: () => boolean = () => false,
  ): Promise<InstanceOutcome[]> {
    const { ListCommandInvocationsCommand } = await import('@aws-sdk/client-ssm')
    const { now } = this.tuning
    const start = now()
    const tracked = new Map<string, Tracked>()
    for (const [commandId, instanceIds] of byCommand) {
      for (const instanceId of instanceIds)
        tracked.set(`${commandId}/${instanceId}`, { commandId, instanceId })
    }
    let delay = this.tuning.initialDelayMs
    for (;;) {
      if (aborted()) throw new WaitAborted()
      this.stats.rounds++
      let callsThisRound = 0
      let throttled = false
      let progress = false
      // Commands whose invocations were all listed this round: only for those does an
      // absent instance mean anything (a throttled listing proves nothing).
      const listed = new Set<string>()
      for (const commandId of byCommand.keys()) {
        const open = [...tracked.values()].some(t => t.commandId === commandId && !t.outcome)
        if (!open) continue
        let nextToken: string | undefined
        let complete = true
        do {
          callsThisRound++
          this.stats.listCalls++
          try {
            const page = await this.ssm.send(
              new ListCommandInvocationsCommand({
                CommandId: commandId,
                Details: true,
                MaxResults: 50,
                NextToken: nextToken,
              }),
            )
            for (const invocation of page.CommandInvocations ?? []) {
              const entry = tracked.get(`${commandId}/${invocation.InstanceId}`)
              if (entry && !entry.outcome && this.record(entry, invocation)) progress = true
            }
            nextToken = page.NextToken
          } catch (error) {
            if (!isThrottling(error)) throw error
            // The SDK already retried; back off harder instead of failing the deploy.
            throttled = true
            complete = false
            nextToken = undefined
            this.logger.warning(
              `SSM is throttling ListCommandInvocations (${errorMessage(error)}); slowing down`,
            )
          }
        } while (nextToken)
        if (complete) listed.add(commandId)
      }
      this.stats.maxListCallsPerRound = Math.max(this.stats.maxListCallsPerRound, callsThisRound)
      if (throttled) this.stats.throttledRounds++

      const elapsed = now() - start
      for (const entry of tracked.values()) {
        if (entry.outcome) continue
        if (!entry.state && listed.has(entry.commandId) && elapsed >= this.tuning.missingGraceMs) {
          entry.outcome = this.outcome(entry, 'Missing', '', undefined, {
            verdict: 'failed',
            kind: 'undeliverable',
            reason: NO_INVOCATION_REASON,
          })
          progress = true
        }
      }
      const open = [...tracked.values()].filter(t => !t.outcome)
      if (open.length === 0) break
      if (now() >= deadline) {
        for (const entry of open) {
          const status = entry.state?.status ?? 'Missing'
          entry.outcome = this.outcome(entry, status, entry.state?.statusDetails ?? '', undefined, {
            verdict: 'failed',
            kind: 'timed-out',
            reason: `still ${status} when the deadline passed (delivery timeout + execution timeout per wave)`,
          })
        }
        break
      }
      const running = open.some(t => t.state?.status === 'InProgress')
      const cap = running ? this.tuning.activeMaxDelayMs : this.tuning.maxDelayMs
      delay = throttled
        ? Math.min(this.tuning.maxDelayMs * 2, delay * 2)
        : progress
          ? this.tuning.initialDelayMs
          : Math.min(cap, Math.round(delay * 1.5))
      await this.tuning.sleep(Math.min(delay, Math.max(0, deadline - now())))
    }
    return [...tracked.values()].map(t => t.outcome as InstanceOutcome)
  }

  /** Records an invocation; returns true when something changed. */
  private record(entry: Tracked, invocation: CommandInvocation): boolean {
    const plugin = invocation.CommandPlugins?.[0]
    const exitCode = plugin?.ResponseCode
    const state = {
      status: invocation.Status,
      statusDetails: invocation.StatusDetails,
      responseCode: exitCode,
      output: plugin?.Output ?? '',
      started: plugin?.ResponseStartDateTime,
      finished: plugin?.ResponseFinishDateTime,
    }
    const changed =
      entry.state?.status !== state.status || entry.state?.statusDetails !== state.statusDetails
    entry.state = state
    const judgement = judgeInvocation(state)
    if (judgement.verdict !== 'pending') {
      entry.outcome = this.outcome(
        entry,
        state.status ?? '',
        state.statusDetails ?? '',
        exitCode !== undefined && exitCode >= 0 ? exitCode : undefined,
        { verdict: judgement.verdict, kind: endedKind(state), reason: judgement.reason },
      )
    }
    return changed
  }

  private outcome(
    entry: Tracked,
    status: string,
    statusDetails: string,
    exitCode: number | undefined,
    ending: Pick<InstanceOutcome, 'verdict' | 'kind' | 'reason'>,
  ): InstanceOutcome {
    const { started, finished } = entry.state ?? {}
    return {
      instanceId: entry.instanceId,
      commandId: entry.commandId,
      status,
      statusDetails,
      exitCode,
      ...ending,
      durationMs:
        started && finished ? Math.max(0, finished.getTime() - started.getTime()) : undefined,
      outputHead: entry.state?.output ?? '',
    }
  }

  /** The fuller output of one invocation (first 24,000 / 8,000 characters), with truncation flags. */
  async output(
    commandId: string,
    instanceId: string,
  ): Promise<{
    stdout: string
    stderr: string
    stdoutTruncated: boolean
    stderrTruncated: boolean
  }> {
    const { GetCommandInvocationCommand } = await import('@aws-sdk/client-ssm')
    const response = await this.ssm.send(
      new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }),
    )
    const stdout = response.StandardOutputContent ?? ''
    const stderr = response.StandardErrorContent ?? ''
    return {
      stdout,
      stderr,
      stdoutTruncated: stdout.length >= STDOUT_LIMIT,
      stderrTruncated: stderr.length >= STDERR_LIMIT,
    }
  }

  /** Cancels every command these commands sent; errors are logged, not thrown (we are already failing). */
  async cancelAll(): Promise<void> {
    await this.cancel(this.commandIds)
  }

  /** Cancels the given commands; errors are logged, not thrown (we are already failing). */
  async cancel(commandIds: Iterable<string>): Promise<void> {
    const { CancelCommandCommand } = await import('@aws-sdk/client-ssm')
    await Promise.all(
      [...commandIds].map(async commandId => {
        try {
          await this.ssm.send(new CancelCommandCommand({ CommandId: commandId }))
          this.logger.warning(`Cancelled command ${commandId}`)
        } catch (error) {
          this.logger.error(`Cancelling command ${commandId} failed: ${errorMessage(error)}`)
        }
      }),
    )
  }
}
