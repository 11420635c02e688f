import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { startFakeGitHub, type FakeGitHub } from '../support/fake-github.js'
import { runBundledAction } from '../support/bundled-action.js'

let github: FakeGitHub
beforeAll(async () => (github = await startFakeGitHub()))
afterAll(async () => github.close())

const SHA = 'abc1234def5678901234567890abcdef12345678'
const results = JSON.stringify([
  {
    'instance-id': 'i-0123456789abcdef0',
    name: 'web-1',
    status: 'success',
    'exit-code': 0,
    'previous-version': 'v1',
    version: 'v2',
    'rolled-back': false,
    'duration-ms': 900,
    reason: '',
  },
])

/** A deploy of v2 over v1 to develop, with the rollback line's workflow. */
const DEPLOYED = {
  status: 'success',
  environment: 'develop',
  version: 'v2',
  'previous-version': 'v1',
  'deploy-results': results,
  'rollback-workflow': 'octo-org/octo-repo/.github/workflows/deploy-web.yml@refs/heads/main',
}

describe('summary, bundled, as the runner runs it', () => {
  it('writes the job summary and the markdown output', async () => {
    const run = await runBundledAction('summary', { inputs: DEPLOYED })
    expect(run.exitCode).toBe(0)
    expect(run.summary).toContain('## ✅ Deploy of v2 to develop succeeded')
    expect(run.summary).toContain('**Live now:** <code>v2</code> (before: <code>v1</code>)')
    expect(run.summary).toContain(
      'gh workflow run deploy-web.yml --repo octo-org/octo-repo --ref main -f environment=develop -f version=v1',
    )
    expect(run.outputs.markdown?.trim()).toBe(run.summary.trim())
  })

  it('names a rollback run, lists engine warnings, and warns about a bad mode', async () => {
    const withWarnings = JSON.stringify([
      { ...JSON.parse(results)[0], warnings: ['hooks run as root: set run-as to cc @octocat'] },
    ])
    const run = await runBundledAction('summary', {
      inputs: {
        status: 'success',
        mode: 'rollback',
        environment: 'prod',
        version: 'v1',
        'deploy-results': withWarnings,
      },
    })
    expect(run.summary).toContain('## ✅ Rollback of prod to v1 succeeded')
    expect(run.summary).toContain(
      '- web-1 <code>i-0123456789abcdef0</code>: hooks run as root: set run-as to cc @&#8203;octocat',
    )
    const bad = await runBundledAction('summary', { inputs: { status: 'success', mode: 'undo' } })
    expect(bad.exitCode).toBe(0)
    expect(bad.warnings.join('\n')).toContain(
      `input 'mode': "undo" is not valid: use 'deploy' or 'rollback'`,
    )
  })

  it('still writes a summary after failures upstream, warning about broken inputs', async () => {
    const run = await runBundledAction('summary', {
      inputs: { status: 'failed', 'deploy-results': '{not json' },
    })
    expect(run.exitCode).toBe(0)
    expect(run.summary).toContain('## ❌ Deploy failed')
    expect(run.warnings.join('\n')).toContain(
      `input 'deploy-results': "{not json" is not a JSON array`,
    )
  })

  it('shows the waves and the versions to roll back to, from the outputs as the workflow passes them', async () => {
    const waves = JSON.stringify([
      {
        wave: 1,
        instances: ['i-0123456789abcdef0'],
        succeeded: 1,
        failed: 0,
        'duration-ms': 812,
        outcome: 'passed',
      },
      {
        wave: 2,
        instances: ['i-1', 'i-2'],
        succeeded: 2,
        failed: 0,
        'duration-ms': 1500,
        outcome: 'passed',
      },
    ])
    const rollbackVersions = JSON.stringify([
      { version: 'v1', 'deployed-at': '2026-11-30T10:50:03Z' },
      { version: 'v0.9', 'deployed-at': '2026-11-29T08:00:00Z' },
    ])
    const run = await runBundledAction('summary', {
      inputs: { ...DEPLOYED, waves, 'rollback-versions': rollbackVersions },
    })
    expect(run.exitCode).toBe(0)
    expect(run.warnings).toEqual([])
    expect(run.summary).toContain(
      '| 1 | 1: <code>i-0123456789abcdef0</code> | ✅ passed: 1 succeeded | 812 ms |',
    )
    expect(run.summary).toContain(
      '| web-1 <code>i-0123456789abcdef0</code> | ✅ deployed | <code>v1</code> → <code>v2</code> | 900 ms |',
    )
    // v1 has the roll back line above; the picker offers the other recorded version.
    expect(run.summary).toContain(
      '<code>v0.9</code>, deployed 2026-11-29 08:00:00 UTC\n\n```sh\n' +
        'gh workflow run deploy-web.yml --repo octo-org/octo-repo --ref main -f environment=develop -f version=v0.9\n```',
    )
  })

  it('warns about broken waves and versions it refuses, and still writes the summary', async () => {
    const run = await runBundledAction('summary', {
      inputs: {
        status: 'success',
        environment: 'develop',
        waves: '{"wave":1}',
        'rollback-versions': JSON.stringify([{ version: 'v1;touch /tmp/x' }, { version: 'v0.9' }]),
        'rollback-workflow': 'deploy-web.yml',
      },
    })
    expect(run.exitCode).toBe(0)
    expect(run.warnings).toEqual([
      `input 'waves': "{\\"wave\\":1}" is not a JSON array; it is left out of the summary`,
      `input 'rollback-versions': version "v1;touch /tmp/x" is not valid: start with a letter or digit, then use letters, digits, '.', '_', '-' and '+'; it is left out of the summary`,
    ])
    expect(run.summary).not.toContain('touch')
    expect(run.summary).toContain(
      'gh workflow run deploy-web.yml -f environment=develop -f version=v0.9',
    )
  })

  it('shows a hostile branch name as text', async () => {
    const run = await runBundledAction('summary', {
      inputs: { status: 'failed', version: '<img src=x onerror=alert(1)>' },
    })
    expect(run.summary).not.toContain('<img')
    expect(run.summary).toContain('&lt;img src=x onerror=alert(1)&gt;')
  })

  it('records a GitHub Deployment and its status', async () => {
    const run = await runBundledAction('summary', {
      inputs: {
        status: 'rolled-back',
        environment: 'prod',
        version: 'v3',
        'create-deployment': 'true',
        'environment-url': 'https://app.example.com',
      },
      env: { GITHUB_API_URL: github.url, GITHUB_SHA: SHA },
    })
    expect(run.errors).toEqual([])
    expect(run.exitCode).toBe(0)
    const deployment = github.deployments.at(-1)
    expect(deployment?.body).toMatchObject({
      ref: SHA,
      environment: 'prod',
      required_contexts: [],
      auto_merge: false,
    })
    expect(deployment?.statuses).toEqual([
      expect.objectContaining({
        state: 'failure',
        environment_url: 'https://app.example.com',
        log_url: 'https://github.com/octo-org/octo-repo/actions/runs/1234567890',
      }),
    ])
  })

  it.each([
    [
      {
        'create-deployment': 'true',
        environment: 'prod',
        'environment-url': 'javascript:alert(1)',
      },
      `input 'environment-url': "javascript:alert(1)" is not valid`,
    ],
    [
      { 'create-deployment': 'true' },
      "input 'create-deployment' is true but input 'environment' is empty",
    ],
    [
      { 'create-deployment': 'maybe' },
      `input 'create-deployment': "maybe" is not valid: use 'true' or 'false'`,
    ],
  ])('fails clearly on %j', async (inputs, message) => {
    const run = await runBundledAction('summary', {
      inputs: { status: 'success', ...inputs },
      env: { GITHUB_API_URL: github.url, GITHUB_SHA: SHA },
    })
    expect(run.exitCode).toBe(1)
    expect(run.errors.join('\n')).toContain(message)
    // The summary is written first: it runs after failures and must never be lost.
    expect(run.summary).toContain('## ✅ Deploy')
    expect(run.outputs.markdown?.trim()).toBe(run.summary.trim())
  })

  it.each([
    { GITHUB_SERVER_URL: 'javascript:alert(1)' },
    { GITHUB_REPOSITORY: 'octo/../../evil' },
    { GITHUB_RUN_ID: '1;rm -rf /' },
  ])('never fails on a malformed %j: the run link is left out', async change => {
    const run = await runBundledAction('summary', {
      inputs: { status: 'success', environment: 'prod', version: 'v3' },
      env: change,
    })
    expect(run.errors).toEqual([])
    expect(run.exitCode).toBe(0)
    expect(run.summary).toContain('## ✅ Deploy of v3 to prod succeeded')
    expect(run.summary).not.toContain('Workflow run')
  })

  it('records the GitHub Deployment without a log URL rather than a made-up one', async () => {
    const run = await runBundledAction('summary', {
      inputs: {
        status: 'success',
        environment: 'prod',
        version: 'v3',
        'create-deployment': 'true',
      },
      env: {
        GITHUB_API_URL: github.url,
        GITHUB_SHA: SHA,
        GITHUB_SERVER_URL: 'javascript:alert(1)',
      },
    })
    expect(run.errors).toEqual([])
    expect(run.exitCode).toBe(0)
    const status = github.deployments.at(-1)?.statuses.at(-1) as Record<string, unknown>
    expect(status).toMatchObject({ state: 'success' })
    expect(status).not.toHaveProperty('log_url')
  })

  it('links the workflow run when the variables are well formed', async () => {
    const run = await runBundledAction('summary', {
      inputs: { status: 'success', environment: 'prod', version: 'v3' },
    })
    expect(run.exitCode).toBe(0)
    expect(run.summary).toContain(
      '[Workflow run](https://github.com/octo-org/octo-repo/actions/runs/1234567890)',
    )
  })
})
