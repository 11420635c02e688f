// The GitHub-facing part of the kit: only actions/ import this file.
import { randomUUID } from 'node:crypto'
import { EOL } from 'node:os'
import * as core from '@actions/core'
import {
  ConfigurationError,
  errorMessage,
  ReportedFailure,
  type Logger,
  mayRunWorkflowCommand,
} from '../../kit/src/index.js'

/** Writes a workflow command the suite itself issues; never call it with untrusted text. */
function issueOwnCommand(command: string): void {
  process.stdout.write(`${command}${EOL}`)
}

/** Writes text between `::stop-commands::<random token>` and `::<token>::`: none of it runs. */
function writeFenced(text: string): void {
  const token = randomUUID()
  issueOwnCommand(`::stop-commands::${token}`)
  process.stdout.write(`${text}${EOL}`)
  issueOwnCommand(`::${token}::`)
}

/** Writes a line of text to the log; text that could start a workflow command is fenced. */
function writeText(text: string): void {
  if (mayRunWorkflowCommand(text)) writeFenced(text)
  else process.stdout.write(`${text}${EOL}`)
}

/**
 * A Logger on the runner's log. Every message is shown as text and can never run a workflow
 * command: info lines that could are fenced, and warnings, errors, debug lines and group
 * titles are command data, which @actions/core escapes onto one line.
 */
export const runnerLogger: Logger = {
  info: writeText,
  warning: m => core.warning(m),
  error: m => core.error(m),
  debug: m => core.debug(m),
  group: (name, fn) => core.group(name, fn),
}

/** Output values; those that are not strings are written as JSON. */
export type OutputValues = Record<string, string | number | boolean | object>

const outputsWritten = new Set<string>()

/** Sets outputs; values that are not strings are written as JSON. */
export function setOutputs(outputs: OutputValues): void {
  for (const [name, value] of Object.entries(outputs)) {
    core.setOutput(name, typeof value === 'string' ? value : JSON.stringify(value))
    outputsWritten.add(name)
  }
}

/** Sets those of `outputs` that were not set yet. */
function setMissingOutputs(outputs: OutputValues): void {
  setOutputs(
    Object.fromEntries(Object.entries(outputs).filter(([name]) => !outputsWritten.has(name))),
  )
}

/** Appends Markdown to the job summary. */
export async function appendSummary(markdown: string): Promise<void> {
  await core.summary.addRaw(markdown, true).write()
}

/** Options of {@link guardAction}. */
export interface RunActionOptions {
  /**
   * Outputs written on failure when the action had not set them yet, so that later steps
   * (`if: always()`) always find every output, with values that say nothing happened.
   */
  outputsOnFailure?: OutputValues
}

/**
 * Runs an action's main function and turns every way it can fail into a failed step.
 * A ConfigurationError is the user's to fix and a ReportedFailure is an outcome already
 * explained: their messages are shown as is. Anything else
 * (an Error or any other thrown value) is a bug or an outage: the message is shown and the
 * stack goes to the debug log. The process never ends with exit code 0 after a failure, and
 * `outputsOnFailure` fills in the outputs the action did not set. Actions call it through
 * {@link runAction}.
 */
export async function guardAction(
  main: () => Promise<void>,
  options: RunActionOptions = {},
): Promise<void> {
  const failWithOutputs = (error: unknown) => {
    if (options.outputsOnFailure) setMissingOutputs(options.outputsOnFailure)
    fail(error)
  }
  // A promise nobody awaited must not fail silently (or crash without a readable message).
  const onUnhandled = (reason: unknown) => failWithOutputs(reason)
  process.on('unhandledRejection', onUnhandled)
  try {
    await main()
  } catch (error) {
    failWithOutputs(error)
  } finally {
    process.off('unhandledRejection', onUnhandled)
  }
}

function fail(error: unknown): void {
  if (!(error instanceof ConfigurationError) && !(error instanceof ReportedFailure)) {
    const stack = error instanceof Error ? error.stack : undefined
    if (stack) core.debug(stack)
  }
  core.setFailed(errorMessage(error) || 'the action failed with an empty error')
  process.exitCode = 1
}

/**
 * Prints untrusted text (a host's output) in a collapsible log group, fenced with
 * `::stop-commands::<random token>` so none of its lines can run as a workflow command.
 */
export async function printFenced(title: string, text: string): Promise<void> {
  await core.group(title, async () => writeFenced(text))
}
