// The attacks of the trust review, replayed against the sandbox with the shipped docs/iam
// templates filled in for `dev` and `prod`: roles assumed over OIDC through the suite's own
// credential code, every request signed by the real SDK (or the AWS CLI) and authorised by
// the sandbox's IAM evaluator.
import { execFile } from 'node:child_process'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2'
import {
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import { SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm'
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2'
import { AwsClientFactory, webIdentityCredentials } from '../../packages/aws/src/index.js'
import { TargetGroupGate, type Wave } from '../../packages/fleet/src/index.js'
import { ConfigurationError, memoryLogger } from '../../packages/kit/src/index.js'
import type { TargetGroup } from '../../dev/aws-sandbox/src/index.js'
import { until } from '../sandbox/helpers.js'
import { startSandboxWithOidc, type SandboxWithOidc } from '../support/sandbox-with-oidc.js'
import {
  ACCOUNT_ID,
  APP,
  BUCKET,
  DEPLOY_WORKFLOW_REF,
  deployRole,
  deployRoleArn,
  IAM_SANDBOX,
  instantiate,
  REGION,
  subjectFor,
  taggedInstances,
} from './templates.js'

const run = promisify(execFile)
const DEV_ROLE = deployRoleArn('dev')
const PROD_ROLE = deployRoleArn('prod')

let sandbox: SandboxWithOidc
const savedEnv = { ...process.env }
const factories: AwsClientFactory[] = []

beforeAll(async () => {
  sandbox = await startSandboxWithOidc({
    ...IAM_SANDBOX,
    instances: [
      ...taggedInstances('dev', 'prod'),
      { name: 'web-untagged-env', tags: { DeployApp: APP } },
    ],
    s3: {
      buckets: [BUCKET],
      bucketPolicies: { [BUCKET]: instantiate('artifact-bucket-policy.json', 'dev') },
    },
    sts: {
      roles: [deployRole('dev'), deployRole('prod', 'deploy-role-trust-policy-strict.json')],
    },
    // Named as the deploy role's policy expects: <app>-<environment>.
    targetGroups: ['dev', 'prod'].map(environment => ({
      name: `${APP}-${environment}`,
      port: 8080,
      healthCheckIntervalSeconds: 0.2,
      healthyThresholdCount: 2,
      deregistrationDelaySeconds: 0.3,
    })),
  })
  // The SDK finds the sandbox through AWS_ENDPOINT_URL_*; no static keys are left to fall back on.
  Object.assign(process.env, sandbox.env)
  delete process.env.AWS_ACCESS_KEY_ID
  delete process.env.AWS_SECRET_ACCESS_KEY
})

afterAll(async () => {
  for (const factory of factories) factory.destroy()
  process.env = savedEnv
  await sandbox?.close()
})

/** Clients acting as `roleArn`, assumed with a token whose `sub` is `subject`. */
function clientsAs(roleArn: string, subject: string) {
  const base = new AwsClientFactory({ region: REGION, maxAttempts: 1, component: 'iam-test' })
  const credentials = webIdentityCredentials({
    roleArn,
    sessionName: 'gha-1234567890-1-octo-org-octo-repo',
    durationSeconds: 3600,
    getToken: async () => sandbox.oidc.sign({ sub: subject }),
    clientConfig: base.config,
  })
  const factory = new AwsClientFactory({
    region: REGION,
    credentials,
    maxAttempts: 1,
    component: 'iam-test',
  })
  factories.push(base, factory)
  return {
    credentials,
    ssm: factory.client(SSMClient),
    s3: factory.client(S3Client),
    ec2: factory.client(EC2Client),
    elbv2: factory.client(ElasticLoadBalancingV2Client),
  }
}

const failure = (
  promise: Promise<unknown>,
): Promise<Error & { $metadata?: { httpStatusCode?: number } }> =>
  promise.then(
    () => {
      throw new Error('expected AWS to refuse the call')
    },
    (error: Error) => error,
  )

const instanceId = (name: string) => sandbox.fleet.byName(name)!.id
const sendTo = (name: string) =>
  new SendCommandCommand({
    DocumentName: 'AWS-RunShellScript',
    InstanceIds: [instanceId(name)],
    Parameters: { commands: ['id'] },
  })
const put = (key: string, ifNoneMatch?: string) =>
  new PutObjectCommand({
    Bucket: BUCKET,
    Key: key,
    Body: `body of ${key}`,
    ...(ifNoneMatch === undefined ? {} : { IfNoneMatch: ifNoneMatch }),
  })

describe('the dev deploy role (default trust policy, dev templates)', () => {
  const dev = () => clientsAs(DEV_ROLE, subjectFor('dev'))

  it('sends commands to dev hosts of the app, and to no prod host', async () => {
    const { ssm } = dev()
    const sent = await ssm.send(sendTo('web-dev'))
    expect(sent.Command?.CommandId).toMatch(/^[0-9a-f-]{36}$/)

    const toProd = await failure(ssm.send(sendTo('web-prod')))
    expect(toProd.name).toBe('AccessDeniedException')
    expect(toProd.message).toBe(
      `User: arn:aws:sts::${ACCOUNT_ID}:assumed-role/${APP}-deploy-dev/gha-1234567890-1-octo-org-octo-repo ` +
        `is not authorized to perform: ssm:SendCommand on resource: ` +
        `arn:aws:ec2:${REGION}:${ACCOUNT_ID}:instance/${instanceId('web-prod')} ` +
        'because no identity-based policy allows the ssm:SendCommand action',
    )
    // DeployApp alone (the old policy's only condition) no longer opens a host.
    const toUntagged = await failure(ssm.send(sendTo('web-untagged-env')))
    expect(toUntagged.name).toBe('AccessDeniedException')
    // One prod id among dev ids refuses the whole call: nothing is sent anywhere.
    const commandsBefore = sandbox.ssm.listCommands({}).Commands
    const mixed = await failure(
      ssm.send(
        new SendCommandCommand({
          DocumentName: 'AWS-RunShellScript',
          InstanceIds: [instanceId('web-dev'), instanceId('web-prod')],
          Parameters: { commands: ['id'] },
        }),
      ),
    )
    expect(mixed.name).toBe('AccessDeniedException')
    expect(sandbox.ssm.listCommands({}).Commands).toEqual(commandsBefore)
  })

  it('runs only AWS-RunShellScript', async () => {
    const { ssm } = dev()
    const other = await failure(
      ssm.send(
        new SendCommandCommand({
          DocumentName: 'AWS-RunPowerShellScript',
          InstanceIds: [instanceId('web-dev')],
          Parameters: { commands: ['id'] },
        }),
      ),
    )
    expect(other.name).toBe('AccessDeniedException')
    expect(other.message).toContain(`arn:aws:ssm:${REGION}::document/AWS-RunPowerShellScript`)
  })

  it("writes and lists only dev's part of the artifact store", async () => {
    const { s3 } = dev()
    await s3.send(put(`${APP}/dev/v1.0.0.zip`, '*'))
    await s3.send(put(`${APP}/dev/deployments/20261201T120000Z-v1.0.0.json`, '*'))
    const listed = await s3.send(
      new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${APP}/dev/deployments/` }),
    )
    expect(listed.Contents?.map(o => o.Key)).toEqual([
      `${APP}/dev/deployments/20261201T120000Z-v1.0.0.json`,
    ])

    const prodWrite = await failure(s3.send(put(`${APP}/prod/v1.0.0.zip`, '*')))
    expect(prodWrite.name).toBe('AccessDenied')
    expect(prodWrite.$metadata?.httpStatusCode).toBe(403)
    expect(prodWrite.message).toContain(
      `s3:PutObject on resource: arn:aws:s3:::${BUCKET}/${APP}/prod/v1.0.0.zip because no identity-based policy allows`,
    )
    const prodList = await failure(
      s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${APP}/prod/` })),
    )
    expect(prodList.name).toBe('AccessDenied')
    const wholeBucket = await failure(s3.send(new ListObjectsV2Command({ Bucket: BUCKET })))
    expect(wholeBucket.name).toBe('AccessDenied')
  })

  it('cannot read a prod artifact, not even through a presigned URL', async () => {
    const { s3 } = dev()
    const read = await failure(
      s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: `${APP}/prod/v1.0.0.zip` })),
    )
    expect(read.name).toBe('AccessDenied')
    const url = await getSignedUrl(
      s3,
      new GetObjectCommand({ Bucket: BUCKET, Key: `${APP}/prod/v1.0.0.zip` }),
      { expiresIn: 300 },
    )
    const response = await fetch(url)
    expect(response.status).toBe(403)
    expect(await response.text()).toContain('<Code>AccessDenied</Code>')
  })

  it('finds instances (ec2:DescribeInstances)', async () => {
    const { ec2 } = dev()
    const found = await ec2.send(new DescribeInstancesCommand({}))
    expect(found.Reservations?.flatMap(r => r.Instances ?? []).length).toBe(3)
  })
})

describe("the dev deploy role and the environments' target groups", () => {
  const servers: Server[] = []
  afterAll(() => servers.forEach(server => server.close()))

  /** An app for `host` registered in `group` on its port, healthy there. */
  async function servingIn(group: TargetGroup, host: string): Promise<number> {
    const server = createServer((_request, response) => response.end('ok'))
    servers.push(server)
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as AddressInfo).port
    group.register(instanceId(host), port)
    await until(() =>
      group.find(instanceId(host), port)?.report().state === 'healthy' ? true : undefined,
    )
    return port
  }
  const waveOf = (host: string): Wave => ({
    number: 1,
    of: 1,
    purpose: 'deploy',
    instanceIds: [instanceId(host)],
  })
  const gateFor = (...groups: TargetGroup[]) =>
    new TargetGroupGate(clientsAs(DEV_ROLE, subjectFor('dev')).elbv2, memoryLogger(), {
      targetGroupArns: groups.map(group => group.arn),
      drainTimeoutMs: 5_000,
      healthySlackMs: 3_000,
      pollIntervalMs: 100,
    })

  it("drains a dev host from dev's target group and brings it back", async () => {
    const group = sandbox.elbv2.get(`${APP}-dev`)!
    const port = await servingIn(group, 'web-dev')
    const gate = gateFor(group)
    await gate.beforeWave(waveOf('web-dev'))
    expect(group.list()).toHaveLength(0)
    expect(await gate.afterWave(waveOf('web-dev'), [instanceId('web-dev')])).toEqual(new Map())
    expect(group.find(instanceId('web-dev'), port)?.report().state).toBe('healthy')
  })

  it("cannot drain prod's target group: nothing there changes", async () => {
    const group = sandbox.elbv2.get(`${APP}-prod`)!
    const port = await servingIn(group, 'web-prod')
    const refused = await failure(gateFor(group).beforeWave(waveOf('web-prod')))
    expect(refused).toBeInstanceOf(ConfigurationError)
    expect(refused.message).toContain(
      `access denied: DeregisterTargets (instances ${instanceId('web-prod')}) in region ${REGION} (AccessDenied: ` +
        `"User: arn:aws:sts::${ACCOUNT_ID}:assumed-role/${APP}-deploy-dev/gha-1234567890-1-octo-org-octo-repo ` +
        `is not authorized to perform: elasticloadbalancing:DeregisterTargets on resource: ${group.arn}`,
    )
    expect(refused.message).toContain('targetgroup/APP_NAME-ENVIRONMENT/*')
    expect(group.list().map(target => [target.port, target.report().state])).toEqual([
      [port, 'healthy'],
    ])
  })

  it('puts the hosts it took out back when a later target group refuses it', async () => {
    const dev = sandbox.elbv2.get(`${APP}-dev`)!
    const prod = sandbox.elbv2.get(`${APP}-prod`)!
    const devPort = dev.list()[0]?.port ?? (await servingIn(dev, 'web-dev'))
    const prodPort = prod.list()[0]?.port ?? (await servingIn(prod, 'web-prod'))
    const both: Wave = {
      ...waveOf('web-dev'),
      instanceIds: [instanceId('web-dev'), instanceId('web-prod')],
    }
    const refused = await failure(gateFor(dev, prod).beforeWave(both))
    expect(refused.message).toContain('access denied: DeregisterTargets')
    // Dev's host was deregistered, then registered again: not draining, back in service.
    const back = dev.find(instanceId('web-dev'), devPort)
    expect(back?.drainingUntil).toBeUndefined()
    await until(() => (back?.report().state === 'healthy' ? true : undefined))
    expect(prod.find(instanceId('web-prod'), prodPort)?.report().state).toBe('healthy')
  })
})

describe('the artifact bucket policy and conditional writes', () => {
  const dev = () => clientsAs(DEV_ROLE, subjectFor('dev'))

  it("refuses a write without If-None-Match, even inside the role's own prefix", async () => {
    const { s3 } = dev()
    const unconditional = await failure(s3.send(put(`${APP}/dev/v2.0.0.zip`)))
    expect(unconditional.name).toBe('AccessDenied')
    expect(unconditional.message).toContain('with an explicit deny in a resource-based policy')
    await s3.send(put(`${APP}/dev/v2.0.0.zip`, '*'))
  })

  it('answers 412 when If-None-Match: * meets an existing key, and keeps the first bytes', async () => {
    const { s3 } = dev()
    const key = `${APP}/dev/deployments/20261201T130000Z-v3.0.0.json`
    await s3.send(put(key, '*'))
    const again = await failure(
      s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'forged', IfNoneMatch: '*' })),
    )
    expect(again.name).toBe('PreconditionFailed')
    expect(again.$metadata?.httpStatusCode).toBe(412)
    const stored = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))
    expect(await stored.Body?.transformToString()).toBe(`body of ${key}`)
  })

  it('lets only one of many racing If-None-Match writers win', async () => {
    const { s3 } = dev()
    const key = `${APP}/dev/deployments/20261201T140000Z-v4.0.0.json`
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) =>
        s3.send(
          new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: `w${i}`, IfNoneMatch: '*' }),
        ),
      ),
    )
    expect(results.filter(r => r.status === 'fulfilled')).toHaveLength(1)
    for (const r of results.filter(r => r.status === 'rejected'))
      expect((r as PromiseRejectedResult).reason).toMatchObject({ name: 'PreconditionFailed' })
  })

  it('lets desired.json change only compare-and-swap; a release is not replaced with If-Match', async () => {
    const { s3 } = dev()
    const key = `${APP}/dev/desired.json`
    const first = await s3.send(put(key, '*'))
    const unconditional = await failure(s3.send(put(key)))
    expect(unconditional.name).toBe('AccessDenied')
    await s3.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'next', IfMatch: first.ETag }),
    )
    const release = `${APP}/dev/v5.0.0.zip`
    const written = await s3.send(put(release, '*'))
    const replaced = await failure(
      s3.send(
        new PutObjectCommand({ Bucket: BUCKET, Key: release, Body: 'x', IfMatch: written.ETag }),
      ),
    )
    expect(replaced.name).toBe('AccessDenied')
  })

  it('answers 412 on an If-Match ETag mismatch (default credentials: no IAM, same S3)', async () => {
    const s3 = new S3Client({
      region: REGION,
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    })
    try {
      const key = `${APP}/dev/desired.json`
      const first = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'a' }))
      const stale = await failure(
        s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'b', IfMatch: '"0000"' })),
      )
      expect(stale.$metadata?.httpStatusCode).toBe(412)
      await s3.send(
        new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'c', IfMatch: first.ETag }),
      )
      const stored = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))
      expect(await stored.Body?.transformToString()).toBe('c')
    } finally {
      s3.destroy()
    }
  })
})

describe('the prod deploy role (strict trust policy, prod templates)', () => {
  it('is assumed only by the pinned reusable workflow, in environment prod', async () => {
    const pinned = clientsAs(PROD_ROLE, subjectFor('prod', DEPLOY_WORKFLOW_REF))
    await pinned.ssm.send(sendTo('web-prod'))

    const otherWorkflow = clientsAs(
      PROD_ROLE,
      subjectFor('prod', 'octo-org/octo-repo/.github/workflows/yolo.yml@refs/heads/feature/x'),
    )
    const refused = await failure(otherWorkflow.credentials())
    expect(refused.message).toContain('AccessDenied')
    expect(refused.message).toContain(
      'repo:octo-org/octo-repo:environment:prod:job_workflow_ref:octo-org/octo-repo/.github/workflows/yolo.yml@refs/heads/feature/x',
    )
    // The default subject (no customisation) and a dev job's subject are refused too.
    await expect(clientsAs(PROD_ROLE, subjectFor('prod')).credentials()).rejects.toThrow(
      /AccessDenied/,
    )
    await expect(
      clientsAs(PROD_ROLE, subjectFor('dev', DEPLOY_WORKFLOW_REF)).credentials(),
    ).rejects.toThrow(/AccessDenied/)
  })

  it('cannot be assumed with a dev token, and the dev role not with a prod token', async () => {
    await expect(clientsAs(DEV_ROLE, subjectFor('prod')).credentials()).rejects.toThrow(
      /AccessDenied/,
    )
    await expect(clientsAs(PROD_ROLE, subjectFor('dev')).credentials()).rejects.toThrow(
      /AccessDenied/,
    )
  })
})

describe('the AWS CLI reads the refusals', () => {
  it('prints AccessDenied for a dev role writing under prod', async () => {
    const { credentials } = clientsAs(DEV_ROLE, subjectFor('dev'))
    const keys = await credentials()
    const env = {
      ...process.env,
      AWS_ACCESS_KEY_ID: keys.accessKeyId,
      AWS_SECRET_ACCESS_KEY: keys.secretAccessKey,
      AWS_SESSION_TOKEN: keys.sessionToken ?? '',
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    }
    const cli = (args: string[]) =>
      run('aws', args, { env }).then(
        () => '',
        (error: { stderr: string }) => error.stderr,
      )
    const s3Error = await cli([
      's3api',
      'put-object',
      '--bucket',
      BUCKET,
      '--key',
      `${APP}/prod/cli.zip`,
      '--if-none-match',
      '*',
    ])
    expect(s3Error).toContain('(AccessDenied) when calling the PutObject operation')
    const ssmError = await cli([
      'ssm',
      'send-command',
      '--document-name',
      'AWS-RunShellScript',
      '--instance-ids',
      instanceId('web-prod'),
      '--parameters',
      'commands=id',
    ])
    expect(ssmError).toContain('(AccessDeniedException) when calling the SendCommand operation')
  })
})
