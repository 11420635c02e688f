import { describe, expect, it } from '@jest/globals'
import { runAction } from '../support/run-action.js'

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
    const run = await runAction('resolve-environment', {
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
    const run = await runAction('resolve-environment', {
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
    const run = await runAction('resolve-environment', {
      inputs: { rules: SEED_RULES },
      env: { GITHUB_REF: 'refs/pull/12/merge', GITHUB_EVENT_NAME: 'pull_request' },
    })
    expect(run.exitCode).toBe(0)
    expect(run.outputs).toMatchObject({ deploy: 'false', environment: '', 'ref-type': 'other' })
  })

  it('takes the workflow_dispatch environment override', async () => {
    const run = await runAction('resolve-environment', {
      inputs: { rules: SEED_RULES, environment: 'prod' },
      env: { GITHUB_REF: 'refs/heads/feature/x', GITHUB_EVENT_NAME: 'workflow_dispatch' },
    })
    expect(run.outputs).toMatchObject({
      environment: 'prod',
      'is-production': 'true',
      'matched-rule': 'environment input',
    })
  })

  it.each([
    [
      { rules: 'master => develop\nrelease/*' },
      "input 'rules' line 2: \"release/*\": write 'PATTERN => ENVIRONMENT'",
    ],
    [
      { rules: SEED_RULES, environment: 'production' },
      `input 'environment': "production" is not an environment the rules name`,
    ],
    [{ rules: SEED_RULES, 'on-no-match': 'fail' }, 'no rule matches branch "wip/x"'],
    [
      { rules: SEED_RULES, 'on-no-match': 'ignore' },
      `input 'on-no-match': "ignore" is not valid: use one of 'skip', 'fail'`,
    ],
    [{ rules: '' }, "input 'rules' is required"],
    [{ rules: 'main => $(touch /tmp/x)' }, `line 1: environment "$(touch /tmp/x)" is not allowed`],
  ])('fails clearly on %j', async (inputs, message) => {
    const run = await runAction('resolve-environment', {
      inputs,
      env: { GITHUB_REF: 'refs/heads/wip/x' },
    })
    expect(run.exitCode).toBe(1)
    expect(run.errors.join('\n')).toContain(message)
    expect(run.outputs).toEqual({})
  })
})
