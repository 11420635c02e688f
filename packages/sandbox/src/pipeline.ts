/**
 * The reusable workflow (.github/workflows/deploy.yml) run on this machine: the same jobs, the
 * same actions in the same order with the same `with:` keys, each bundle run as the runner
 * runs it. The demo and the examples' tests deploy through it; a test keeps it in step with
 * deploy.yml.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ArtifactServiceStandIn } from './artifact-service.js'
import { runAction, type ActionRun } from './local-action.js'

/** What the steps of one run can see: the workflow inputs and the earlier steps' outputs. */
export interface PipelineContext {
  /** deploy.yml's inputs, defaults filled in (see {@link WORKFLOW_DEFAULTS}). */
  inputs: Record<string, string>
  /** Outputs by step id (env, version, zip, upload, hosts, deploy, verify, record). */
  steps: Record<string, Record<string, string>>
  /** The `github` context values deploy.yml reads. */
  github: { workflowRef: string }
}

/** One step of deploy.yml: which job, the step id, the action and its `with:`. */
export interface PipelineStep {
  job: 'resolve' | 'build' | 'deploy'
  id: string
  action: string
  /** Whether the step runs (deploy.yml's `if:`); always() steps say so. */
  when?: (context: PipelineContext) => boolean
  always?: boolean
  with: (context: PipelineContext) => Record<string, string>
}

const built = (c: PipelineContext) => c.inputs.version || (c.steps.version?.version ?? '')
const aws = (c: PipelineContext) => ({
  'role-to-assume': c.inputs['role-to-assume'] ?? '',
  'aws-region': c.inputs['aws-region'] ?? '',
})

/** deploy.yml's steps, in order (the checkout step is the caller's checkout directory). */
export const PIPELINE_STEPS: readonly PipelineStep[] = [
  {
    job: 'resolve',
    id: 'env',
    action: 'resolve-environment',
    with: c => ({
      rules: c.inputs.rules ?? '',
      environment: c.inputs.environment ?? '',
      version: c.inputs.version ?? '',
      production: c.inputs.production ?? '',
    }),
  },
  { job: 'build', id: 'version', action: 'version-tag', with: () => ({}) },
  {
    job: 'build',
    id: 'zip',
    action: 'package-zip',
    with: c => ({
      path: c.inputs.path ?? '',
      include: c.inputs.include ?? '',
      exclude: c.inputs.exclude ?? '',
      app: c.inputs['app-name'] ?? '',
      version: c.steps.version?.version ?? '',
      'artifact-name': 'release-zip',
    }),
  },
  {
    job: 'deploy',
    id: 'upload',
    action: 's3-upload',
    with: c => ({
      'artifact-name': c.inputs.version === '' ? 'release-zip' : '',
      'expected-sha256': c.steps.zip?.sha256 ?? '',
      'artifact-digest': c.steps.zip?.['artifact-digest'] ?? '',
      bucket: c.inputs.bucket ?? '',
      key: c.inputs.key ?? '',
      app: c.inputs['app-name'] ?? '',
      version: built(c),
      environment: c.steps.env?.environment ?? '',
      ...aws(c),
    }),
  },
  {
    job: 'deploy',
    id: 'hosts',
    action: 'find-instance',
    with: c => ({
      tags: c.inputs['instance-tags'] ?? '',
      environment: c.steps.env?.environment ?? '',
      'app-name': c.inputs['app-name'] ?? '',
      ...aws(c),
    }),
  },
  {
    job: 'deploy',
    id: 'deploy',
    action: 'ssm-deploy',
    with: c => ({
      'instance-ids': c.steps.hosts?.['instance-ids'] ?? '',
      mode: c.inputs.version === '' ? 'deploy' : 'rollback',
      'artifact-uri': c.steps.upload?.uri ?? '',
      'artifact-sha256': c.steps.upload?.sha256 ?? '',
      version: built(c),
      environment: c.steps.env?.environment ?? '',
      'app-name': c.inputs['app-name'] ?? '',
      ...pick(c.inputs, HOST_INPUTS),
      ...pick(c.inputs, [
        'health-retries',
        'health-interval',
        'keep-releases',
        'max-concurrency',
        'max-errors',
        'timeout',
      ]),
      ...aws(c),
    }),
  },
  {
    job: 'deploy',
    id: 'verify',
    action: 'verify-health',
    when: c => c.inputs['verify-urls'] !== '' || c.inputs['verify-command'] !== '',
    with: c => ({
      via: c.inputs['verify-urls'] !== '' ? 'http' : 'ssm',
      urls: c.inputs['verify-urls'] ?? '',
      command: c.inputs['verify-command'] ?? '',
      'expect-version':
        c.inputs['verify-urls'] !== '' && c.inputs['verify-version'] !== 'false' ? built(c) : '',
      'initial-delay': c.inputs['verify-initial-delay'] ?? '',
      retries: c.inputs['verify-retries'] ?? '',
      'instance-ids': c.steps.hosts?.['instance-ids'] ?? '',
      'rollback-on-failure': c.inputs['rollback-on-failure'] ?? '',
      'previous-version': c.steps.deploy?.['previous-version'] ?? '',
      'app-name': c.inputs['app-name'] ?? '',
      'deploy-dir': c.inputs['deploy-dir'] ?? '',
      environment: c.steps.env?.environment ?? '',
      ...pick(c.inputs, [
        'run-as',
        'stop-command',
        'restart-command',
        'health-command',
        'health-url',
        'health-version',
      ]),
      ...aws(c),
    }),
  },
  {
    job: 'deploy',
    id: 'record',
    action: 'record-release',
    with: c => ({
      bucket: c.steps.upload?.bucket ?? '',
      key: c.steps.upload?.key ?? '',
      app: c.inputs['app-name'] ?? '',
      environment: c.steps.env?.environment ?? '',
      version: built(c),
      sha256: c.steps.upload?.sha256 ?? '',
      size: c.steps.upload?.size ?? '',
      mode: c.inputs.version === '' ? 'deploy' : 'rollback',
      'deploy-status':
        c.steps.verify?.['rolled-back'] === 'true' ? 'rolled-back' : (c.steps.deploy?.status ?? ''),
      ...aws(c),
    }),
  },
  {
    job: 'deploy',
    id: 'summary',
    action: 'summary',
    always: true,
    with: c => ({
      status:
        c.steps.verify?.['rolled-back'] === 'true'
          ? 'rolled-back'
          : c.steps.deploy?.status || 'failed',
      mode: c.inputs.version ? 'rollback' : 'deploy',
      environment: c.steps.env?.environment ?? '',
      version: built(c),
      'previous-version': c.steps.deploy?.['previous-version'] ?? '',
      'artifact-uri': c.steps.upload?.uri ?? '',
      'artifact-sha256': c.steps.upload?.sha256 ?? '',
      'artifact-size': c.steps.upload?.size ?? '',
      'deploy-results': c.steps.deploy?.results ?? '',
      'health-results': c.steps.verify?.results ?? '',
      'command-id': c.steps.deploy?.['command-id'] ?? '',
      'aws-region': c.inputs['aws-region'] ?? '',
      'rollback-workflow': c.github.workflowRef,
    }),
  },
]

const HOST_INPUTS = [
  'deploy-dir',
  'run-as',
  'shared-paths',
  'before-switch',
  'stop-command',
  'restart-command',
  'health-command',
  'health-url',
  'health-version',
]

function pick(from: Record<string, string>, names: readonly string[]): Record<string, string> {
  return Object.fromEntries(names.map(name => [name, from[name] ?? '']))
}

/** deploy.yml's input defaults, for inputs a caller leaves out. */
export const WORKFLOW_DEFAULTS: Readonly<Record<string, string>> = {
  environment: '',
  version: '',
  production: 'prod, production',
  path: '.',
  include: '**',
  exclude: '.git/**',
  key: '{app}/{environment}/{version}.zip',
  'deploy-dir': '/opt/{app}',
  'run-as': '',
  'shared-paths': '',
  'before-switch': '',
  'stop-command': '',
  'restart-command': '',
  'health-command': '',
  'health-url': '',
  'health-version': 'true',
  'health-retries': '10',
  'health-interval': '2s',
  'keep-releases': '5',
  'max-concurrency': '1',
  'max-errors': '0',
  timeout: '30m',
  'verify-urls': '',
  'verify-version': 'true',
  'verify-command': '',
  'verify-initial-delay': '0s',
  'verify-retries': '5',
  'rollback-on-failure': 'true',
}

export interface PipelineOptions {
  /** deploy.yml's `with:` from the caller; unset inputs take their defaults. */
  inputs: Record<string, string>
  /** The caller run's ref and commit, and the checkout the build job packs. */
  ref: string
  sha: string
  checkout: string
  eventName?: string
  /** github.workflow_ref of the caller, e.g. acme/hello/.github/workflows/deploy.yml@refs/heads/master. */
  workflowRef?: string
  /** The sandbox's environment (endpoints, OIDC token service) and anything else. */
  env: Record<string, string>
  /** Called after every step, for progress lines. */
  onStep?: (step: PipelineStep, run: ActionRun | undefined, context: PipelineContext) => void
}

export interface PipelineResult {
  context: PipelineContext
  /** The deploy job's outcome: ssm-deploy's status, or where it stopped. */
  status: string
  runs: { step: PipelineStep; run: ActionRun }[]
  /** The job summary the summary step wrote. */
  summary: string
}

/**
 * Runs deploy.yml's jobs as GitHub would: resolve; build only without an explicit `version`;
 * deploy only when a rule matched. Within a job, a failed step skips the rest except
 * `if: always()` steps.
 */
export async function runPipeline(options: PipelineOptions): Promise<PipelineResult> {
  const context: PipelineContext = {
    inputs: { ...WORKFLOW_DEFAULTS, ...options.inputs },
    steps: {},
    github: { workflowRef: options.workflowRef ?? '' },
  }
  const artifacts = await new ArtifactServiceStandIn().start()
  const runs: PipelineResult['runs'] = []
  const deployDir = mkdtempSync(join(tmpdir(), 'deploy-job-'))
  let summary = ''
  try {
    const env = {
      ...options.env,
      ...artifacts.env(),
      GITHUB_REF: options.ref,
      GITHUB_SHA: options.sha,
      GITHUB_EVENT_NAME: options.eventName ?? 'push',
    }
    const failedJobs = new Set<string>()
    for (const step of PIPELINE_STEPS) {
      const jobRuns = step.job === 'build' ? context.inputs.version === '' : true
      const deploys = step.job === 'resolve' || context.steps.env?.deploy === 'true'
      const upstreamFailed =
        failedJobs.has('resolve') || (step.job === 'deploy' && failedJobs.has('build'))
      const stepFailedBefore = failedJobs.has(step.job)
      if (!jobRuns || !deploys || upstreamFailed) continue
      if (stepFailedBefore && !step.always) continue
      if (step.when && !step.when(context)) continue
      const run = await runAction(step.action, {
        inputs: step.with(context),
        env,
        cwd: step.job === 'build' ? options.checkout : deployDir,
      })
      context.steps[step.id] = run.outputs
      runs.push({ step, run })
      if (step.action === 'summary') summary = run.summary
      if (run.exitCode !== 0) failedJobs.add(step.job)
      options.onStep?.(step, run, context)
    }
    const status = context.steps.deploy?.status || (failedJobs.size > 0 ? 'failed' : 'skipped')
    return { context, status, runs, summary }
  } finally {
    await artifacts.stop()
    rmSync(deployDir, { recursive: true, force: true })
  }
}

/** The `with:` keys deploy.yml gives each step, from the file itself. */
export function workflowStepKeys(
  workflowFile: string,
  parse: (text: string) => unknown,
): { action: string; id: string; keys: string[] }[] {
  const workflow = parse(readFileSync(workflowFile, 'utf8')) as {
    jobs: Record<
      string,
      { steps: { id?: string; uses?: string; with?: Record<string, unknown> }[] }
    >
  }
  return Object.values(workflow.jobs).flatMap(job =>
    job.steps
      .filter(step => step.uses?.startsWith('$/actions/'))
      .map(step => ({
        action: (step.uses as string).slice('$/actions/'.length),
        id: step.id ?? '',
        keys: Object.keys(step.with ?? {}).sort(),
      })),
  )
}
