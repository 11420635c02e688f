// The action entry: an action's contract (getInputs, the output mapping) and its work (run),
// wired to the runner. Every actions/<name>/main.ts is one call of runAction.
import { sleep, type InputSource, type Logger } from '../../kit/src/index.js'
import type { AwsClientFactory } from '../../aws/src/index.js'
import {
  appendSummary,
  guardAction,
  printFenced,
  runnerLogger,
  setOutputs,
  type OutputValues,
  type RunActionOptions,
} from './action.js'
import type { AwsClientsOptions } from './aws.js'
import * as core from '@actions/core'

/** What an action's `run` may use besides its inputs: the runner's side of the world. */
export interface ActionDeps {
  logger: Logger
  env: NodeJS.ProcessEnv
  /** Prints a host's untrusted output in a fenced, collapsible group. */
  printFenced: (title: string, text: string) => Promise<void>
  /** Appends Markdown to the job summary. */
  appendSummary: (markdown: string) => Promise<void>
  /** Masks a value in the log before anything else sees it. */
  setSecret: (value: string) => void
  /** A notice annotation with a title. */
  notice: (message: string, title: string) => void
  sleep: (ms: number) => Promise<void>
  /** Calls `handler` once when the workflow is cancelled (SIGINT, then SIGTERM). */
  onCancel: (handler: (signal: string) => void) => void
}

/**
 * What the actions that call AWS use besides: the client factory, with the common AWS inputs
 * applied (OIDC role, region, retries). Passed by those actions' main.ts only, so that the
 * others' bundles do not carry the AWS side (bench/startup).
 */
export interface AwsActionDeps extends ActionDeps {
  awsClients: (options: AwsClientsOptions) => Promise<AwsClientFactory>
}

/** The runner's dependencies, as the actions use them in production. */
export const runnerDeps: ActionDeps = {
  logger: runnerLogger,
  env: process.env,
  printFenced: (title, text) => printFenced(title, text),
  appendSummary: markdown => appendSummary(markdown),
  setSecret: value => core.setSecret(value),
  notice: (message, title) => core.notice(message, { title }),
  sleep,
  onCancel: handler => {
    process.once('SIGINT', () => handler('SIGINT'))
    process.once('SIGTERM', () => handler('SIGTERM'))
  },
}

/**
 * An action's contract and work: `getInputs` reads and checks every input, `run` does the
 * work, `outputs` maps its result to the action's output names, and `failure` (when given)
 * says whether that result fails the step, after the outputs are written.
 */
export interface ActionDefinition<
  I,
  R,
  D extends ActionDeps = ActionDeps,
> extends RunActionOptions {
  getInputs: (source?: InputSource) => I
  run: (inputs: I, deps: D) => Promise<R>
  outputs: (result: R) => OutputValues
  failure?: (result: R) => unknown
}

/**
 * Runs an action (see {@link guardAction} for how failures end the step): given an
 * {@link ActionDefinition}, reads the inputs, runs the action with the runner's
 * dependencies (and `deps`, e.g. the AWS client factory), writes the outputs, then fails
 * the step when `failure` says so. Given a function, runs it.
 */
export async function runAction<I, R>(action: ActionDefinition<I, R>): Promise<void>
export async function runAction<I, R, D extends ActionDeps>(
  action: ActionDefinition<I, R, D>,
  deps: Omit<D, keyof ActionDeps>,
): Promise<void>
export async function runAction(
  main: () => Promise<void>,
  options?: RunActionOptions,
): Promise<void>
export async function runAction<I, R, D extends ActionDeps>(
  mainOrAction: (() => Promise<void>) | ActionDefinition<I, R, D>,
  optionsOrDeps: RunActionOptions | Omit<D, keyof ActionDeps> = {},
): Promise<void> {
  if (typeof mainOrAction === 'function') {
    return guardAction(mainOrAction, optionsOrDeps as RunActionOptions)
  }
  const action = mainOrAction
  const deps = { ...runnerDeps, ...optionsOrDeps } as D
  return guardAction(async () => {
    const result = await action.run(action.getInputs(), deps)
    setOutputs(action.outputs(result))
    const failure = action.failure?.(result)
    if (failure !== undefined) throw failure
  }, action)
}
