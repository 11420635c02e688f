/**
 * The reusable workflow (.github/workflows/deploy.yml) run on this machine, from the file
 * itself: readWorkflow() reads its inputs, jobs and steps, runWorkflow() runs them as GitHub
 * does (`needs`, `if:`, status functions, outputs, every `${{ }}` through GitHub's expression
 * engine), and this driver gives each step its local meaning:
 * - `$/actions/<name>`: the bundle dist/<name>/index.js, run as the runner runs it (runBundledAction);
 * - `actions/checkout`: the caller's checkout directory becomes the job's workspace.
 * Every job starts in a fresh, empty workspace; the jobs of a run share one workflow-artifact
 * store (the stand-in), as on GitHub; only a job granted `id-token: write` reaches the OIDC
 * token service. The demo and the examples' tests deploy through it.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ArtifactServiceStandIn } from './artifact-service.js'
import { RUN_DEFAULTS, repoRoot, runBundledAction, type ActionRun } from './local-action.js'
import { readWorkflow, type WorkflowStep } from './workflow.js'
import {
  runWorkflow,
  workflowInputs,
  type JobResult,
  type StepCall,
  type StepExecutor,
} from './workflow-run.js'

/** The reusable workflow runPipeline runs unless told otherwise. */
export const DEPLOY_WORKFLOW = join(repoRoot, '.github/workflows/deploy.yml')

/** One step of the workflow: `job`, `id`, `action` (the suite's action name), `uses`, … */
export type PipelineStep = WorkflowStep

/** What the steps of one run can see, as the run goes. */
export interface PipelineContext {
  /** The workflow's inputs as text, defaults filled in. */
  inputs: Record<string, string>
  /** Outputs by step id of every step that ran (env, version, zip, upload, hosts, deploy, …). */
  steps: Record<string, Record<string, string>>
  /** The `github` context the expressions read (ref, sha, event_name, workflow_ref, …). */
  github: Record<string, string>
}

export interface PipelineOptions {
  /** The workflow's `with:` from the caller; unset inputs take their defaults. */
  inputs: Record<string, string>
  /** The caller's `secrets:` (e.g. notify-webhook). */
  secrets?: Record<string, string>
  /** The caller run's ref and commit, and the checkout the build job packs. */
  ref: string
  sha: string
  checkout: string
  eventName?: string
  /** github.workflow_ref of the caller, e.g. acme/hello/.github/workflows/deploy.yml@refs/heads/master. */
  workflowRef?: string
  /** The sandbox's environment (endpoints, OIDC token service) and anything else. */
  env: Record<string, string>
  /** Called after every step that ran a bundle, for progress lines. */
  onStep?: (step: PipelineStep, run: ActionRun | undefined, context: PipelineContext) => void
  /** The workflow file; default deploy.yml. */
  workflow?: string
}

export interface PipelineResult {
  context: PipelineContext
  /** The workflow's `status` output (ssm-deploy's status), else `failed` or `skipped`. */
  status: string
  /** Every bundle run, in order. */
  runs: { step: PipelineStep; run: ActionRun }[]
  /** The run's job summaries: what every step wrote, in order. */
  summary: string
  /** Each job's result, outputs, steps' outcomes, name and environment. */
  jobs: Record<string, JobResult>
  /** The workflow's outputs (deploy.yml: environment, version, status). */
  outputs: Record<string, string>
}

const OIDC_VARIABLES = ['ACTIONS_ID_TOKEN_REQUEST_URL', 'ACTIONS_ID_TOKEN_REQUEST_TOKEN']

/** Whether a job may ask for an OIDC token: `id-token: write`, or `write-all`. */
function grantsIdToken(permissions: unknown): boolean {
  if (permissions === 'write-all') return true
  return (
    typeof permissions === 'object' &&
    permissions !== null &&
    (permissions as Record<string, unknown>)['id-token'] === 'write'
  )
}

/** The `github` context of the caller's run, from the same values the actions' environment has. */
function githubContext(options: PipelineOptions): Record<string, string> {
  const run = { ...RUN_DEFAULTS, ...options.env }
  const repository = run.GITHUB_REPOSITORY ?? ''
  const kind = /^refs\/(heads|tags)\//.exec(options.ref)?.[1]
  return {
    ref: options.ref,
    ref_name: options.ref.replace(/^refs\/(heads|tags|pull)\//, ''),
    ref_type: kind === 'heads' ? 'branch' : kind === 'tags' ? 'tag' : '',
    sha: options.sha,
    event_name: options.eventName ?? 'push',
    repository,
    repository_owner: repository.split('/')[0] ?? '',
    server_url: run.GITHUB_SERVER_URL ?? '',
    api_url: run.GITHUB_API_URL ?? '',
    run_id: run.GITHUB_RUN_ID ?? '',
    run_number: run.GITHUB_RUN_NUMBER ?? '',
    run_attempt: run.GITHUB_RUN_ATTEMPT ?? '',
    workflow: run.GITHUB_WORKFLOW ?? '',
    workflow_ref: options.workflowRef ?? '',
    actor: run.GITHUB_ACTOR ?? '',
  }
}

/** actions/checkout here: the caller's checkout, with its whole history and no stored credentials. */
function checkCheckout({ with: inputs }: StepCall): void {
  for (const [key, value] of Object.entries(inputs)) {
    if (key === 'persist-credentials' || (key === 'fetch-depth' && value === '0')) continue
    throw new Error(
      `with.${key} ${JSON.stringify(value)}: the local checkout is the caller's directory with its whole history; only fetch-depth: 0 and persist-credentials mean that here`,
    )
  }
}

/** Runs the workflow's jobs and steps as GitHub would, each action from its bundle. */
export async function runPipeline(options: PipelineOptions): Promise<PipelineResult> {
  const workflow = readWorkflow(options.workflow ?? DEPLOY_WORKFLOW)
  const github = githubContext(options)
  const inputs = workflowInputs(workflow, options.inputs, github)
  const context: PipelineContext = {
    inputs: Object.fromEntries(
      Object.entries(inputs).map(([name, value]) => [name, String(value)]),
    ),
    steps: {},
    github,
  }
  const runs: PipelineResult['runs'] = []
  const summaries: string[] = []
  const scratch = mkdtempSync(join(tmpdir(), 'pipeline-'))
  const workspaces = new Map<string, string>()
  const workspace = (job: string) => {
    if (!workspaces.has(job)) workspaces.set(job, mkdtempSync(join(scratch, `${job}-`)))
    return workspaces.get(job) as string
  }
  const artifacts = await new ArtifactServiceStandIn().start()
  const execute: StepExecutor = async call => {
    const { step, job } = call
    if (step.kind === 'checkout') {
      checkCheckout(call)
      workspaces.set(job.id, options.checkout)
      context.steps[step.id] = { ref: options.ref, commit: options.sha }
      return { ok: true, outputs: context.steps[step.id] ?? {} }
    }
    const oidc = grantsIdToken(job.permissions ?? workflow.permissions)
    const run = await runBundledAction(step.action, {
      inputs: call.with,
      env: {
        ...options.env,
        ...call.env,
        ...artifacts.env(),
        ...(oidc ? {} : Object.fromEntries(OIDC_VARIABLES.map(name => [name, undefined]))),
        GITHUB_REF: options.ref,
        GITHUB_SHA: options.sha,
        GITHUB_EVENT_NAME: github.event_name,
        GITHUB_JOB: job.id,
      },
      cwd: workspace(job.id),
    })
    context.steps[step.id] = run.outputs
    runs.push({ step, run })
    summaries.push(run.summary)
    options.onStep?.(step, run, context)
    return { ok: run.exitCode === 0, outputs: run.outputs }
  }
  try {
    const run = await runWorkflow(
      workflow,
      { inputs: options.inputs, github, ...(options.secrets ? { secrets: options.secrets } : {}) },
      execute,
    )
    const failed = Object.values(run.jobs).some(job =>
      ['failure', 'cancelled'].includes(job.result),
    )
    return {
      context,
      status: run.outputs.status || (failed ? 'failed' : 'skipped'),
      runs,
      summary: summaries.join(''),
      jobs: run.jobs,
      outputs: run.outputs,
    }
  } finally {
    await artifacts.stop()
    rmSync(scratch, { recursive: true, force: true })
  }
}
