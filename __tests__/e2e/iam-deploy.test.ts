// ssm-deploy, bundled and run like the runner runs it, assuming the dev deploy role over OIDC
// (the shipped templates filled in for dev): it reaches dev hosts, and AWS refuses it a prod
// host before anything is sent there.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { startSandbox, type Sandbox } from '../../packages/sandbox/src/index.js'
import { ACCOUNT_ID, APP, BUCKET, instantiate, REGION, subjectFor } from '../iam/templates.js'
import { runAction } from '../support/run-action.js'

const DEV_ROLE = `arn:aws:iam::${ACCOUNT_ID}:role/${APP}-deploy-dev`
const DEV_HOST = 'i-0000000000000e001'
const PROD_HOST = 'i-0000000000000e002'
let sandbox: Sandbox

beforeAll(async () => {
  sandbox = await startSandbox({
    region: REGION,
    accountId: ACCOUNT_ID,
    commandMode: 'fast',
    instances: [
      { id: DEV_HOST, name: 'web-dev', tags: { DeployApp: APP, DeployEnvironment: 'dev' } },
      { id: PROD_HOST, name: 'web-prod', tags: { DeployApp: APP, DeployEnvironment: 'prod' } },
    ],
    s3: { buckets: [BUCKET] },
    oidc: { subject: subjectFor('dev') },
    sts: {
      roles: [
        {
          arn: DEV_ROLE,
          trustPolicy: instantiate('deploy-role-trust-policy.json', 'dev'),
          policy: instantiate('deploy-role-policy.json', 'dev'),
        },
      ],
    },
  })
})
afterAll(async () => {
  await sandbox?.close()
})

/** ssm-deploy to `host` as the dev role; no static keys to fall back on. */
const deployAsDev = (host: string) =>
  runAction('ssm-deploy', {
    inputs: {
      'instance-ids': JSON.stringify([host]),
      version: 'v1.0.0',
      environment: 'dev',
      'app-name': APP,
      'deploy-dir': `/opt/${APP}`,
      'artifact-uri': `s3://${BUCKET}/${APP}/dev/v1.0.0.zip`,
      'artifact-sha256': 'a'.repeat(64),
      download: 'instance-role',
      'role-to-assume': DEV_ROLE,
      'aws-region': REGION,
      timeout: '1m',
    },
    env: {
      ...sandbox.env,
      AWS_ACCESS_KEY_ID: undefined,
      AWS_SECRET_ACCESS_KEY: undefined,
      GITHUB_REPOSITORY: 'octo-org/octo-repo',
      GITHUB_RUN_ID: '1234567890',
      GITHUB_RUN_ATTEMPT: '1',
    },
  })

const commandsTo = (host: string) =>
  (sandbox.ssm.listCommands({}).Commands as { InstanceIds: string[] }[]).filter(c =>
    c.InstanceIds.includes(host),
  )

describe('ssm-deploy as the dev deploy role', () => {
  it('is refused a prod host by AWS, and sends nothing', async () => {
    const run = await deployAsDev(PROD_HOST)
    expect(run.exitCode).toBe(1)
    expect(run.errors.join('\n')).toContain(
      `is not authorized to perform: ssm:SendCommand on resource: arn:aws:ec2:${REGION}:${ACCOUNT_ID}:instance/${PROD_HOST}`,
    )
    expect(sandbox.sts!.calls.at(-1)).toMatchObject({ roleArn: DEV_ROLE, status: 200 })
    expect(commandsTo(PROD_HOST)).toEqual([])
  })

  it('sends its command to a dev host', async () => {
    await deployAsDev(DEV_HOST)
    expect(commandsTo(DEV_HOST)).toHaveLength(1)
  })
})
