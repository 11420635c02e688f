// EC2 RunInstances and TerminateInstances against the sandbox, with the real SDK v3 clients and
// the AWS CLI: a launched instance is a new directory-instance that goes pending → running, runs
// its user data once at boot as root in the agent's bare environment, and whose agent comes
// online a moment later.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  DescribeInstancesCommand,
  type EC2Client,
  type Instance,
  RunInstancesCommand,
  type RunInstancesCommandInput,
} from '@aws-sdk/client-ec2'
import {
  DescribeInstanceInformationCommand,
  SendCommandCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm'
import {
  CLOUD_INIT_PATHS,
  SSM_AGENT_PATH,
  startSandbox,
  type Sandbox,
} from '../../dev/aws-sandbox/src/index.js'
import { awsCli, clients, rejection, until, untilStatus } from './helpers.js'

let sandbox: Sandbox
let ec2: EC2Client
let ssm: SSMClient

beforeAll(async () => {
  sandbox = await startSandbox({
    instances: [{ name: 'web-1', tags: { DeployApp: 'web' } }],
    invocationVisibilityDelayMs: 0,
    launch: {
      runningAfterMs: 50,
      agentOnlineAfterMs: 600,
      terminatedAfterMs: 2000,
      instanceLimit: 3,
      spec: { env: { APP_ROLE: 'scaled' } },
    },
  })
  ;({ ec2, ssm } = clients(sandbox))
})
afterAll(async () => {
  ec2.destroy()
  ssm.destroy()
  await sandbox.close()
})

const base64 = (text: string) => Buffer.from(text).toString('base64')

/** A user data script that records how it ran, in the instance's directory. */
const RECORDING_SCRIPT = `#!/bin/bash
set -eu
echo "uid=$(id -u) home=\${HOME-unset} lang=\${LANG-unset} bash=\${BASH_VERSION:+yes}" > boot-env.txt
echo "path=$PATH role=\${APP_ROLE-unset}" >> boot-env.txt
echo booted >> boot-runs.txt
echo "user data to stdout"
echo "user data to stderr" >&2
`

async function launch(input: Partial<RunInstancesCommandInput>): Promise<Instance[]> {
  const out = await ec2.send(
    new RunInstancesCommand({
      ImageId: 'ami-0123456789abcdef0',
      MinCount: 1,
      MaxCount: 1,
      ...input,
    }),
  )
  return out.Instances ?? []
}

async function describe_(instanceId: string): Promise<Instance | undefined> {
  const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }))
  return out.Reservations?.[0]?.Instances?.[0]
}

async function pingStatus(instanceId: string): Promise<string | undefined> {
  const out = await ssm.send(
    new DescribeInstanceInformationCommand({
      Filters: [{ Key: 'InstanceIds', Values: [instanceId] }],
    }),
  )
  return out.InstanceInformationList?.[0]?.PingStatus
}

describe('RunInstances', () => {
  it('launches a tagged instance: pending, then running with its user data run once as root, and its agent online', async () => {
    const [launched] = await launch({
      InstanceType: 't3.small',
      TagSpecifications: [
        {
          ResourceType: 'instance',
          Tags: [
            { Key: 'Name', Value: 'web-scaled' },
            { Key: 'DeployApp', Value: 'web' },
          ],
        },
      ],
      UserData: base64(RECORDING_SCRIPT),
      IamInstanceProfile: { Name: 'web-host' },
    })
    const id = launched?.InstanceId as string
    expect(id).toMatch(/^i-0[0-9a-f]{16}$/)
    expect(launched).toMatchObject({
      State: { Code: 0, Name: 'pending' },
      ImageId: 'ami-0123456789abcdef0',
      InstanceType: 't3.small',
      IamInstanceProfile: { Arn: `arn:aws:iam::${sandbox.accountId}:instance-profile/web-host` },
    })
    expect(launched?.Tags).toEqual(
      expect.arrayContaining([
        { Key: 'Name', Value: 'web-scaled' },
        { Key: 'DeployApp', Value: 'web' },
      ]),
    )
    // Not yet registered with SSM: SendCommand refuses it, as AWS does for an unknown node.
    expect(await pingStatus(id)).toBeUndefined()
    const early = await rejection(
      ssm.send(
        new SendCommandCommand({
          DocumentName: 'AWS-RunShellScript',
          InstanceIds: [id],
          Parameters: { commands: ['true'] },
        }),
      ),
    )
    expect(early.name).toBe('InvalidInstanceId')

    await until(async () => ((await describe_(id))?.State?.Name === 'running' ? true : undefined))
    await until(async () => ((await pingStatus(id)) === 'Online' ? true : undefined))

    const byTag = await ec2.send(
      new DescribeInstancesCommand({
        Filters: [
          { Name: 'tag:DeployApp', Values: ['web'] },
          { Name: 'instance-state-name', Values: ['running'] },
        ],
      }),
    )
    const found = (byTag.Reservations ?? []).flatMap(r => r.Instances ?? []).map(i => i.InstanceId)
    expect(found).toEqual([sandbox.instances[0]?.id, id])

    const instance = sandbox.fleet.require(id)
    await sandbox.launcher.bootOf(id)?.finished
    expect(sandbox.launcher.bootOf(id)?.userDataExitCode).toBe(0)
    const environment = readFileSync(join(instance.dir, 'boot-env.txt'), 'utf8')
    expect(environment).toBe(
      `uid=0 home=unset lang=unset bash=yes\npath=${sandbox.fleet.agentPath(instance)} role=scaled\n`,
    )
    expect(sandbox.fleet.agentPath(instance).endsWith(SSM_AGENT_PATH)).toBe(true)
    expect(readFileSync(join(instance.dir, CLOUD_INIT_PATHS.userData), 'utf8')).toBe(
      RECORDING_SCRIPT,
    )
    const log = readFileSync(join(instance.dir, CLOUD_INIT_PATHS.outputLog), 'utf8')
    expect(log).toContain('user data to stdout\nuser data to stderr\n')
    expect(existsSync(join(instance.dir, CLOUD_INIT_PATHS.bootFinished))).toBe(true)

    // The agent now runs commands there; the user data never runs again.
    const sent = await ssm.send(
      new SendCommandCommand({
        DocumentName: 'AWS-RunShellScript',
        InstanceIds: [id],
        Parameters: { commands: ['cat boot-runs.txt'] },
      }),
    )
    await untilStatus(ssm, sent.Command?.CommandId as string, id, 'Success')
    expect(readFileSync(join(instance.dir, 'boot-runs.txt'), 'utf8')).toBe('booted\n')
  })

  it('keeps user data that is not a #! script without running it, and logs a failing script', async () => {
    const [config, failing] = await Promise.all([
      launch({ UserData: base64('#cloud-config\nruncmd: [touch, /ran]\n') }),
      launch({ UserData: base64('#!/bin/sh\necho half-way\nexit 7\n') }),
    ])
    const configId = config[0]?.InstanceId as string
    const failingId = failing[0]?.InstanceId as string
    await sandbox.launcher.bootOf(configId)?.finished
    await sandbox.launcher.bootOf(failingId)?.finished
    const configDir = sandbox.fleet.require(configId).dir
    expect(sandbox.launcher.bootOf(configId)?.userDataExitCode).toBeUndefined()
    expect(readFileSync(join(configDir, CLOUD_INIT_PATHS.userData), 'utf8')).toContain(
      '#cloud-config',
    )
    expect(existsSync(join(configDir, CLOUD_INIT_PATHS.script))).toBe(false)
    expect(sandbox.launcher.bootOf(failingId)?.userDataExitCode).toBe(7)
    const log = readFileSync(
      join(sandbox.fleet.require(failingId).dir, CLOUD_INIT_PATHS.outputLog),
      'utf8',
    )
    expect(log).toMatch(/half-way\n.*Failed to run module scripts-user/)
    // A failing user data script does not stop the host: it runs, its agent comes online.
    await sandbox.launcher.bootOf(failingId)?.online
    expect(await pingStatus(failingId)).toBe('Online')
  })

  it('answers the AWS CLI: run-instances encodes the user data, launches --count instances in one reservation; terminate-instances ends them', async () => {
    const userData = join(sandbox.fleet.rootDir, 'cli-user-data.sh')
    writeFileSync(userData, '#!/bin/sh\necho "from the cli" > cli-boot.txt\n')
    const run = await awsCli(sandbox, [
      'ec2',
      'run-instances',
      '--image-id',
      'ami-0fedcba9876543210',
      '--count',
      '2',
      '--instance-type',
      't3.micro',
      '--tag-specifications',
      'ResourceType=instance,Tags=[{Key=Name,Value=cli-web},{Key=DeployApp,Value=cli}]',
      '--user-data',
      `file://${userData}`,
      '--output',
      'json',
    ])
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    const reservation = JSON.parse(run.stdout) as {
      ReservationId: string
      Instances: { InstanceId: string; AmiLaunchIndex: number; State: { Name: string } }[]
    }
    expect(reservation.ReservationId).toMatch(/^r-0[0-9a-f]{16}$/)
    expect(reservation.Instances.map(i => [i.AmiLaunchIndex, i.State.Name])).toEqual([
      [0, 'pending'],
      [1, 'pending'],
    ])
    const ids = reservation.Instances.map(i => i.InstanceId)
    for (const id of ids) {
      await sandbox.launcher.bootOf(id)?.finished
      await sandbox.launcher.bootOf(id)?.online
      expect(readFileSync(join(sandbox.fleet.require(id).dir, 'cli-boot.txt'), 'utf8')).toBe(
        'from the cli\n',
      )
    }
    const described = await ec2.send(
      new DescribeInstancesCommand({ Filters: [{ Name: 'tag:DeployApp', Values: ['cli'] }] }),
    )
    expect(described.Reservations?.map(r => [r.ReservationId, r.Instances?.length])).toEqual([
      [reservation.ReservationId, 2],
    ])

    // A service the host started dies with it.
    const service = await ssm.send(
      new SendCommandCommand({
        DocumentName: 'AWS-RunShellScript',
        InstanceIds: [ids[0] as string],
        Parameters: { commands: ['(setsid sleep 300 >/dev/null 2>&1 & echo $! > service.pid)'] },
      }),
    )
    await untilStatus(ssm, service.Command?.CommandId as string, ids[0] as string, 'Success')
    const servicePid = Number(
      readFileSync(join(sandbox.fleet.require(ids[0] as string).dir, 'service.pid'), 'utf8'),
    )

    const terminate = await awsCli(sandbox, [
      'ec2',
      'terminate-instances',
      '--instance-ids',
      ids[0] as string,
      '--output',
      'json',
    ])
    expect(terminate.code).toBe(0)
    expect(JSON.parse(terminate.stdout)).toEqual({
      TerminatingInstances: [
        {
          InstanceId: ids[0],
          CurrentState: { Code: 32, Name: 'shutting-down' },
          PreviousState: { Code: 16, Name: 'running' },
        },
      ],
    })
    expect(await pingStatus(ids[0] as string)).toBe('ConnectionLost')
    await until(async () =>
      (await describe_(ids[0] as string))?.State?.Name === 'terminated' ? true : undefined,
    )
    expect(await pingStatus(ids[0] as string)).toBeUndefined()
    await until(() => {
      try {
        process.kill(servicePid, 0)
        return undefined
      } catch {
        return true
      }
    })
    expect((await describe_(ids[1] as string))?.State?.Name).toBe('running')
  })
})

describe('RunInstances errors, as EC2 gives them', () => {
  it('refuses bad counts, AMI ids, instance types, tags and user data, launching nothing', async () => {
    const before = sandbox.fleet.list().length
    const cases: [Partial<RunInstancesCommandInput>, string, RegExp][] = [
      [{ MinCount: 0 }, 'InvalidParameterValue', /parameter minCount is invalid/],
      [
        { MinCount: 2, MaxCount: 1 },
        'InvalidParameterValue',
        /maxCount is invalid.*minCount \(2\)/,
      ],
      [{ MinCount: 4, MaxCount: 5 }, 'InstanceLimitExceeded', /more instances \(4\).*limit of 3/],
      [{ ImageId: 'ubuntu' }, 'InvalidAMIID.Malformed', /Invalid id: "ubuntu"/],
      [{ InstanceType: 't3 small' as never }, 'InvalidParameterValue', /for InstanceType/],
      [{ UserData: '#!/bin/sh\n' }, 'InvalidParameterValue', /Invalid BASE64 encoding/],
      [
        { UserData: base64('x'.repeat(16385)) },
        'InvalidParameterValue',
        /User data is limited to 16384 bytes/,
      ],
      [
        { TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'aws:x', Value: 'y' }] }] },
        'InvalidParameterValue',
        /reserved/,
      ],
      [
        {
          TagSpecifications: [
            { ResourceType: 'bucket' as never, Tags: [{ Key: 'a', Value: 'b' }] },
          ],
        },
        'InvalidParameterValue',
        /'bucket' is not a valid taggable resource type/,
      ],
    ]
    for (const [input, name, message] of cases) {
      const error = await rejection(launch(input))
      expect([error.name, error.message]).toEqual([name, expect.stringMatching(message)])
    }
    expect(sandbox.fleet.list()).toHaveLength(before)
  })

  it('cuts a MaxCount above the limit to the limit, and refuses unknown ids to terminate', async () => {
    const launched = await launch({ MinCount: 1, MaxCount: 10 })
    expect(launched).toHaveLength(3)
    const missing = await rejection(
      awsCli(sandbox, ['ec2', 'terminate-instances', '--instance-ids', 'i-0000000000000dead']).then(
        result => {
          if (result.code !== 0) throw new Error(result.stderr)
          return result
        },
      ),
    )
    expect(missing.message).toMatch(/InvalidInstanceID\.NotFound.*i-0000000000000dead/)
  })
})

describe('a launched host with a network and directories of its own', () => {
  let hosts: Sandbox

  beforeAll(async () => {
    hosts = await startSandbox({
      instances: 0,
      privateDirs: ['/opt/scaleout-test'],
      launch: {
        runningAfterMs: 20,
        agentOnlineAfterMs: 50,
        spec: { network: 'private' },
      },
    })
  })
  afterAll(async () => {
    await hosts?.close()
  })

  it("serves from its user data on its own address, and reaches the sandbox's endpoints at 127.0.0.1", async () => {
    const ssmPort = new URL(hosts.env.AWS_ENDPOINT_URL_SSM).port
    const userData = [
      '#!/bin/bash',
      'set -eu',
      'echo "served by the new host" > /opt/scaleout-test/index.html',
      'setsid python3 -m http.server 3000 --bind 0.0.0.0 --directory /opt/scaleout-test >/dev/null 2>&1 &',
      `curl -s -o /dev/null -w '%{http_code}' -X POST http://127.0.0.1:${ssmPort}/ > ssm-status`,
    ].join('\n')
    const { ec2: hostEc2 } = clients(hosts)
    const out = await hostEc2.send(
      new RunInstancesCommand({
        ImageId: 'ami-0123456789abcdef0',
        MinCount: 1,
        MaxCount: 1,
        UserData: base64(`${userData}\n`),
      }),
    )
    hostEc2.destroy()
    const instance = hosts.fleet.require(out.Instances?.[0]?.InstanceId as string)
    await hosts.launcher.bootOf(instance.id)?.finished
    expect(instance.privateIpAddress).toMatch(/^100\./)
    const page = await until(async () => {
      try {
        return await (await fetch(`http://${instance.privateIpAddress}:3000/index.html`)).text()
      } catch {
        return undefined
      }
    })
    expect(page).toBe('served by the new host\n')
    // The SSM front end answered the unsigned call: the way out of the host's network works.
    expect(readFileSync(join(instance.dir, 'ssm-status'), 'utf8')).toBe('400')
    // Its /opt is its own: nothing was written to the machine's.
    expect(existsSync('/opt/scaleout-test/index.html')).toBe(false)
  })
})
