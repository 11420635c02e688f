// One role per environment: `role-to-assume` as one ARN, an ARN with {environment}, or lines
// `ENV => ARN`, resolved with the step's own `environment` input. The bundled find-instance
// assumes the role over the sandbox's OIDC token service and STS, whose trust policies let
// each role be assumed only by a job of its own environment (as docs/iam's do).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { ConfigurationError } from '../../packages/kit/src/index.js'
import { roleForEnvironment } from '../../packages/github/src/index.js'
import { startSandboxWithOidc, type SandboxWithOidc } from '../support/sandbox-with-oidc.js'
import { runBundledAction } from '../support/bundled-action.js'

const REPOSITORY = 'acme/web'
const role = (name: string) => `arn:aws:iam::123456789012:role/${name}`
const PER_ENVIRONMENT = `
# one role per environment
dev => ${role('web-deploy-dev')}
Prod => ${role('web-deploy-prod')}
`

let sandbox: SandboxWithOidc
beforeAll(async () => {
  sandbox = await startSandboxWithOidc({
    instances: [
      { name: 'web-dev', tags: { DeployApp: 'web', DeployEnvironment: 'dev' } },
      { name: 'web-prod', tags: { DeployApp: 'web', DeployEnvironment: 'prod' } },
    ],
    // The token of a job that runs in the GitHub environment 'dev'.
    oidc: { subject: `repo:${REPOSITORY}:environment:dev` },
    sts: {
      roles: ['dev', 'prod'].map(environment => ({
        arn: role(`web-deploy-${environment}`),
        audience: 'sts.amazonaws.com',
        subject: `repo:${REPOSITORY}:environment:${environment}`,
      })),
    },
  })
})
afterAll(async () => sandbox?.close())

async function find(environment: string, roleToAssume: string) {
  const before = sandbox.sts?.calls.length ?? 0
  const run = await runBundledAction('find-instance', {
    inputs: {
      tags: environment === '' ? 'DeployApp=web' : 'DeployApp=web\nDeployEnvironment={environment}',
      environment,
      'role-to-assume': roleToAssume,
    },
    // No static keys: only the assumed role's credentials can be used.
    env: {
      ...sandbox.env,
      GITHUB_REPOSITORY: REPOSITORY,
      AWS_ACCESS_KEY_ID: undefined,
      AWS_SECRET_ACCESS_KEY: undefined,
    },
  })
  return { run, assumed: (sandbox.sts?.calls ?? []).slice(before).map(call => call.roleArn) }
}

describe('role-to-assume per environment, through the bundle and the sandbox STS', () => {
  it.each([
    ['lines ENV => ARN', PER_ENVIRONMENT],
    ['an ARN with {environment}', role('web-deploy-{environment}')],
  ])('%s: the dev job assumes the dev role and finds the dev host', async (_form, value) => {
    const { run, assumed } = await find('dev', value)
    expect(run.errors).toEqual([])
    expect(assumed).toEqual([role('web-deploy-dev')])
    expect(JSON.parse(run.outputs.instances ?? '[]')).toEqual([
      expect.objectContaining({ name: 'web-dev' }),
    ])
  })

  it("picks the prod role for 'prod', which a dev job's token cannot assume", async () => {
    const { run, assumed } = await find('prod', PER_ENVIRONMENT)
    expect(assumed).toEqual([role('web-deploy-prod')])
    expect(run.exitCode).toBe(1)
    expect(run.errors.join('\n')).toContain(
      `AWS refused to let this workflow assume role "${role('web-deploy-prod')}" (AccessDenied`,
    )
  })

  it.each([
    [
      'staging',
      PER_ENVIRONMENT,
      `input 'role-to-assume' has no line for environment "staging": it gives roles for 'dev', 'Prod'; add a line 'staging => ROLE ARN'`,
    ],
    [
      '',
      PER_ENVIRONMENT,
      `input 'role-to-assume' gives a role per environment ('dev', 'Prod'), but input 'environment' is empty`,
    ],
    [
      '',
      role('web-deploy-{environment}'),
      `input 'role-to-assume': "arn:aws:iam::123456789012:role/web-deploy-{environment}" uses {environment}, but input 'environment' is empty`,
    ],
    [
      'dev',
      `dev => ${role('web-deploy-dev')}\nprod => web-deploy-prod`,
      `input 'role-to-assume': "web-deploy-prod" is not valid: use the full role ARN`,
    ],
  ])('environment %j: fails before any STS call', async (environment, value, message) => {
    const { run, assumed } = await find(environment, value)
    expect(run.exitCode).toBe(1)
    expect(run.errors.join('\n')).toContain(message)
    expect(assumed).toEqual([])
  })
})

describe('roleForEnvironment', () => {
  const dev = role('d')
  it('returns a single ARN whatever the environment', () => {
    expect(roleForEnvironment(dev, undefined)).toBe(dev)
    expect(roleForEnvironment(dev, 'prod')).toBe(dev)
  })

  it('matches environments case-insensitively and skips blanks and comments', () => {
    expect(roleForEnvironment(PER_ENVIRONMENT, 'prod')).toBe(role('web-deploy-prod'))
    expect(roleForEnvironment(PER_ENVIRONMENT, 'DEV')).toBe(role('web-deploy-dev'))
    expect(roleForEnvironment(`dev => ${dev}   # the dev account`, 'dev')).toBe(dev)
  })

  it.each([
    [`dev => ${dev}\ndev => ${role('e')}`, 'dev', /"dev" has more than one line/],
    [`dev => ${dev}\n${role('e')}`, 'dev', /line "arn:aws:iam::123456789012:role\/e" is not valid/],
    [`=> ${dev}`, 'dev', /write one 'ENVIRONMENT => ROLE ARN' per line/],
    [`dev =>`, 'dev', /write one 'ENVIRONMENT => ROLE ARN' per line/],
    [`d$v => ${dev}`, 'd$v', /environment "d\$v" is not allowed/],
    [`dev => ${dev}`, '$(reboot)', /input 'environment' "\$\(reboot\)" is not allowed/],
    [role('x-{environment}'), 'a/../b', /input 'environment' "a\/..\/b" is not allowed/],
    [role('x-{env}'), 'dev', /uses the unknown placeholder \{env\}/],
    [`${dev}\n${role('e')}`, 'dev', /use the full role ARN/],
  ])('%j with environment %j is an error', (value, environment, message) => {
    expect(() => roleForEnvironment(value, environment)).toThrow(ConfigurationError)
    expect(() => roleForEnvironment(value, environment)).toThrow(message)
  })
})
