// How each host of one SSM command ended, from SSM's outcome and the engine's result line.
import { errorMessage, type Logger } from '../../kit/src/index.js'
import { describeExitCode, parseResultLine } from '../../remote/src/index.js'
import type { FleetCommands, InstanceOutcome } from './command.js'
import type { HostStatus } from './status.js'

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
  /** The wave of the plan the host was in (1-based). */
  wave: number
}

/** How a host's output reaches the log; the action wraps it so it cannot run workflow commands. */
export type OutputPrinter = (instanceId: string, title: string, output: string) => Promise<void>

/** A host's result, and whether this command switched its `current` to another release. */
export interface JudgedHost {
  result: DeployResult
  switched: boolean
}

const OUTPUT_IN_RESULTS = 4000

/**
 * Reads each host's output, prints it, and judges the host by its engine result line (SSM's
 * status alone never makes a success). `cancelledByUs`: the run was cancelled meanwhile.
 */
export async function judgeHosts(
  commands: FleetCommands,
  outcomes: readonly InstanceOutcome[],
  names: ReadonlyMap<string, string>,
  printOutput: OutputPrinter,
  logger: Logger,
  cancelledByUs: boolean,
): Promise<JudgedHost[]> {
  const judged: JudgedHost[] = []
  for (const outcome of outcomes) {
    let output = outcome.outputHead
    let cut = ''
    if (outcome.status !== 'Missing') {
      try {
        const full = await commands.output(outcome.commandId, outcome.instanceId)
        output = full.stdout + (full.stderr ? `\n--- stderr ---\n${full.stderr}` : '')
        if (full.stdoutTruncated) {
          cut =
            'SSM cut this output at 24,000 characters. The full log is on the host under <deploy-dir>/.deploy/logs/, ' +
            "or set 'output-s3-bucket' or 'cloudwatch-log-group' to keep it in AWS."
        }
      } catch (error) {
        logger.debug(`GetCommandInvocation ${outcome.instanceId}: ${errorMessage(error)}`)
      }
    }
    const engine = parseResultLine(output)
    const name = names.get(outcome.instanceId) ?? ''
    const title = `${outcome.instanceId}${name ? ` (${name})` : ''}: ${outcome.status}${
      outcome.exitCode !== undefined ? `, exit ${outcome.exitCode}` : ''
    }`
    if (output) await printOutput(outcome.instanceId, title, cut ? `${output}\n[${cut}]` : output)
    if (cut) logger.warning(`${outcome.instanceId}: ${cut}`)

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
    judged.push({
      switched: status === 'success' && engine?.status === 'deployed',
      result: {
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
        wave: 0,
      },
    })
  }
  return judged
}
