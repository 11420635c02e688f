import { describe, expect, it } from '@jest/globals'
import { runBundledAction } from '../support/bundled-action.js'

const SEED_RULES = [
  'master => develop',
  'develop => develop',
  'qa => qa',
  'staging => staging',
  'main2 => main2',
  'feature/* => dev',
  'release/* => staging',
  'main => prod',
  'tag:v*.*.* => prod',
].join('\n')

describe('resolve-environment, bundled, as the runner runs it', () => {
  it.each([
    ['refs/heads/master', 'develop', 'false'],
    ['refs/heads/qa', 'qa', 'false'],
    ['refs/heads/feature/login', 'dev', 'false'],
    ['refs/heads/release/1.4', 'staging', 'false'],
    ['refs/heads/main', 'prod', 'true'],
    ['refs/tags/v1.2.0', 'prod', 'true'],
  ])('GITHUB_REF=%s → %s', async (ref, environment, isProduction) => {
    const run = await runBundledAction('resolve-environment', {
      inputs: { rules: SEED_RULES },
      env: { GITHUB_REF: ref },
    })
    expect(run.exitCode).toBe(0)
    expect(run.outputs).toMatchObject({
      environment,
      deploy: 'true',
      'is-production': isProduction,
    })
  })

  it('prefers the ref input over the event ref, and reports its parts', async () => {
    const run = await runBundledAction('resolve-environment', {
      inputs: { rules: SEED_RULES, ref: 'refs/heads/release/2026.11' },
      env: { GITHUB_REF: 'refs/heads/master' },
    })
    expect(run.outputs).toEqual({
      environment: 'staging',
      'ref-name': 'release/2026.11',
      'ref-type': 'branch',
      deploy: 'true',
      'is-production': 'false',
      'matched-rule': 'release/* => staging',
    })
  })

  it('skips a pull request ref by default', async () => {
    const run = await runBundledAction('resolve-environment', {
      inputs: { rules: SEED_RULES },
      env: { GITHUB_REF: 'refs/pull/12/merge', GITHUB_EVENT_NAME: 'pull_request' },
    })
    expect(run.exitCode).toBe(0)
    expect(run.outputs).toMatchObject({ deploy: 'false', environment: '', 'ref-type': 'other' })
  })

  it('takes the workflow_dispatch environment override for a rollback (with a version)', async () => {
    const run = await runBundledAction('resolve-environment', {
      inputs: { rules: SEED_RULES, environment: 'prod', version: 'v1.2.0' },
      env: { GITHUB_REF: 'refs/heads/feature/x', GITHUB_EVENT_NAME: 'workflow_dispatch' },
    })
    expect(run.exitCode).toBe(0)
    expect(run.outputs).toMatchObject({
      environment: 'prod',
      'is-production': 'true',
      'matched-rule': 'environment input',
    })
  })

  it('refuses to build a feature branch for prod through the override (no version)', async () => {
    // gh workflow run deploy.yml --ref feature/x -f environment=prod
    const run = await runBundledAction('resolve-environment', {
      inputs: { rules: SEED_RULES, environment: 'prod' },
      env: { GITHUB_REF: 'refs/heads/feature/x', GITHUB_EVENT_NAME: 'workflow_dispatch' },
    })
    expect(run.exitCode).toBe(1)
    expect(run.errors.join('\n')).toContain(
      `input 'environment': "prod" is not allowed for branch "feature/x": no rule for 'prod' matches it`,
    )
    expect(run.errors.join('\n')).toContain('the rules are: master => develop;')
    expect(run.outputs).toEqual({})
  })

  it('takes the override without a version when a rule for it matches the ref', async () => {
    const run = await runBundledAction('resolve-environment', {
      inputs: { rules: SEED_RULES, environment: 'dev' },
      env: { GITHUB_REF: 'refs/heads/feature/x', GITHUB_EVENT_NAME: 'workflow_dispatch' },
    })
    expect(run.exitCode).toBe(0)
    expect(run.outputs).toMatchObject({ environment: 'dev', deploy: 'true' })
  })

  it('leaves a notice and a summary line when no rule matches a typo', async () => {
    const run = await runBundledAction('resolve-environment', {
      inputs: { rules: 'mastr => develop\ntag:v*.*.* => prod' },
      env: { GITHUB_REF: 'refs/heads/master' },
    })
    expect(run.exitCode).toBe(0)
    expect(run.outputs).toMatchObject({ deploy: 'false', environment: '' })
    expect(run.stdout).toContain(
      '::notice title=Nothing deployed::ref "master" matched no rule; nothing deployed. The rules: mastr => develop; tag:v*.*.* => prod',
    )
    expect(run.summary.trim()).toBe(
      'ref &quot;master&quot; matched no rule; nothing deployed. The rules: mastr =&gt; develop; tag:v&#42;.&#42;.&#42; =&gt; prod',
    )
  })

  it('keeps a hostile branch name inert in the notice and the summary', async () => {
    const run = await runBundledAction('resolve-environment', {
      inputs: { rules: SEED_RULES },
      env: { GITHUB_REF: 'refs/heads/x%0A::add-mask::v1<img src=x>' },
    })
    expect(run.exitCode).toBe(0)
    const notice = run.stdout.split('\n').filter(line => line.startsWith('::notice'))
    expect(notice).toHaveLength(1)
    expect(notice[0]).toContain('x%250A::add-mask::v1<img src=x>')
    expect(run.stdout).not.toMatch(/^::add-mask::/m)
    expect(run.summary).toContain('x%0A::add-mask::v1&lt;img src=x&gt;')
  })

  it.each([
    [
      { rules: 'master => develop\nrelease/*' },
      "input 'rules' line 2: \"release/*\": write 'PATTERN => ENVIRONMENT'",
    ],
    [
      { rules: SEED_RULES, environment: 'production', version: 'v1.0.0' },
      `input 'environment': "production" is not an environment the rules name`,
    ],
    [{ rules: SEED_RULES, 'on-no-match': 'fail' }, 'no rule matches branch "wip/x"'],
    [
      { rules: SEED_RULES, 'on-no-match': 'ignore' },
      `input 'on-no-match': "ignore" is not valid: use one of 'skip', 'fail'`,
    ],
    [{ rules: '' }, "input 'rules' is required"],
    [{ rules: 'main => $(touch /tmp/x)' }, `line 1: environment "$(touch /tmp/x)" is not allowed`],
    [
      { rules: 'master => develop\ntags:v*.*.* => prod' },
      `input 'rules' line 2: pattern "tags:v*.*.*" has an unknown prefix "tags:"`,
    ],
    [{ rules: 'wip:x => dev' }, `line 1: pattern "wip:x" has an unknown prefix "wip:"`],
    [{ rules: 'wip/a:b => dev' }, `line 1: pattern "wip/a:b" contains ':'`],
  ])('fails clearly on %j', async (inputs, message) => {
    const run = await runBundledAction('resolve-environment', {
      inputs,
      env: { GITHUB_REF: 'refs/heads/wip/x' },
    })
    expect(run.exitCode).toBe(1)
    expect(run.errors.join('\n')).toContain(message)
    expect(run.outputs).toEqual({})
  })
})
