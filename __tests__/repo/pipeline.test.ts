import { describe, expect, it } from '@jest/globals'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import {
  evaluateCondition,
  evaluateValue,
  DEPLOY_WORKFLOW,
  readWorkflow,
  workflowExpressions,
  jobStatus,
  runWorkflow,
  type Contexts,
  type WorkflowStep,
  type WorkflowRun,
  repoRoot,
} from '../../dev/github-runner/src/index.js'

// The demo and the examples' tests run deploy.yml itself (runPipeline). These tests run the
// same reader and scheduler with stand-in steps, so a changed expression, condition or job in
// deploy.yml shows here as a changed input, a skipped step or a failing parse.
const workflow = readWorkflow(DEPLOY_WORKFLOW)
const CALLER = {
  'app-name': 'hello',
  rules: 'master => develop',
  bucket: 'artifacts',
  'role-to-assume': 'arn:aws:iam::123456789012:role/hello-deploy-{environment}',
  'aws-region': 'eu-west-1',
  'instance-tags': 'DeployApp={app}\nDeployEnvironment={environment}',
}
const GITHUB = {
  ref: 'refs/heads/master',
  sha: 'abc1234',
  event_name: 'push',
  workflow_ref: 'acme/hello/.github/workflows/deploy.yml@refs/heads/master',
}
const BUILT = 'v1.0.0-master-abc1234'

/** What each stand-in step outputs, and which steps fail. */
interface Scenario {
  inputs?: Record<string, string>
  outputs?: Record<string, Record<string, string>>
  fail?: string[]
  /** Step ids after which the run counts as cancelled. */
  cancelAfter?: string
}

interface Ran {
  run: WorkflowRun
  /** The `with:` each step got, by step id (the summary step is `__self`). */
  given: Record<string, Record<string, string>>
  order: string[]
}

async function run(scenario: Scenario = {}): Promise<Ran> {
  const outputs: Record<string, Record<string, string>> = {
    env: { environment: 'develop', deploy: 'true' },
    version: { version: BUILT },
    zip: { sha256: 'f00d', 'artifact-digest': 'sha256:beef' },
    upload: {
      bucket: 'artifacts',
      key: 'hello/develop/x.zip',
      uri: 's3://artifacts/x',
      sha256: 'f00d',
      size: '9',
    },
    hosts: { 'instance-ids': '["i-1"]' },
    deploy: { status: 'success', 'previous-version': 'v0.9.0', results: '[]', 'command-id': 'c-1' },
    ...scenario.outputs,
  }
  const given: Ran['given'] = {}
  const order: string[] = []
  let cancelled = false
  const result = await runWorkflow(
    workflow,
    {
      inputs: { ...CALLER, ...scenario.inputs },
      github: GITHUB,
      cancelled: () => cancelled,
    },
    async ({ step, with: inputs }) => {
      given[step.id] = inputs
      order.push(step.id)
      if (step.id === scenario.cancelAfter) cancelled = true
      return { ok: !scenario.fail?.includes(step.id), outputs: outputs[step.id] ?? {} }
    },
  )
  return { run: result, given, order }
}

const results = (ran: Ran) =>
  Object.fromEntries(Object.entries(ran.run.jobs).map(([id, job]) => [id, job.result]))

describe('deploy.yml as the local pipeline reads it', () => {
  it('runs the pipeline of the design in order: resolve, build, deploy', () => {
    const steps = workflow.jobs.flatMap(job =>
      job.steps.map((s: WorkflowStep) => `${s.job}/${s.action}`),
    )
    expect(steps).toEqual([
      'resolve/resolve-environment',
      'build/actions/checkout',
      'build/version-tag',
      'build/package-zip',
      'deploy/s3-upload',
      'deploy/find-instance',
      'deploy/ssm-deploy',
      'deploy/verify-health',
      'deploy/record-release',
      'deploy/summary',
    ])
  })

  it('parses and evaluates every expression in the file with the engine', () => {
    const places = workflowExpressions(workflow)
    // Every `${{` of the file is in a place the reader evaluates (none is left unread).
    const text = readFileSync(DEPLOY_WORKFLOW, 'utf8')
    const inFile =
      text
        .split('\n')
        .filter(line => !/^\s*#/.test(line))
        .join('\n')
        .split('${{').length - 1
    const read = places
      .filter(place => !place.condition && typeof place.value === 'string')
      .reduce((count, place) => count + (place.value as string).split('${{').length - 1, 0)
    expect(read).toBe(inFile)
    expect(inFile).toBeGreaterThan(100)

    const universe: Contexts = {
      github: GITHUB,
      inputs: { ...CALLER, version: '', 'verify-version': true },
      needs: {
        resolve: { result: 'success', outputs: { deploy: 'true' } },
        build: { result: 'skipped', outputs: {} },
      },
      steps: {
        deploy: { outputs: { status: 'failed' }, outcome: 'failure', conclusion: 'failure' },
      },
      job: { status: 'failure' },
      jobs: { deploy: { result: 'failure', outputs: {} } },
    }
    const status = jobStatus(['success'], false)
    for (const place of places) {
      const contexts = Object.fromEntries(place.contexts.map(name => [name, universe[name]]))
      const evaluate = () =>
        place.condition
          ? evaluateCondition(String(place.value), contexts, status)
          : evaluateValue(place.value, contexts)
      expect({ where: place.where, error: capture(evaluate) }).toEqual({
        where: place.where,
        error: '',
      })
    }
  })

  it('a push: builds, then deploys the built version in mode deploy', async () => {
    const ran = await run()
    expect(results(ran)).toEqual({ resolve: 'success', build: 'success', deploy: 'success' })
    expect(ran.given.zip).toMatchObject({
      version: BUILT,
      'artifact-name': 'release-zip',
      app: 'hello',
    })
    expect(ran.given.upload).toMatchObject({
      'artifact-name': 'release-zip',
      'expected-sha256': 'f00d',
      'artifact-digest': 'sha256:beef',
      version: BUILT,
      environment: 'develop',
      key: '{app}/{environment}/{version}.zip',
    })
    expect(ran.given.deploy).toMatchObject({
      mode: 'deploy',
      version: BUILT,
      'artifact-uri': 's3://artifacts/x',
      'instance-ids': '["i-1"]',
      'health-version': 'true',
      'keep-releases': '5',
    })
    expect(ran.given.record).toMatchObject({
      mode: 'deploy',
      'deploy-status': 'success',
      version: BUILT,
    })
    expect(ran.given.__self).toMatchObject({
      status: 'success',
      mode: 'deploy',
      'rollback-workflow': GITHUB.workflow_ref,
      'previous-version': 'v0.9.0',
    })
    expect(ran.run.outputs).toEqual({ environment: 'develop', version: BUILT, status: 'success' })
    expect(ran.run.jobs.deploy?.environment).toBe('develop')
    expect(ran.run.jobs.deploy?.name).toBe('deploy develop')
  })

  it('a rollback dispatch: skips the build; s3-upload gets no artifact and checks the version', async () => {
    const ran = await run({ inputs: { version: 'v0.0.7', environment: 'develop' } })
    expect(results(ran)).toEqual({ resolve: 'success', build: 'skipped', deploy: 'success' })
    expect(ran.order).not.toContain('version')
    expect(ran.given.env).toMatchObject({ version: 'v0.0.7', environment: 'develop' })
    expect(ran.given.upload).toMatchObject({
      'artifact-name': '',
      'expected-sha256': '',
      'artifact-digest': '',
      version: 'v0.0.7',
    })
    expect(ran.given.deploy).toMatchObject({ mode: 'rollback', version: 'v0.0.7' })
    expect(ran.given.__self).toMatchObject({ mode: 'rollback', version: 'v0.0.7' })
    expect(ran.run.outputs.version).toBe('v0.0.7')
  })

  it('a ref no rule matches: neither builds nor deploys', async () => {
    const ran = await run({ outputs: { env: { environment: '', deploy: 'false' } } })
    expect(results(ran)).toEqual({ resolve: 'success', build: 'skipped', deploy: 'skipped' })
    expect(ran.run.outputs.status).toBe('')
  })

  it('skips verify-health without verify-urls or verify-command', async () => {
    const ran = await run()
    expect(ran.run.jobs.deploy?.steps.verify?.outcome).toBe('skipped')
    expect(ran.given.__self).toMatchObject({ 'health-results': '' })
  })

  it('verifies over HTTP, expecting the version unless verify-version is false', async () => {
    const urls = { 'verify-urls': 'http://127.0.0.1:1/health' }
    expect((await run({ inputs: urls })).given.verify).toMatchObject({
      via: 'http',
      urls: urls['verify-urls'],
      'expect-version': BUILT,
      'previous-version': 'v0.9.0',
      'rollback-on-failure': 'true',
    })
    const unversioned = await run({ inputs: { ...urls, 'verify-version': 'false' } })
    expect(unversioned.given.verify).toMatchObject({ 'expect-version': '' })
    const ssm = await run({ inputs: { 'verify-command': 'true' } })
    expect(ssm.given.verify).toMatchObject({ via: 'ssm', command: 'true', 'expect-version': '' })
  })

  it("hands target-group-arns and drain-timeout to ssm-deploy, with the action's default", async () => {
    const arn =
      'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/hello/0123456789abcdef'
    expect((await run()).given.deploy).toMatchObject({
      'target-group-arns': '',
      'drain-timeout': '6m',
    })
    const behind = await run({ inputs: { 'target-group-arns': arn, 'drain-timeout': '90s' } })
    expect(behind.given.deploy).toMatchObject({ 'target-group-arns': arn, 'drain-timeout': '90s' })
  })

  it('when the deploy fails: no record, but the summary runs and says so', async () => {
    const ran = await run({
      fail: ['deploy'],
      outputs: { deploy: { status: 'rolled-back', 'previous-version': 'v0.9.0' } },
    })
    expect(ran.order.slice(-2)).toEqual(['deploy', '__self'])
    expect(ran.run.jobs.deploy?.steps.record?.outcome).toBe('skipped')
    expect(ran.given.__self).toMatchObject({ status: 'rolled-back' })
    expect(results(ran).deploy).toBe('failure')
    expect(ran.run.outputs.status).toBe('rolled-back')
  })

  it('when the upload fails: the summary says failed', async () => {
    const ran = await run({ fail: ['upload'], outputs: { upload: {} } })
    expect(ran.order.slice(-2)).toEqual(['upload', '__self'])
    expect(ran.given.__self).toMatchObject({ status: 'failed', 'artifact-uri': '' })
  })

  it('when verify-health rolls back: no record, the summary says rolled-back', async () => {
    const ran = await run({
      inputs: { 'verify-urls': 'http://127.0.0.1:1/health' },
      fail: ['verify'],
      outputs: { verify: { 'rolled-back': 'true', healthy: 'false' } },
    })
    expect(ran.order).not.toContain('record')
    expect(ran.given.__self).toMatchObject({ status: 'rolled-back' })
  })

  it('a failed build deploys nothing', async () => {
    const ran = await run({ fail: ['zip'] })
    expect(results(ran)).toEqual({ resolve: 'success', build: 'failure', deploy: 'skipped' })
  })

  it('a run cancelled during the build deploys nothing', async () => {
    const ran = await run({ cancelAfter: 'version' })
    expect(ran.order).toEqual(['env', '__actions_checkout', 'version'])
    expect(results(ran)).toEqual({ resolve: 'success', build: 'cancelled', deploy: 'skipped' })
  })

  it('a rollback cancelled before its deploy job deploys nothing (!cancelled(), not always())', async () => {
    const ran = await run({ inputs: { version: 'v0.0.7' }, cancelAfter: 'env' })
    expect(ran.order).toEqual(['env'])
    expect(results(ran)).toEqual({ resolve: 'success', build: 'skipped', deploy: 'skipped' })
  })

  it('types the boolean inputs: "false" is false, anything else not a boolean is an error', async () => {
    const ran = await run({ inputs: { 'health-version': 'false', 'rollback-on-failure': 'false' } })
    expect(ran.given.deploy).toMatchObject({ 'health-version': 'false' })
    expect(ran.run.inputs['health-version']).toBe(false)
    await expect(run({ inputs: { 'health-version': 'yes' } })).rejects.toThrow(
      `deploy.yml input 'health-version' "yes" is not a boolean: use true or false`,
    )
  })

  it("passes strategy and blue-green's inputs to ssm-deploy and to verify-health's rollback, with the actions' defaults", async () => {
    const inputs = [
      'strategy',
      'slot-ports',
      'proxy-upstream-file',
      'proxy-reload-command',
      'drain-time',
      'keep-old-slot',
    ]
    const verifyUrls = { 'verify-urls': 'http://127.0.0.1:1/health' }
    const defaults = await run({ inputs: verifyUrls })
    for (const [step, action] of [
      ['deploy', 'ssm-deploy'],
      ['verify', 'verify-health'],
    ] as const) {
      const yml = parse(readFileSync(join(repoRoot, 'actions', action, 'action.yml'), 'utf8')) as {
        inputs: Record<string, { default: string }>
      }
      for (const input of inputs) {
        expect({ action, input, given: defaults.given[step]?.[input] }).toEqual({
          action,
          input,
          given: yml.inputs[input]?.default,
        })
      }
    }
    const blueGreen = {
      strategy: 'blue-green',
      'slot-ports': '9001,9002',
      'proxy-upstream-file': '/etc/nginx/upstreams/hello.conf',
      'proxy-reload-command': 'systemctl reload nginx',
      'drain-time': '3s',
      'keep-old-slot': 'true',
    }
    const chosen = await run({ inputs: { ...verifyUrls, ...blueGreen } })
    expect(chosen.given.deploy).toMatchObject(blueGreen)
    expect(chosen.given.verify).toMatchObject({ ...blueGreen, 'rollback-on-failure': 'true' })
  })

  it('refuses an input deploy.yml does not declare, and a missing required one', async () => {
    await expect(run({ inputs: { 'no-such-input': 'x' } })).rejects.toThrow(
      "deploy.yml has no input 'no-such-input'",
    )
    const { bucket: _bucket, ...withoutBucket } = CALLER
    await expect(
      runWorkflow(workflow, { inputs: withoutBucket, github: GITHUB }, async () => ({
        ok: true,
        outputs: {},
      })),
    ).rejects.toThrow("deploy.yml needs input 'bucket'")
  })
})

function capture(action: () => unknown): string {
  try {
    action()
    return ''
  } catch (error) {
    return (error as Error).message
  }
}
