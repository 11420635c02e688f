/**
 * Runs a workflow read by readWorkflow() as GitHub runs it, one job at a time: each job after
 * its `needs`, its `if:` with the job-level status functions, then its steps with the
 * step-level ones and `continue-on-error`; step outputs reach `steps.<id>.outputs`, job
 * outputs `needs.<job>.outputs`, and the workflow's outputs are read from `jobs.<job>.outputs`.
 * What a step does is the caller's StepExecutor (runPipeline runs the bundles).
 */
import {
  evaluateCondition,
  evaluateString,
  evaluateValue,
  type Contexts,
  type Status,
} from './expressions.js'
import {
  at,
  type Workflow,
  type WorkflowInput,
  type WorkflowJob,
  type WorkflowStep,
} from './workflow.js'

/** A job's `result`, a step's `outcome` and `conclusion`. */
export type Result = 'success' | 'failure' | 'cancelled' | 'skipped'

export interface StepResult {
  outputs: Record<string, string>
  /** Before `continue-on-error`. */
  outcome: Result
  /** After `continue-on-error`: what the job's status counts. */
  conclusion: Result
}

export interface JobResult {
  result: Result
  outputs: Record<string, string>
  /** By step id, skipped ones too (as GitHub's `steps` context has them). */
  steps: Record<string, StepResult>
  /** The evaluated `name` (the id without one) and `environment` name ('' without one). */
  name: string
  environment: string
}

export interface WorkflowRun {
  /** The inputs, typed as the workflow declares them, defaults filled in. */
  inputs: Record<string, string | boolean | number>
  jobs: Record<string, JobResult>
  /** `on.workflow_call.outputs`, evaluated after the last job. */
  outputs: Record<string, string>
}

/** One step to run: its `with:` and `env:` (workflow, job and step `env:` merged) evaluated. */
export interface StepCall {
  step: WorkflowStep
  job: WorkflowJob
  with: Record<string, string>
  env: Record<string, string>
}

/** Runs one step; `ok: false` is a failed step (its outputs still count). */
export type StepExecutor = (
  call: StepCall,
) => Promise<{ ok: boolean; outputs: Record<string, string> }>

export interface RunWorkflowOptions {
  /** The caller's `with:`, as text (`true`/`false` for booleans). */
  inputs: Record<string, string>
  /** The `github` context: ref, sha, event_name, repository, workflow_ref…; `job` is added. */
  github: Record<string, string>
  /** The caller's `secrets:`; only those the workflow declares, as on GitHub. */
  secrets?: Record<string, string>
  /** Whether the run is cancelled, asked before each job and step (default: never). */
  cancelled?: () => boolean
}

/**
 * The `secrets` context: each declared secret, '' when the caller passed none (as on GitHub);
 * an undeclared name, or a missing required one, is an error.
 */
export function workflowSecrets(
  workflow: Workflow,
  given: Record<string, string> = {},
): Record<string, string> {
  for (const name of Object.keys(given)) {
    if (!(name in workflow.secrets)) throw new Error(`${workflow.file} has no secret '${name}'`)
  }
  return Object.fromEntries(
    Object.entries(workflow.secrets).map(([name, spec]) => {
      const value = given[name]
      if (value === undefined && spec.required)
        throw new Error(`${workflow.file} needs secret '${name}'`)
      return [name, value ?? '']
    }),
  )
}

function typed(spec: WorkflowInput, text: string, where: string): string | boolean | number {
  if (spec.type === 'boolean') {
    if (text === 'true' || text === 'false') return text === 'true'
    throw new Error(`${where} ${JSON.stringify(text)} is not a boolean: use true or false`)
  }
  if (spec.type === 'number') {
    const number = Number(text)
    if (text.trim() === '' || Number.isNaN(number)) {
      throw new Error(`${where} ${JSON.stringify(text)} is not a number`)
    }
    return number
  }
  return text
}

/**
 * The workflow's inputs as a call gives them: unknown names and missing required ones are
 * errors, as on GitHub; values take the declared type; unset ones take their default.
 */
export function workflowInputs(
  workflow: Workflow,
  given: Record<string, string>,
  github: Record<string, string>,
): Record<string, string | boolean | number> {
  for (const name of Object.keys(given)) {
    if (!(name in workflow.inputs)) throw new Error(`${workflow.file} has no input '${name}'`)
  }
  const inputs: Record<string, string | boolean | number> = {}
  for (const [name, spec] of Object.entries(workflow.inputs)) {
    const where = `${workflow.file} input '${name}'`
    const value = given[name]
    if (value === undefined && spec.required)
      throw new Error(`${workflow.file} needs input '${name}'`)
    const empty = { string: '', boolean: false, number: 0 }[spec.type]
    inputs[name] = typed(spec, value ?? evaluateString(spec.default ?? empty, { github }), where)
  }
  return inputs
}

/** Evaluates every value of a mapping to text; errors name the place. */
function evaluateAll(
  values: Record<string, unknown>,
  contexts: Contexts,
  where: string,
): Record<string, string> {
  return Object.fromEntries(
    Object.entries(values).map(([key, value]) => [
      key,
      at(`${where}.${key}`, () => evaluateString(value, contexts)),
    ]),
  )
}

/** Every job `id` waits for, directly or not: what the job-level status functions look at. */
function ancestors(workflow: Workflow, id: string): Set<string> {
  const found = new Set<string>()
  const visit = (job: string): void => {
    for (const need of workflow.jobs.find(j => j.id === job)?.needs ?? []) {
      if (found.has(need)) continue
      found.add(need)
      visit(need)
    }
  }
  visit(id)
  return found
}

/**
 * GitHub's job-level status functions: `success()` only when every ancestor job succeeded
 * (a skipped one makes it false), `failure()` when any failed.
 */
export function jobStatus(ancestorResults: Result[], cancelled: boolean): Status {
  return {
    cancelled,
    success: !cancelled && ancestorResults.every(result => result === 'success'),
    failure: !cancelled && ancestorResults.some(result => result === 'failure'),
  }
}

type JobState = 'success' | 'failure' | 'cancelled'

async function runSteps(
  job: WorkflowJob,
  contexts: Contexts,
  env: Record<string, string>,
  execute: StepExecutor,
  cancelled: () => boolean,
): Promise<{ state: JobState; steps: Record<string, StepResult> }> {
  const steps: Record<string, StepResult> = {}
  let state: JobState = 'success'
  for (const step of job.steps) {
    if (cancelled()) state = 'cancelled'
    const scope: Contexts = { ...contexts, steps, job: { status: state } }
    const status = {
      success: state === 'success',
      failure: state === 'failure',
      cancelled: state === 'cancelled',
    }
    if (!at(`${step.where} if`, () => evaluateCondition(step.if, scope, status))) {
      steps[step.id] = { outputs: {}, outcome: 'skipped', conclusion: 'skipped' }
      continue
    }
    const call: StepCall = {
      step,
      job,
      with: evaluateAll(step.with, scope, `${step.where} with`),
      env: { ...env, ...evaluateAll(step.env, scope, `${step.where} env`) },
    }
    const continueOnError: string = at(`${step.where} continue-on-error`, () =>
      evaluateValue(step.continueOnError, scope).coerceString(),
    )
    const { ok, outputs } = await execute(call).catch((error: unknown) => {
      throw new Error(`${step.where}: ${(error as Error).message}`, { cause: error })
    })
    const outcome: Result = ok ? 'success' : cancelled() ? 'cancelled' : 'failure'
    const conclusion: Result =
      outcome === 'failure' && continueOnError === 'true' ? 'success' : outcome
    steps[step.id] = { outputs, outcome, conclusion }
    if (conclusion !== 'success' && state === 'success') state = conclusion
  }
  return { state, steps }
}

async function runJob(
  workflow: Workflow,
  job: WorkflowJob,
  run: WorkflowRun,
  options: RunWorkflowOptions,
  execute: StepExecutor,
): Promise<JobResult> {
  const cancelled = options.cancelled ?? (() => false)
  const needs = Object.fromEntries(
    job.needs.map(id => [id, { result: run.jobs[id]?.result, outputs: run.jobs[id]?.outputs }]),
  )
  const contexts = {
    github: { ...options.github, job: job.id },
    inputs: run.inputs,
    needs,
    secrets: workflowSecrets(workflow, options.secrets),
  }
  const where = `${workflow.file} jobs.${job.id}`
  const upstream = [...ancestors(workflow, job.id)].map(id => run.jobs[id]?.result ?? 'skipped')
  const status = jobStatus(upstream, cancelled())
  if (!at(`${where}.if`, () => evaluateCondition(job.if, contexts, status))) {
    return { result: 'skipped', outputs: {}, steps: {}, name: job.id, environment: '' }
  }
  // `environment: NAME` or `environment: { name: NAME, url: … }`.
  const environment =
    typeof job.environment === 'object' && job.environment !== null
      ? (job.environment as Record<string, unknown>).name
      : job.environment
  const named = evaluateAll(
    { name: job.name ?? job.id, environment: environment ?? '' },
    contexts,
    where,
  )
  const env = {
    ...evaluateAll(workflow.env, contexts, `${workflow.file} env`),
    ...evaluateAll(job.env, contexts, `${where}.env`),
  }
  const { state, steps } = await runSteps(job, contexts, env, execute, cancelled)
  const scope = { ...contexts, steps, job: { status: state } }
  return {
    result: state,
    outputs: evaluateAll(job.outputs, scope, `${where}.outputs`),
    steps,
    name: named.name ?? job.id,
    environment: named.environment ?? '',
  }
}

/** Runs the workflow's jobs in `needs` order, one at a time, each step through `execute`. */
export async function runWorkflow(
  workflow: Workflow,
  options: RunWorkflowOptions,
  execute: StepExecutor,
): Promise<WorkflowRun> {
  const run: WorkflowRun = {
    inputs: workflowInputs(workflow, options.inputs, options.github),
    jobs: {},
    outputs: {},
  }
  workflowSecrets(workflow, options.secrets) // a wrong secret fails the call, as on GitHub
  for (const job of workflow.jobs) {
    run.jobs[job.id] = await runJob(workflow, job, run, options, execute)
  }
  const jobs = Object.fromEntries(
    Object.entries(run.jobs).map(([id, job]) => [id, { result: job.result, outputs: job.outputs }]),
  )
  const scope = { github: options.github, inputs: run.inputs, jobs }
  run.outputs = evaluateAll(workflow.outputs, scope, `${workflow.file} on.workflow_call.outputs`)
  return run
}
