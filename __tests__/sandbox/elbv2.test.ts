// The sandbox's ELBv2 endpoint on the wire: the AWS CLI and the unmodified SDK client reach
// it (through AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2 or --endpoint-url), target health
// moves with real health checks in real time, and errors carry ELBv2's own codes.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFile } from 'node:child_process'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { promisify } from 'node:util'
import {
  DescribeTargetGroupAttributesCommand,
  DescribeTargetGroupsCommand,
  DeregisterTargetsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  RegisterTargetsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2'
import { AssumeRoleWithWebIdentityCommand, STSClient } from '@aws-sdk/client-sts'
import { startSandbox, type Sandbox, type TargetGroup } from '../../dev/aws-sandbox/src/index.js'
import { startSandboxWithOidc } from '../support/sandbox-with-oidc.js'
import { awsCli, cliEnv, clients, rejection, until } from './helpers.js'

let sandbox: Sandbox
let group: TargetGroup
let sdk: ElasticLoadBalancingV2Client
const servers: Server[] = []

/** An app on the machine's loopback, standing in for one instance's; `healthy` flips its check. */
async function app(name: string): Promise<{ port: number; server: Server; healthy: boolean }> {
  const state = { port: 0, server: undefined as unknown as Server, healthy: true }
  state.server = createServer((request, response) => {
    const status = request.url === '/health' && !state.healthy ? 503 : 200
    response.writeHead(status).end(name)
  })
  await new Promise<void>(resolve => state.server.listen(0, '127.0.0.1', resolve))
  state.port = (state.server.address() as AddressInfo).port
  servers.push(state.server)
  return state
}

/** `aws elbv2 …` against the sandbox; the parsed JSON output (fails the test on an error). */
async function elbv2(...args: string[]): Promise<Record<string, unknown>> {
  const run = await awsCli(sandbox, ['elbv2', ...args, '--output', 'json'])
  if (run.code !== 0) throw new Error(`aws elbv2 ${args.join(' ')}: ${run.stderr}`)
  return run.stdout.trim() === '' ? {} : (JSON.parse(run.stdout) as Record<string, unknown>)
}

interface HealthRow {
  id: string
  port: number
  state: string
  reason?: string
  description?: string
}

/** describe-target-health through the CLI, as rows. */
async function health(...targets: string[]): Promise<HealthRow[]> {
  const out = await elbv2(
    'describe-target-health',
    '--target-group-arn',
    group.arn,
    ...(targets.length > 0 ? ['--targets', ...targets] : []),
  )
  type Description = {
    Target: { Id: string; Port: number }
    TargetHealth: { State: string; Reason?: string; Description?: string }
  }
  return (out.TargetHealthDescriptions as Description[]).map(row => ({
    id: row.Target.Id,
    port: row.Target.Port,
    state: row.TargetHealth.State,
    ...(row.TargetHealth.Reason ? { reason: row.TargetHealth.Reason } : {}),
    ...(row.TargetHealth.Description ? { description: row.TargetHealth.Description } : {}),
  }))
}

/** DescribeTargetHealth through the SDK (milliseconds, where the CLI takes a second or two). */
async function sdkHealth(target?: { id: string; port: number }): Promise<HealthRow[]> {
  const out = await sdk.send(
    new DescribeTargetHealthCommand({
      TargetGroupArn: group.arn,
      ...(target ? { Targets: [{ Id: target.id, Port: target.port }] } : {}),
    }),
  )
  return (out.TargetHealthDescriptions ?? []).map(row => ({
    id: row.Target!.Id!,
    port: row.Target!.Port!,
    state: row.TargetHealth!.State!,
    ...(row.TargetHealth!.Reason ? { reason: row.TargetHealth!.Reason } : {}),
    ...(row.TargetHealth!.Description ? { description: row.TargetHealth!.Description } : {}),
  }))
}

beforeAll(async () => {
  sandbox = await startSandbox({
    instances: 3,
    commandMode: 'fast',
    targetGroups: [
      {
        name: 'web',
        port: 8080,
        healthCheckPath: '/health',
        healthCheckIntervalSeconds: 0.25,
        healthyThresholdCount: 3,
        unhealthyThresholdCount: 2,
        deregistrationDelaySeconds: 1.5,
      },
    ],
  })
  group = sandbox.elbv2.get('web')!
  sdk = clients(sandbox).elbv2
})

afterAll(async () => {
  sdk?.destroy()
  await sandbox?.close()
  for (const server of servers) server.close()
})

describe('the ELBv2 endpoint', () => {
  it('describes target groups and their attributes to the AWS CLI, found by name or ARN', async () => {
    const byName = await elbv2('describe-target-groups', '--names', 'web')
    const byArn = await elbv2('describe-target-groups', '--target-group-arns', group.arn)
    expect(byName).toEqual(byArn)
    expect(byName.TargetGroups).toEqual([
      expect.objectContaining({
        TargetGroupArn: group.arn,
        TargetGroupName: 'web',
        Protocol: 'HTTP',
        Port: 8080,
        HealthCheckPath: '/health',
        HealthyThresholdCount: 3,
        UnhealthyThresholdCount: 2,
        TargetType: 'instance',
        Matcher: { HttpCode: '200-399' },
        LoadBalancerArns: [group.loadBalancerArn],
      }),
    ])
    expect(group.arn).toMatch(
      /^arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup\/web\/[0-9a-f]{16}$/,
    )
    const attributes = await elbv2(
      'describe-target-group-attributes',
      '--target-group-arn',
      group.arn,
    )
    expect(attributes.Attributes).toContainEqual({
      Key: 'deregistration_delay.timeout_seconds',
      Value: '1.5',
    })
  })

  it('answers --endpoint-url as well as the standard variable', async () => {
    const env = cliEnv(sandbox)
    const endpoint = env.AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2!
    delete env.AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2
    const { stdout } = await promisify(execFile)(
      'aws',
      ['elbv2', 'describe-target-groups', '--endpoint-url', endpoint, '--output', 'json'],
      { env, timeout: 60_000 },
    )
    expect(JSON.parse(stdout).TargetGroups[0].TargetGroupArn).toBe(group.arn)
  })

  it('is reached by the unmodified SDK client through AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2', async () => {
    const name = 'AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2'
    const saved = process.env[name]
    process.env[name] = sandbox.env[name]
    const client = new ElasticLoadBalancingV2Client({
      region: sandbox.region,
      credentials: {
        accessKeyId: sandbox.env.AWS_ACCESS_KEY_ID,
        secretAccessKey: sandbox.env.AWS_SECRET_ACCESS_KEY,
      },
      maxAttempts: 1,
    })
    try {
      const groups = await client.send(new DescribeTargetGroupsCommand({ Names: ['web'] }))
      expect(groups.TargetGroups?.map(g => g.TargetGroupArn)).toEqual([group.arn])
      const attributes = await client.send(
        new DescribeTargetGroupAttributesCommand({ TargetGroupArn: group.arn }),
      )
      expect(
        attributes.Attributes?.find(a => a.Key === 'deregistration_delay.timeout_seconds')?.Value,
      ).toBe('1.5')
    } finally {
      client.destroy()
      if (saved === undefined) delete process.env[name]
      else process.env[name] = saved
    }
  })

  it('moves a target initial → healthy, and a deregistered one draining → gone after the delay', async () => {
    const [first] = sandbox.instances
    const web = await app('first')
    const target = `Id=${first!.id},Port=${web.port}`
    const id = first!.id
    expect(await health(target)).toEqual([
      {
        id,
        port: web.port,
        state: 'unused',
        reason: 'Target.NotRegistered',
        description: 'Target is not registered to the target group',
      },
    ])
    await sdk.send(
      new RegisterTargetsCommand({
        TargetGroupArn: group.arn,
        Targets: [{ Id: id, Port: web.port }],
      }),
    )
    const [registered] = await sdkHealth()
    expect(registered).toMatchObject({ id, port: web.port, state: 'initial' })
    expect(['Elb.RegistrationInProgress', 'Elb.InitialHealthChecking']).toContain(
      registered!.reason,
    )
    await until(async () => ((await sdkHealth())[0]?.state === 'healthy' ? true : undefined))
    expect(await health()).toEqual([{ id, port: web.port, state: 'healthy' }])

    const deregisteredAt = Date.now()
    await elbv2('deregister-targets', '--target-group-arn', group.arn, '--targets', target)
    expect(await sdkHealth()).toEqual([
      {
        id,
        port: web.port,
        state: 'draining',
        reason: 'Target.DeregistrationInProgress',
        description: 'Target deregistration is in progress',
      },
    ])
    await until(async () => ((await sdkHealth()).length === 0 ? true : undefined), 10_000)
    // Gone only after the deregistration delay (1.5 s), although nothing was in flight.
    expect(Date.now() - deregisteredAt).toBeGreaterThanOrEqual(1500)
    expect(await health(target)).toEqual([
      expect.objectContaining({ state: 'unused', reason: 'Target.NotRegistered' }),
    ])
  })

  it('turns a target whose health check fails unhealthy, with the reason ELBv2 gives', async () => {
    const [, second] = sandbox.instances
    const web = await app('second')
    const target = { id: second!.id, port: web.port }
    const stateOf = async (state: string, reason?: string) => {
      const [row] = await sdkHealth(target)
      return row?.state === state && (reason === undefined || row.reason === reason)
        ? row
        : undefined
    }
    await elbv2(
      'register-targets',
      '--target-group-arn',
      group.arn,
      '--targets',
      `Id=${target.id},Port=${target.port}`,
    )
    await until(() => stateOf('healthy'))
    web.healthy = false
    const failing = await until(() => stateOf('unhealthy'))
    expect(failing).toMatchObject({
      reason: 'Target.ResponseCodeMismatch',
      description: 'Health checks failed with these codes: [503]',
    })
    expect(await health(`Id=${target.id},Port=${target.port}`)).toEqual([failing])
    web.server.closeAllConnections()
    await new Promise(resolve => web.server.close(resolve))
    const refused = await until(() => stateOf('unhealthy', 'Target.FailedHealthChecks'))
    expect(refused).toMatchObject({ description: 'Health checks failed' })
    await sdk.send(
      new DeregisterTargetsCommand({
        TargetGroupArn: group.arn,
        Targets: [{ Id: target.id, Port: target.port }],
      }),
    )
  })

  it('answers mistakes with the exact ELBv2 error codes', async () => {
    const client = sdk
    const [instance] = sandbox.instances
    const unknownArn = group.arn.replace(/\/[0-9a-f]{16}$/, '/0123456789abcdef')
    const cases: [Promise<unknown>, string, string][] = [
      [
        client.send(new DescribeTargetHealthCommand({ TargetGroupArn: unknownArn })),
        'TargetGroupNotFound',
        'One or more target groups not found',
      ],
      [
        client.send(new DescribeTargetGroupsCommand({ Names: ['nope'] })),
        'TargetGroupNotFound',
        'One or more target groups not found',
      ],
      [
        client.send(new DescribeTargetHealthCommand({ TargetGroupArn: 'web' })),
        'ValidationError',
        "'web' is not a valid target group ARN",
      ],
      [
        client.send(
          new RegisterTargetsCommand({ TargetGroupArn: group.arn, Targets: [{ Id: 'web-1' }] }),
        ),
        'ValidationError',
        "Instance ID 'web-1' is not valid",
      ],
      [
        client.send(
          new RegisterTargetsCommand({
            TargetGroupArn: group.arn,
            Targets: [{ Id: 'i-0123456789abcdef0' }],
          }),
        ),
        'InvalidTarget',
        "The following instances do not exist: 'i-0123456789abcdef0'",
      ],
    ]
    for (const [call, code, message] of cases) {
      const error = await rejection(call)
      expect({
        code: (error as { Code?: string }).Code ?? error.name,
        message: error.message,
      }).toEqual({
        code,
        message,
      })
      expect((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode).toBe(
        400,
      )
    }
    instance!.state = 'stopped'
    try {
      const run = await awsCli(sandbox, [
        'elbv2',
        'register-targets',
        '--target-group-arn',
        group.arn,
        '--targets',
        `Id=${instance!.id}`,
      ])
      expect(run.code).not.toBe(0)
      expect(run.stderr).toContain(
        `(InvalidTarget) when calling the RegisterTargets operation: The following targets are not in a running state and cannot be registered: '${instance!.id}'`,
      )
    } finally {
      instance!.state = 'running'
    }
  })
})

describe('ELBv2 faults', () => {
  it('throttles with Throttling (HTTP 400), which the SDK retries', async () => {
    sandbox.faults.throttleNext(1, { service: 'elbv2' })
    const refused = await rejection(sdk.send(new DescribeTargetGroupsCommand({})))
    expect({ name: refused.name, message: refused.message }).toEqual({
      name: 'Throttling',
      message: 'Rate exceeded',
    })
    sandbox.faults.throttleNext(2, { service: 'elbv2' })
    const retrying = clients(sandbox, 3).elbv2
    try {
      const out = await retrying.send(new DescribeTargetGroupsCommand({}))
      expect(out.TargetGroups?.map(g => g.TargetGroupName)).toEqual(['web'])
      expect(sandbox.faults.throttled.DescribeTargetGroups).toBe(3)
    } finally {
      retrying.destroy()
    }
  })

  it('reports a target whose instance stopped as unused, Target.InvalidState', async () => {
    const [, , third] = sandbox.instances
    const web = await app('third')
    await sdk.send(
      new RegisterTargetsCommand({
        TargetGroupArn: group.arn,
        Targets: [{ Id: third!.id, Port: web.port }],
      }),
    )
    third!.die()
    try {
      expect(await sdkHealth({ id: third!.id, port: web.port })).toEqual([
        {
          id: third!.id,
          port: web.port,
          state: 'unused',
          reason: 'Target.InvalidState',
          description: 'Target is in the stopped state',
        },
      ])
    } finally {
      third!.revive()
      await sdk.send(
        new DeregisterTargetsCommand({
          TargetGroupArn: group.arn,
          Targets: [{ Id: third!.id, Port: web.port }],
        }),
      )
    }
  })
})

describe('ELBv2 and IAM', () => {
  it('authorises RegisterTargets on the target group ARN, as the role policy says', async () => {
    const subject = 'repo:acme/app:environment:prod'
    const role = 'arn:aws:iam::123456789012:role/deploy'
    const withIam = await startSandboxWithOidc({
      instances: 1,
      commandMode: 'fast',
      oidc: { subject },
      targetGroups: [
        { name: 'allowed', port: 8080 },
        { name: 'other', port: 8080 },
      ],
      sts: {
        roles: [
          {
            arn: role,
            audience: 'sts.amazonaws.com',
            subject,
            policy: {
              Version: '2012-10-17',
              Statement: [
                {
                  Effect: 'Allow',
                  Action: 'elasticloadbalancing:DescribeTargetHealth',
                  Resource: '*',
                },
                {
                  Effect: 'Allow',
                  Action: [
                    'elasticloadbalancing:RegisterTargets',
                    'elasticloadbalancing:DeregisterTargets',
                  ],
                  Resource: 'arn:aws:elasticloadbalancing:*:123456789012:targetgroup/allowed/*',
                },
              ],
            },
          },
        ],
      },
    })
    const sts = new STSClient({
      region: withIam.region,
      endpoint: withIam.env.AWS_ENDPOINT_URL_STS!,
    })
    let client: ElasticLoadBalancingV2Client | undefined
    try {
      const { Credentials } = await sts.send(
        new AssumeRoleWithWebIdentityCommand({
          RoleArn: role,
          RoleSessionName: 'elb',
          WebIdentityToken: withIam.oidc.sign({}),
        }),
      )
      client = new ElasticLoadBalancingV2Client({
        region: withIam.region,
        endpoint: withIam.env.AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2,
        credentials: {
          accessKeyId: Credentials!.AccessKeyId!,
          secretAccessKey: Credentials!.SecretAccessKey!,
          sessionToken: Credentials!.SessionToken!,
        },
        maxAttempts: 1,
      })
      const [allowed, other] = withIam.elbv2.list()
      const targets = [{ Id: withIam.instances[0]!.id }]
      await client.send(
        new RegisterTargetsCommand({ TargetGroupArn: allowed!.arn, Targets: targets }),
      )
      const described = await client.send(
        new DescribeTargetHealthCommand({ TargetGroupArn: allowed!.arn }),
      )
      expect(described.TargetHealthDescriptions?.map(d => d.Target?.Id)).toEqual([targets[0]!.Id])
      const refused = await rejection(
        client.send(new RegisterTargetsCommand({ TargetGroupArn: other!.arn, Targets: targets })),
      )
      expect({
        name: refused.name,
        status: (refused as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode,
        message: refused.message,
      }).toEqual({
        name: 'AccessDenied',
        status: 403,
        message: `User: arn:aws:sts::123456789012:assumed-role/deploy/elb is not authorized to perform: elasticloadbalancing:RegisterTargets on resource: ${other!.arn} because no identity-based policy allows the elasticloadbalancing:RegisterTargets action`,
      })
      expect(other!.list()).toHaveLength(0)
    } finally {
      client?.destroy()
      sts.destroy()
      await withIam.close()
    }
  })
})
