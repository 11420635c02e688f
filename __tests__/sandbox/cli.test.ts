// Fidelity check: the AWS CLI (botocore, a different implementation from SDK v3) works against
// the sandbox unmodified, through AWS_ENDPOINT_URL_EC2/_SSM or --endpoint-url. Also runs the
// `npm run sandbox` entry point and uses the variables it prints.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2'
import {
  DescribeTargetGroupsCommand,
  ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2'
import { startSandbox, type Sandbox } from '../../dev/aws-sandbox/src/index.js'
import { awsCli } from './helpers.js'

let sandbox: Sandbox

beforeAll(async () => {
  sandbox = await startSandbox({
    instances: [
      { name: 'webrtc-staging-1', tags: { Environment: 'staging' } },
      { name: 'webrtc-staging-2', tags: { Environment: 'staging' } },
      { name: 'webrtc-prod-1', tags: { Environment: 'prod' } },
    ],
    invocationVisibilityDelayMs: 0,
  })
})
afterAll(async () => {
  await sandbox.close()
})

async function cliJson(args: string[]): Promise<Record<string, unknown>> {
  const result = await awsCli(sandbox, [...args, '--output', 'json'])
  if (result.code !== 0)
    throw new Error(`aws ${args.join(' ')} failed (${result.code}): ${result.stderr}`)
  return JSON.parse(result.stdout) as Record<string, unknown>
}

describe('the AWS CLI against the sandbox', () => {
  it('aws ec2 describe-instances --filters', async () => {
    const out = await awsCli(sandbox, [
      'ec2',
      'describe-instances',
      '--filters',
      'Name=tag:Name,Values=webrtc-staging-*',
      'Name=instance-state-name,Values=running',
      '--query',
      'Reservations[].Instances[].[InstanceId,State.Name,PrivateIpAddress,Placement.AvailabilityZone]',
      '--output',
      'text',
    ])
    expect(out.stderr).toBe('')
    const [a, b] = sandbox.instances
    expect(out.stdout.trim().split('\n')).toEqual([
      `${a!.id}\trunning\t${a!.privateIpAddress}\t${a!.availabilityZone}`,
      `${b!.id}\trunning\t${b!.privateIpAddress}\t${b!.availabilityZone}`,
    ])
  })

  it('aws ec2 describe-instances pages through results and reports EC2 errors', async () => {
    const paged = await cliJson([
      'ec2',
      'describe-instances',
      '--page-size',
      '5',
      '--query',
      'Reservations[].Instances[].InstanceId',
    ])
    expect(paged).toEqual(sandbox.instances.map(i => i.id))
    const missing = await awsCli(sandbox, [
      'ec2',
      'describe-instances',
      '--instance-ids',
      'i-0123456789abcdef0',
    ])
    expect(missing.code).not.toBe(0)
    expect(missing.stderr).toContain('(InvalidInstanceID.NotFound)')
  })

  it('aws ssm send-command, get-command-invocation and list-command-invocations --details', async () => {
    const [a, b] = sandbox.instances
    const sent = await cliJson([
      'ssm',
      'send-command',
      '--instance-ids',
      a!.id,
      b!.id,
      '--document-name',
      'AWS-RunShellScript',
      '--comment',
      'from the cli',
      '--parameters',
      JSON.stringify({
        commands: ['echo "hello $AWS_SSM_INSTANCE_ID"', 'echo warn >&2'],
        executionTimeout: ['60'],
      }),
      '--max-concurrency',
      '1',
    ])
    const command = sent.Command as Record<string, unknown>
    expect(command).toMatchObject({
      Status: 'Pending',
      Comment: 'from the cli',
      MaxConcurrency: '1',
      MaxErrors: '0',
    })
    const commandId = command.CommandId as string
    await sandbox.ssm.whenDone(commandId)

    const invocation = await cliJson([
      'ssm',
      'get-command-invocation',
      '--command-id',
      commandId,
      '--instance-id',
      a!.id,
    ])
    expect(invocation).toMatchObject({
      Status: 'Success',
      StatusDetails: 'Success',
      ResponseCode: 0,
      StandardOutputContent: `hello ${a!.id}\n`,
      StandardErrorContent: 'warn\n',
    })

    const listed = await cliJson([
      'ssm',
      'list-command-invocations',
      '--command-id',
      commandId,
      '--details',
    ])
    const invocations = listed.CommandInvocations as {
      InstanceId: string
      CommandPlugins: { Output: string; ResponseCode: number }[]
    }[]
    expect(invocations.map(i => [i.InstanceId, i.CommandPlugins[0]!.Output])).toEqual([
      [a!.id, `hello ${a!.id}\n\n----------ERROR-------\nwarn\n`],
      [b!.id, `hello ${b!.id}\n\n----------ERROR-------\nwarn\n`],
    ])
    const commands = await cliJson(['ssm', 'list-commands', '--command-id', commandId])
    expect((commands.Commands as Record<string, unknown>[])[0]).toMatchObject({
      Status: 'Success',
      TargetCount: 2,
      CompletedCount: 2,
    })
  })

  it('aws ssm with --endpoint-url, errors and waiters', async () => {
    const [, , c] = sandbox.instances
    const result = await awsCli(sandbox, [
      'ssm',
      'send-command',
      '--endpoint-url',
      sandbox.env.AWS_ENDPOINT_URL_SSM,
      '--targets',
      'Key=tag:Environment,Values=prod',
      '--document-name',
      'AWS-RunShellScript',
      '--parameters',
      'commands=["exit 4"]',
      '--query',
      'Command.CommandId',
      '--output',
      'text',
    ])
    expect(result.stderr).toBe('')
    const commandId = result.stdout.trim()
    // botocore's own waiter (GetCommandInvocation every 5 s) sees the failure.
    await sandbox.ssm.whenDone(commandId)
    const waited = await awsCli(sandbox, [
      'ssm',
      'wait',
      'command-executed',
      '--command-id',
      commandId,
      '--instance-id',
      c!.id,
    ])
    expect(waited.code).not.toBe(0)
    expect(waited.stderr).toMatch(/Waiter CommandExecuted failed/)
    const invocation = await cliJson([
      'ssm',
      'get-command-invocation',
      '--command-id',
      commandId,
      '--instance-id',
      c!.id,
    ])
    expect(invocation).toMatchObject({ Status: 'Failed', ResponseCode: 4 })
    const tooMany = await awsCli(sandbox, [
      'ssm',
      'send-command',
      '--document-name',
      'AWS-RunShellScript',
      '--parameters',
      'commands=true',
      '--instance-ids',
      ...Array.from({ length: 51 }, (_, i) => `i-${String(i).padStart(17, '0')}`),
    ])
    expect(tooMany.code).not.toBe(0)
    expect(tooMany.stderr).toMatch(
      /\(ValidationException\).*Member must have length less than or equal to 50/,
    )
    const missing = await awsCli(sandbox, [
      'ssm',
      'get-command-invocation',
      '--command-id',
      '00000000-0000-0000-0000-000000000000',
      '--instance-id',
      c!.id,
    ])
    expect(missing.stderr).toContain('(InvocationDoesNotExist)')
  })

  it('aws ssm describe-instance-information', async () => {
    const info = await cliJson(['ssm', 'describe-instance-information'])
    const list = info.InstanceInformationList as { InstanceId: string; PingStatus: string }[]
    expect(list.map(i => [i.InstanceId, i.PingStatus])).toEqual(
      sandbox.instances.map(i => [i.id, 'Online']),
    )
  })
})

const REPO_ROOT = resolve(fileURLToPath(import.meta.url), '../../..')

/** The command line `npm run sandbox` runs (the package.json script is the same). */
const SANDBOX_COMMAND = [
  'node_modules/node/bin/node',
  '--experimental-transform-types',
  '--no-warnings',
  '--import',
  './scripts/ts-loader.mjs',
  'dev/aws-sandbox/src/cli.ts',
]

describe('npm run sandbox', () => {
  it('prints the export lines and instances, serves them, and cleans up on Ctrl-C', async () => {
    const [node, ...args] = SANDBOX_COMMAND
    const child = spawn(
      node!,
      [
        ...args,
        ...['--instances', '2', '--name', 'demo', '--tag', 'Environment=dev'],
        ...['--target-group', 'web:3000'],
      ],
      {
        cwd: REPO_ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    let stdout = ''
    let stderr = ''
    child.stderr.on('data', chunk => (stderr += chunk))
    const exited = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)))
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', chunk => {
        stdout += chunk
        if (stdout.includes('Ctrl-C')) resolve()
      })
      void exited.then(code => reject(new Error(`sandbox exited early (${code}): ${stderr}`)))
    })
    const env = Object.fromEntries(
      [...stdout.matchAll(/^export (\w+)='([^']*)'$/gm)].map(match => [match[1]!, match[2]!]),
    )
    expect(Object.keys(env)).toEqual(
      expect.arrayContaining([
        'AWS_ENDPOINT_URL_EC2',
        'AWS_ENDPOINT_URL_SSM',
        'AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2',
        'AWS_ACCESS_KEY_ID',
        'AWS_REGION',
      ]),
    )
    const dirs = [...stdout.matchAll(/^# {3}(i-[0-9a-f]{17}) {2}Name=(demo-\d)\s.*\s(\/\S+)$/gm)]
    expect(dirs.map(match => match[2])).toEqual(['demo-1', 'demo-2'])
    const ec2 = new EC2Client({
      region: env.AWS_REGION!,
      endpoint: env.AWS_ENDPOINT_URL_EC2!,
      credentials: {
        accessKeyId: env.AWS_ACCESS_KEY_ID!,
        secretAccessKey: env.AWS_SECRET_ACCESS_KEY!,
      },
    })
    const out = await ec2.send(
      new DescribeInstancesCommand({ Filters: [{ Name: 'tag:Environment', Values: ['dev'] }] }),
    )
    ec2.destroy()
    expect(out.Reservations?.flatMap(r => r.Instances ?? []).map(i => i.InstanceId)).toEqual(
      dirs.map(match => match[1]),
    )
    expect(dirs.every(match => existsSync(match[3]!))).toBe(true)
    const group = /^# {3}web {2}port 3000 {2}(arn:\S+) {2}listener (http:\S+)$/m.exec(stdout)
    expect(group).not.toBeNull()
    const elbv2 = new ElasticLoadBalancingV2Client({
      region: env.AWS_REGION!,
      endpoint: env.AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2!,
      credentials: {
        accessKeyId: env.AWS_ACCESS_KEY_ID!,
        secretAccessKey: env.AWS_SECRET_ACCESS_KEY!,
      },
    })
    const groups = await elbv2.send(new DescribeTargetGroupsCommand({ Names: ['web'] }))
    elbv2.destroy()
    expect(groups.TargetGroups?.map(g => g.TargetGroupArn)).toEqual([group![1]])
    expect((await fetch(group![2]!)).status).toBe(503)
    child.kill('SIGINT')
    expect(await exited).toBe(0)
    expect(dirs.some(match => existsSync(match[3]!))).toBe(false)
  })

  it('rejects bad arguments, naming the value and the rule', async () => {
    const [node, ...args] = SANDBOX_COMMAND
    const cases = [
      [
        ['--instances', '0; rm'],
        '--instances "0; rm" is not valid: use a whole number from 1 to 9999',
      ],
      [['--target-group', 'web;id:80'], '--target-group "web;id:80" is not valid: use NAME:PORT'],
    ] as const
    for (const [bad, message] of cases) {
      const child = spawn(node!, [...args, ...bad], { cwd: REPO_ROOT })
      let stderr = ''
      child.stderr.on('data', chunk => (stderr += chunk))
      const code = await new Promise<number | null>(resolve => child.once('exit', resolve))
      expect(code).toBe(2)
      expect(stderr).toContain(message)
    }
  })
})
