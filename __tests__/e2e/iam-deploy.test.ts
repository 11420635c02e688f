// ssm-deploy, bundled and run like the runner runs it, assuming the dev deploy role over OIDC
// (the shipped templates filled in for dev): it reaches dev hosts, and AWS refuses it a prod
// host before anything is sent there.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import {
  roleOnlyEnv,
  startSandboxWithOidc,
  type SandboxWithOidc,
} from '../support/sandbox-with-oidc.js'
import {
  ACCOUNT_ID,
  APP,
  BUCKET,
  deployRole,
  deployRoleArn,
  IAM_SANDBOX,
  REGION,
  taggedInstances,
} from '../iam/templates.js'
import { runBundledAction } from '../support/bundled-action.js'

const DEV_ROLE = deployRoleArn('dev')
let sandbox: SandboxWithOidc
const hostOf = (environment: string) => sandbox.fleet.byName(`web-${environment}`)!.id

beforeAll(async () => {
  sandbox = await startSandboxWithOidc({
    ...IAM_SANDBOX,
    instances: taggedInstances('dev', 'prod'),
    s3: { buckets: [BUCKET] },
    sts: {
      roles: [deployRole('dev')],
    },
  })
})
afterAll(async () => {
  await sandbox?.close()
})

/** ssm-deploy to `host` as the dev role; no static keys to fall back on. */
const deployAsDev = (host: string) =>
  runBundledAction('ssm-deploy', {
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
    env: { ...roleOnlyEnv(sandbox), GITHUB_RUN_ATTEMPT: '1' },
  })

const commandsTo = (host: string) =>
  (sandbox.ssm.listCommands({}).Commands as { InstanceIds: string[] }[]).filter(c =>
    c.InstanceIds.includes(host),
  )

describe('ssm-deploy as the dev deploy role', () => {
  it('is refused a prod host by AWS, and sends nothing', async () => {
    const run = await deployAsDev(hostOf('prod'))
    expect(run.exitCode).toBe(1)
    expect(run.errors.join('\n')).toContain(
      `is not authorized to perform: ssm:SendCommand on resource: arn:aws:ec2:${REGION}:${ACCOUNT_ID}:instance/${hostOf('prod')}`,
    )
    expect(sandbox.sts!.calls.at(-1)).toMatchObject({ roleArn: DEV_ROLE, status: 200 })
    expect(commandsTo(hostOf('prod'))).toEqual([])
  })

  it('sends its command to a dev host', async () => {
    await deployAsDev(hostOf('dev'))
    expect(commandsTo(hostOf('dev'))).toHaveLength(1)
  })
})
