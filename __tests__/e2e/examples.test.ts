import { afterAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse } from 'yaml'
import { roleForEnvironment } from '../../packages/kit/src/github-aws.js'
import { parseRules, ruleEnvironments } from '../../packages/refs/src/index.js'
import { runPipeline } from '../../dev/github-runner/src/index.js'
import { freePort } from '../../dev/aws-sandbox/src/index.js'
import { startSandboxWithOidc } from '../support/sandbox-with-oidc.js'
import { repoRoot } from '../support/run-action.js'
import { lintWorkflow } from '../support/workflow-lint.js'

// Every example is deployed end to end in the sandbox through the reusable workflow's steps.
// What each example says is kept: rules, instance tags, deploy dir, shared paths, limits,
// bucket, role and region (the sandbox is made to match). Only the host commands are reduced
// to hello-app's, which run on a development machine: no go, pm2, docker or systemd here.
const REDUCED: Record<string, string> = {
  'before-switch': 'test -f server.js',
  'stop-command': 'sh bin/service.sh stop',
  'restart-command': 'sh bin/service.sh restart',
  'health-command': 'sh bin/service.sh status && curl -fsS "http://127.0.0.1:$HELLO_PORT/health"',
  'verify-command': 'curl -fsS "http://127.0.0.1:$HELLO_PORT/health"',
}

const CASES = [
  { file: 'flutter-webrtc.yml', ref: 'refs/heads/master', environment: 'develop' },
  { file: 'node-pm2.yml', ref: 'refs/heads/qa', environment: 'qa' },
  { file: 'docker-compose.yml', ref: 'refs/heads/main', environment: 'production' },
  { file: 'multi-env.yml', ref: 'refs/heads/feature/cart/checkout', environment: 'dev' },
  { file: 'multi-env.yml', ref: 'refs/heads/release/2.1', environment: 'staging' },
  { file: 'multi-env.yml', ref: 'refs/tags/v2.1.0', environment: 'prod' },
  { file: 'main-to-prod.yml', ref: 'refs/heads/main', environment: 'prod' },
]

const checkout = mkdtempSync(join(tmpdir(), 'example-app-'))
cpSync(join(repoRoot, 'examples/hello-app'), checkout, { recursive: true })
const git = (...args: string[]) =>
  execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.invalid', ...args], {
    cwd: checkout,
    encoding: 'utf8',
  }).trim()
git('init', '-q', '-b', 'master')
git('add', '-A')
git('commit', '-q', '-m', 'app')
afterAll(() => rmSync(checkout, { recursive: true, force: true }))

interface CallerWorkflow {
  on: { workflow_dispatch?: { inputs?: Record<string, unknown> } }
  jobs: { deploy: { uses: string; with: Record<string, unknown> } }
}
const readExample = (file: string) =>
  parse(readFileSync(join(repoRoot, 'examples', file), 'utf8')) as CallerWorkflow

/** The caller workflow of the README's quick start. */
function quickStart(): string {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8')
  const section = readme.slice(readme.indexOf('## Quick start: the reusable workflow'))
  return /```yaml\n([\s\S]*?)```/.exec(section)?.[1] ?? ''
}

describe.each([
  ...[...new Set(CASES.map(c => c.file))].map(file => [
    `examples/${file}`,
    readFileSync(join(repoRoot, 'examples', file), 'utf8'),
  ]),
  ["the README's quick start", quickStart()],
])('%s keeps the walls', (name, text) => {
  const { on, jobs } = parse(text) as CallerWorkflow
  const given = jobs.deploy.with

  it('passes the workflow rules', () => {
    expect(lintWorkflow(name, text)).toEqual([])
  })

  it('selects hosts by DeployApp and DeployEnvironment', () => {
    const lines = String(given['instance-tags'])
      .split('\n')
      .map(line => line.trim())
    expect(lines).toEqual(
      expect.arrayContaining(['DeployApp={app}', 'DeployEnvironment={environment}']),
    )
  })

  it('gives each environment its own role', () => {
    const role = String(given['role-to-assume'])
    expect(role.includes('{environment}') || role.includes('=>')).toBe(true)
    for (const environment of ruleEnvironments(parseRules(String(given.rules)))) {
      expect(roleForEnvironment(role, environment)).toMatch(new RegExp(`${environment}$`))
    }
  })

  it('runs hooks as a dedicated user, not root', () => {
    expect(given['run-as']).toMatch(/^[a-z][a-z0-9_-]*$/)
    expect(given['run-as']).not.toBe('root')
  })

  it('passes the workflow_dispatch inputs environment and version through', () => {
    expect(Object.keys(on.workflow_dispatch?.inputs ?? {}).sort()).toEqual([
      'environment',
      'version',
    ])
    expect(given.environment).toBe('${{ inputs.environment }}')
    expect(given.version).toBe('${{ inputs.version }}')
  })
})

describe.each(CASES)('examples/$file on $ref', ({ file, ref, environment }) => {
  it(`deploys to ${environment} in the sandbox`, async () => {
    const workflow = readExample(file)
    expect(workflow.jobs.deploy.uses).toMatch(/\/\.github\/workflows\/deploy\.yml@/)
    // A push: the workflow_dispatch inputs are empty.
    const given = Object.fromEntries(
      Object.entries(workflow.jobs.deploy.with).map(([k, v]) => [
        k,
        String(v).replace(/\$\{\{\s*inputs\.[\w-]+\s*\}\}/g, ''),
      ]),
    )
    const app = given['app-name'] as string
    const deployDir = (given['deploy-dir'] ?? '/opt/{app}').replace('{app}', app)
    const tags = Object.fromEntries(
      (given['instance-tags'] as string)
        .split('\n')
        .filter(Boolean)
        .map(
          line =>
            line.replace('{environment}', environment).replace('{app}', app).split('=') as [
              string,
              string,
            ],
        ),
    )
    const ports = [await freePort(), await freePort()]
    const sandbox = await startSandboxWithOidc({
      region: given['aws-region'] as string,
      instances: ports.map(port => ({
        tags,
        env: { HELLO_PORT: String(port) },
      })),
      privateDirs: [deployDir],
      s3: { buckets: [given.bucket as string] },
      oidc: { subject: `repo:acme/${app}:environment:${environment}` },
      sts: {
        roles: [
          {
            arn: roleForEnvironment(given['role-to-assume'] as string, environment),
            audience: 'sts.amazonaws.com',
            subject: `repo:acme/${app}:environment:*`,
          },
        ],
      },
    })
    try {
      const reduced: Record<string, string> = { path: '.', 'run-as': '' }
      for (const [name, command] of Object.entries(REDUCED))
        if (given[name]) reduced[name] = command
      // A host-local health URL names one port; here each instance has its own.
      if (given['health-url'])
        Object.assign(reduced, { 'health-url': '', 'health-command': REDUCED['health-command'] })
      if (given['verify-urls'])
        reduced['verify-urls'] = ports.map(p => `http://127.0.0.1:${p}/health`).join('\n')
      const result = await runPipeline({
        inputs: { ...given, ...reduced },
        ref,
        sha: git('rev-parse', 'HEAD'),
        checkout,
        env: {
          ...(sandbox.env as unknown as Record<string, string>),
          GITHUB_REPOSITORY: `acme/${app}`,
          RUNNER_TEMP: checkout,
        },
      })
      const failed = result.runs
        .filter(r => r.run.exitCode !== 0)
        .map(r => `${r.step.action}: ${r.run.errors.join(' ')}`)
      expect({ status: result.status, failed }).toEqual({ status: 'success', failed: [] })
      expect(result.context.steps.env?.environment).toBe(environment)
      // The deployment is recorded where a later rollback to this environment looks for it.
      expect(result.context.steps.record).toMatchObject({ recorded: 'true' })
      expect(result.context.steps.record?.['record-key']).toMatch(
        new RegExp(`^${app}/${environment}/deployments/\\d{8}T\\d{6}Z-`),
      )
      expect(result.context.steps.upload?.key).toBe(
        `${app}/${environment}/${result.context.steps.version?.version}.zip`,
      )
      const version = result.context.steps.version?.version ?? ''
      if (ref.startsWith('refs/tags/')) expect(version).toBe(ref.slice('refs/tags/'.length))
      for (const port of ports) {
        const health = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as {
          version: string
        }
        expect(health.version).toBe(version)
      }
      expect(result.summary).toContain(` to ${environment} succeeded`)
    } finally {
      await sandbox.close()
    }
  }, 120_000)
})
