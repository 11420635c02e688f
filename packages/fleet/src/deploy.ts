import type { EC2Client } from '@aws-sdk/client-ec2'
import { errorMessage, type Logger } from '../../kit/src/index.js'
import {
  describeExitCode,
  parseResultLine,
  renderCommands,
  type RemoteOptions,
} from '../../remote/src/index.js'
import {
  FleetCommands,
  WaitAborted,
  deliveryTimeoutFor,
  type FleetCommand,
  type InstanceOutcome,
} from './command.js'
import { fleetStatus, type FleetStatus, type HostStatus } from './status.js'

export { fleetStatus, type FleetStatus, type HostStatus }

/** One instance's result (the `results` output writes it in kebab-case, at the edge). */
export interface DeployResult {
  instanceId: string
  name: string
  status: HostStatus
  exitCode: number | null
  previousVersion: string
  version: string
  rolledBack: boolean
  durationMs: number | null
  reason: string
  /** What the host warned about (hooks run as root, a missing shared path…). */
  warnings: string[]
  /** The end of the host's output, for failed instances only (the summary shows it). */
  output?: string
}

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
  gates?: readonly import('./waves.js').WaveGate[] | undefined
}

/** How a host's output reaches the log; the action wraps it so it cannot run workflow commands. */
export type OutputPrinter = (instanceId: string, title: string, output: string) => Promise<void>

const OUTPUT_IN_RESULTS = 4000

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

/**
 * Deploys (or rolls back) a release on every instance through SSM: renders the host engine's
 * command, sends it in chunks with SSM's own rolling limits, waits for every instance, reads
 * each host's result line, and judges the fleet. Nothing here trusts SSM's overall status.
 */
export class FleetDeploy {
  private cancelled = false

  constructor(
    private readonly commands: FleetCommands,
    private readonly logger: Logger,
    private readonly ec2?: EC2Client,
  ) {}

  /** Asks the run to stop: pending waits end and every command sent is cancelled. */
  cancel(): void {
    this.cancelled = true
  }

  async run(options: FleetDeployOptions, printOutput: OutputPrinter): Promise<DeployReport> {
    const commands = renderCommands(options.remote)
    const command: FleetCommand = {
      instanceIds: options.instanceIds,
      commands,
      comment: options.comment,
      executionTimeoutSeconds: options.executionTimeoutSeconds,
      deliveryTimeoutSeconds: deliveryTimeoutFor(
        options.instanceIds.length,
        options.maxConcurrency,
        options.executionTimeoutSeconds,
      ),
      maxConcurrency: options.maxConcurrency,
      maxErrors: options.maxErrors,
      outputS3BucketName: options.outputS3BucketName,
      outputS3KeyPrefix: options.outputS3KeyPrefix,
      cloudWatchLogGroupName: options.cloudWatchLogGroupName,
    }
    const names = await instanceNames(this.ec2, options.instanceIds, this.logger)
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
        if (this.cancelled) await this.commands.cancelAll()
        throw error
      }
      await this.commands.cancelAll()
      // One more look, so the report says which hosts were mid-deploy.
      outcomes = await this.commands.wait(byCommand, Date.now() + 15_000)
      const interrupted = outcomes
        .filter(o => o.status === 'Cancelled' || o.status === 'InProgress')
        .map(o => o.instanceId)
      return { ...(await this.report(outcomes, names, printOutput, true)), interrupted }
    }
    // Hosts given up on at the deadline may still run the command: stop it there.
    if (outcomes.some(o => o.kind === 'timed-out')) await this.commands.cancelAll()
    return this.report(outcomes, names, printOutput, false)
  }

  private async report(
    outcomes: InstanceOutcome[],
    names: Map<string, string>,
    printOutput: OutputPrinter,
    cancelledByUs: boolean,
  ): Promise<DeployReport> {
    const results: DeployResult[] = []
    for (const outcome of outcomes) {
      let output = outcome.outputHead
      let cut = ''
      if (outcome.status !== 'Missing') {
        try {
          const full = await this.commands.output(outcome.commandId, outcome.instanceId)
          output = full.stdout + (full.stderr ? `\n--- stderr ---\n${full.stderr}` : '')
          if (full.stdoutTruncated) {
            cut =
              'SSM cut this output at 24,000 characters. The full log is on the host under <deploy-dir>/.deploy/logs/, ' +
              "or set 'output-s3-bucket' or 'cloudwatch-log-group' to keep it in AWS."
          }
        } catch (error) {
          this.logger.debug(`GetCommandInvocation ${outcome.instanceId}: ${errorMessage(error)}`)
        }
      }
      const engine = parseResultLine(output)
      const name = names.get(outcome.instanceId) ?? ''
      const title = `${outcome.instanceId}${name ? ` (${name})` : ''}: ${outcome.status}${
        outcome.exitCode !== undefined ? `, exit ${outcome.exitCode}` : ''
      }`
      if (output) await printOutput(outcome.instanceId, title, cut ? `${output}\n[${cut}]` : output)
      if (cut) this.logger.warning(`${outcome.instanceId}: ${cut}`)

      let status: HostStatus = 'failed'
      let reason = outcome.reason
      if (engine) {
        if (engine.status === 'rolled-back') status = 'rolled-back'
        else if (
          outcome.verdict === 'success' &&
          (engine.status === 'deployed' || engine.status === 'noop')
        )
          status = 'success'
        else if (engine.status === 'failed') status = 'failed-before-switch'
        reason = engine.reason || (status === 'success' ? '' : describeExitCode(engine.exitCode))
      } else if (outcome.verdict === 'success') {
        reason = 'the host printed no result line: the engine did not finish normally'
      } else if (cancelledByUs) {
        status = 'cancelled'
      } else if (outcome.kind === 'cancelled') {
        status = 'untouched'
        reason =
          "not deployed: SSM stopped dispatching after 'max-errors' was reached; this host keeps its previous release"
      }
      results.push({
        instanceId: outcome.instanceId,
        name,
        status,
        exitCode: outcome.exitCode ?? null,
        previousVersion: engine?.previousVersion ?? '',
        version: engine?.version ?? '',
        rolledBack: engine?.rolledBack ?? false,
        durationMs: engine?.durationMs ?? outcome.durationMs ?? null,
        reason,
        warnings: engine?.warnings ?? [],
        ...(status === 'success' ? {} : { output: output.slice(-OUTPUT_IN_RESULTS) }),
      })
    }
    results.sort((a, b) => a.instanceId.localeCompare(b.instanceId))
    return {
      commandIds: [...this.commands.commandIds],
      status: fleetStatus(results.map(r => r.status)),
      results,
      succeeded: results.filter(r => r.status === 'success').length,
      failed: results.filter(r => FAILED.has(r.status)).length,
      rolledBack: results.filter(r => r.status === 'rolled-back').length,
      untouched: results.filter(r => r.status === 'untouched').length,
      previousVersion: mostCommon(results.map(r => r.previousVersion)),
      interrupted: [],
    }
  }
}
