/**
 * Reads a reusable workflow (.github/workflows/deploy.yml) for the runner stand-in: its
 * `workflow_call` inputs and outputs, and its jobs and steps with every `${{ }}` expression
 * checked against the contexts the stand-in gives each place. What the stand-in has no local
 * meaning for (a `run:` step, an unknown action, a matrix…) is an error naming the place,
 * never skipped.
 */
import { readFileSync } from 'node:fs'
import { basename } from 'node:path'
import { parse } from 'yaml'
import { checkValue, conditionExpression, parseExpression } from './expressions.js'

/**
 * The contexts each place may read: a subset of what GitHub allows there. A context GitHub
 * has but the stand-in does not give (`vars`, `matrix`, `env`…) fails to parse, and so does
 * `secrets` where GitHub does not give it (a job's or a step's `if:`).
 */
export const CONTEXTS = {
  /** A job's `if:`, `name`, `runs-on`, `environment`, `concurrency` and `env`. */
  job: ['github', 'inputs', 'needs'],
  /** A step's `if:` and `continue-on-error`, and the job's `outputs`. */
  step: ['github', 'inputs', 'needs', 'steps', 'job'],
  /** A step's `with:` and `env:`. */
  stepValue: ['github', 'inputs', 'needs', 'steps', 'job', 'secrets'],
  /** The workflow's `on.workflow_call.outputs`. */
  workflowOutputs: ['github', 'inputs', 'jobs'],
  /** Input defaults. */
  inputDefault: ['github'],
} as const

/** One `on.workflow_call.inputs` entry. */
export interface WorkflowInput {
  type: 'string' | 'boolean' | 'number'
  required: boolean
  default?: unknown
}

/** One step: its `if:` made a full condition, its other values kept as written. */
export interface WorkflowStep {
  job: string
  /** Its `id`, or the id GitHub gives a step without one (`__self`, `__actions_checkout`). */
  id: string
  uses: string
  /** `action`: this suite's `$/actions/<name>`; `checkout`: actions/checkout. */
  kind: 'action' | 'checkout'
  /** The suite's action name, or `actions/checkout`. */
  action: string
  if: string
  with: Record<string, unknown>
  env: Record<string, unknown>
  continueOnError: unknown
  /** Where it is, for messages: `deploy.yml jobs.build.steps[0] (actions/checkout@…)`. */
  where: string
}

export interface WorkflowJob {
  id: string
  needs: string[]
  if: string
  name?: unknown
  runsOn?: unknown
  environment?: unknown
  concurrency?: unknown
  permissions?: unknown
  env: Record<string, unknown>
  outputs: Record<string, unknown>
  steps: WorkflowStep[]
}

export interface Workflow {
  file: string
  inputs: Record<string, WorkflowInput>
  /** `on.workflow_call.secrets`: name → whether the caller must pass it. */
  secrets: Record<string, { required: boolean }>
  /** `on.workflow_call.outputs`: name → value template. */
  outputs: Record<string, unknown>
  permissions?: unknown
  env: Record<string, unknown>
  /** In an order that runs every job after its `needs`, file order otherwise. */
  jobs: WorkflowJob[]
}

type Mapping = Record<string, unknown>

const WORKFLOW_KEYS = ['name', 'on', 'permissions', 'env', 'jobs']
const JOB_KEYS = [
  'name',
  'needs',
  'if',
  'runs-on',
  'permissions',
  'environment',
  'concurrency',
  'env',
  'outputs',
  'steps',
]
const STEP_KEYS = ['id', 'name', 'uses', 'if', 'with', 'env', 'continue-on-error']
const SELF_ACTION = /^\$\/actions\/([\w-]+)$/
const CHECKOUT = /^actions\/checkout@/

function mapping(value: unknown, where: string): Mapping {
  if (value === undefined || value === null) return {}
  if (typeof value !== 'object' || Array.isArray(value)) throw new Error(`${where}: not a mapping`)
  return value as Mapping
}

function onlyKeys(value: Mapping, known: readonly string[], where: string): void {
  const unknown = Object.keys(value).filter(key => !known.includes(key))
  if (unknown.length > 0) {
    throw new Error(`${where}: ${unknown.join(', ')}: the local pipeline has no meaning for it`)
  }
}

/** Runs `check`, prefixing any error with where it happened. */
export function at<T>(where: string, check: () => T): T {
  try {
    return check()
  } catch (error) {
    throw new Error(`${where}: ${(error as Error).message}`, { cause: error })
  }
}

function readInputs(on: Mapping, where: string): Record<string, WorkflowInput> {
  const inputs: Record<string, WorkflowInput> = {}
  for (const [name, raw] of Object.entries(mapping(on.inputs, `${where}.inputs`))) {
    const spec = mapping(raw, `${where}.inputs.${name}`)
    const type = spec.type ?? 'string'
    if (type !== 'string' && type !== 'boolean' && type !== 'number') {
      throw new Error(
        `${where}.inputs.${name}: type ${String(type)} is not string, boolean or number`,
      )
    }
    inputs[name] = { type, required: spec.required === true, default: spec.default }
  }
  return inputs
}

/** GitHub's id for a step without one: `__self` for `$/…`, `__owner_repo` for `owner/repo@ref`. */
function generatedId(uses: string, taken: Set<string>): string {
  const base = uses.startsWith('$/') ? 'self' : uses.split('@')[0]?.split('/').slice(0, 2).join('_')
  const id = `__${(base ?? '').replace(/[^\w-]/g, '_')}`
  let unique = id
  for (let n = 2; taken.has(unique); n++) unique = `${id}_${n}`
  taken.add(unique)
  return unique
}

function readStep(
  raw: unknown,
  job: string,
  index: number,
  file: string,
  taken: Set<string>,
): WorkflowStep {
  const step = mapping(raw, `${file} jobs.${job}.steps[${index}]`)
  const uses = typeof step.uses === 'string' ? step.uses : ''
  const where = `${file} jobs.${job}.steps[${index}] (${uses || (step.run !== undefined ? 'run' : '?')})`
  const self = SELF_ACTION.exec(uses)
  if (!self && !CHECKOUT.test(uses)) {
    throw new Error(
      `${where}: the local pipeline runs only $/actions/<name> (the bundle dist/<name>/index.js) and actions/checkout (the caller's checkout)`,
    )
  }
  onlyKeys(step, STEP_KEYS, where)
  const id = typeof step.id === 'string' ? step.id : generatedId(uses, taken)
  const values = {
    with: mapping(step.with, `${where} with`),
    env: mapping(step.env, `${where} env`),
  }
  return {
    job,
    id,
    uses,
    kind: self ? 'action' : 'checkout',
    action: self?.[1] ?? 'actions/checkout',
    if: at(`${where} if`, () => conditionExpression(step.if, CONTEXTS.step)),
    ...values,
    continueOnError: step['continue-on-error'] ?? false,
    where,
  }
}

function readJob(id: string, raw: unknown, file: string): WorkflowJob {
  const where = `${file} jobs.${id}`
  const job = mapping(raw, where)
  onlyKeys(job, JOB_KEYS, where)
  const needs = job.needs === undefined ? [] : [job.needs].flat().map(String)
  if (!Array.isArray(job.steps)) throw new Error(`${where}: no steps`)
  // GitHub names the steps without an id after reserving every id the file gives.
  const taken = new Set(
    job.steps.map(step => (step as Mapping | null)?.id).filter(id => typeof id === 'string'),
  ) as Set<string>
  return {
    id,
    needs,
    if: at(`${where}.if`, () => conditionExpression(job.if, CONTEXTS.job)),
    name: job.name,
    runsOn: job['runs-on'],
    environment: job.environment,
    concurrency: job.concurrency,
    permissions: job.permissions,
    env: mapping(job.env, `${where}.env`),
    outputs: mapping(job.outputs, `${where}.outputs`),
    steps: job.steps.map((step, index) => readStep(step, id, index, file, taken)),
  }
}

/** Jobs in an order that runs each after its `needs`; throws on an unknown need or a cycle. */
function inNeedsOrder(jobs: WorkflowJob[], file: string): WorkflowJob[] {
  const ids = new Set(jobs.map(job => job.id))
  for (const job of jobs) {
    const unknown = job.needs.filter(need => !ids.has(need))
    if (unknown.length > 0)
      throw new Error(`${file} jobs.${job.id}.needs: no job ${unknown.join(', ')}`)
  }
  const ordered: WorkflowJob[] = []
  const done = new Set<string>()
  while (ordered.length < jobs.length) {
    const next = jobs.find(job => !done.has(job.id) && job.needs.every(need => done.has(need)))
    if (!next) throw new Error(`${file}: the jobs' needs form a cycle`)
    ordered.push(next)
    done.add(next.id)
  }
  return ordered
}

/** Reads and checks a reusable workflow file. */
export function readWorkflow(path: string): Workflow {
  const file = basename(path)
  const workflow = mapping(parse(readFileSync(path, 'utf8')), file)
  onlyKeys(workflow, WORKFLOW_KEYS, file)
  const call = mapping(mapping(workflow.on, `${file} on`).workflow_call, `${file} on.workflow_call`)
  const secrets: Workflow['secrets'] = {}
  for (const [name, raw] of Object.entries(
    mapping(call.secrets, `${file} on.workflow_call.secrets`),
  )) {
    secrets[name] = {
      required: mapping(raw, `${file} on.workflow_call.secrets.${name}`).required === true,
    }
  }
  const outputs: Mapping = {}
  for (const [name, raw] of Object.entries(
    mapping(call.outputs, `${file} on.workflow_call.outputs`),
  )) {
    outputs[name] = mapping(raw, `${file} on.workflow_call.outputs.${name}`).value
  }
  const jobs = Object.entries(mapping(workflow.jobs, `${file} jobs`)).map(([id, job]) =>
    readJob(id, job, file),
  )
  const read: Workflow = {
    file,
    inputs: readInputs(call, `${file} on.workflow_call`),
    secrets,
    outputs,
    permissions: workflow.permissions,
    env: mapping(workflow.env, `${file} env`),
    jobs: inNeedsOrder(jobs, file),
  }
  for (const { where, value, contexts, condition } of workflowExpressions(read)) {
    at(where, () =>
      condition ? parseExpression(String(value), contexts, true) : checkValue(value, contexts),
    )
  }
  return read
}

/** One place of a workflow that may hold expressions: a value, or a full `if:` condition. */
export interface WorkflowExpression {
  where: string
  value: unknown
  /** The contexts the runner stand-in gives that place. */
  contexts: readonly string[]
  condition: boolean
}

/** Every place of the workflow that the runner stand-in evaluates, in file order. */
export function workflowExpressions(workflow: Workflow): WorkflowExpression[] {
  const found: WorkflowExpression[] = []
  const add = (where: string, value: unknown, contexts: readonly string[], condition = false) =>
    found.push({ where, value, contexts, condition })
  const addAll = (values: unknown, contexts: readonly string[], where: string) => {
    if (typeof values !== 'object' || values === null) return add(where, values, contexts)
    for (const [key, value] of Object.entries(values)) add(`${where}.${key}`, value, contexts)
  }
  const file = workflow.file
  for (const [name, spec] of Object.entries(workflow.inputs)) {
    add(`${file} on.workflow_call.inputs.${name}.default`, spec.default, CONTEXTS.inputDefault)
  }
  addAll(workflow.outputs, CONTEXTS.workflowOutputs, `${file} on.workflow_call.outputs`)
  addAll(workflow.env, CONTEXTS.job, `${file} env`)
  for (const job of workflow.jobs) {
    const where = `${file} jobs.${job.id}`
    add(`${where}.if`, job.if, CONTEXTS.job, true)
    addAll(job.name, CONTEXTS.job, `${where}.name`)
    addAll(job.runsOn, CONTEXTS.job, `${where}.runs-on`)
    addAll(job.environment, CONTEXTS.job, `${where}.environment`)
    addAll(job.concurrency, CONTEXTS.job, `${where}.concurrency`)
    addAll(job.env, CONTEXTS.job, `${where}.env`)
    addAll(job.outputs, CONTEXTS.step, `${where}.outputs`)
    for (const step of job.steps) {
      add(`${step.where} if`, step.if, CONTEXTS.step, true)
      addAll(step.with, CONTEXTS.stepValue, `${step.where} with`)
      addAll(step.env, CONTEXTS.stepValue, `${step.where} env`)
      add(`${step.where} continue-on-error`, step.continueOnError, CONTEXTS.step)
    }
  }
  return found
}
