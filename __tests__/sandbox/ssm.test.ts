// SSM Run Command against the sandbox with the real SDK v3 client over HTTP: commands really
// run under sh in the instance directories.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import {
  CancelCommandCommand,
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  ListCommandInvocationsCommand,
  ListCommandsCommand,
  paginateListCommandInvocations,
  SendCommandCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm'
import { pluginOutput, startSandbox, type Sandbox } from '../../dev/aws-sandbox/src/index.js'
import { clients, isAlive, rejection, until, untilStatus } from './helpers.js'

let sandbox: Sandbox
let ssm: SSMClient
let logDir: string

beforeAll(async () => {
  sandbox = await startSandbox({
    instances: 4,
    namePrefix: 'web',
    tags: { Environment: 'staging' },
    invocationVisibilityDelayMs: 0,
  })
  ssm = clients(sandbox).ssm
  logDir = join(sandbox.fleet.rootDir, 'shared-log')
  mkdirSync(logDir)
})
afterAll(async () => {
  ssm.destroy()
  await sandbox.close()
})

const ids = () => sandbox.instances.map(instance => instance.id)

async function send(
  instanceIds: string[],
  commands: string[],
  extra: Record<string, unknown> = {},
) {
  const out = await ssm.send(
    new SendCommandCommand({
      DocumentName: 'AWS-RunShellScript',
      InstanceIds: instanceIds,
      Parameters: { commands },
      ...extra,
    }),
  )
  return out.Command?.CommandId as string
}

/** The largest number of overlapping start/end intervals in a log of `start N` / `end N` lines. */
function maxOverlap(log: string): number {
  const events = log
    .trim()
    .split('\n')
    .map(line => line.split(' '))
    .map(([kind, at]) => ({ delta: kind === 'start' ? 1 : -1, at: BigInt(at as string) }))
    .sort((a, b) => (a.at === b.at ? a.delta - b.delta : a.at < b.at ? -1 : 1))
  let current = 0
  let max = 0
  for (const event of events) {
    current += event.delta
    max = Math.max(max, current)
  }
  return max
}

describe('SendCommand and GetCommandInvocation', () => {
  it('runs the commands under sh in the instance directory with no HOME, and its env', async () => {
    const instance = sandbox.instances[0]!
    instance.env.APP_COLOUR = 'blue'
    const commandId = await send(
      [instance.id],
      [
        'echo "cwd=$(pwd)"',
        'echo "home=${HOME-unset} colour=$APP_COLOUR id=$AWS_SSM_INSTANCE_ID"',
        'echo oops >&2',
        'exit 3',
      ],
      { Comment: 'first run' },
    )
    expect(commandId).toMatch(/^[0-9a-f-]{36}$/)
    await sandbox.ssm.whenDone(commandId)
    const out = await ssm.send(
      new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instance.id }),
    )
    expect(out).toMatchObject({
      Status: 'Failed',
      StatusDetails: 'Failed',
      ResponseCode: 3,
      PluginName: 'aws:runShellScript',
      Comment: 'first run',
      StandardErrorContent: 'oops\n',
    })
    expect(out.StandardOutputContent).toBe(
      `cwd=${instance.dir}\nhome=unset colour=blue id=${instance.id}\n`,
    )
    expect(out.ExecutionElapsedTime).toMatch(/^PT\d+\.\d{3}S$/)
    // The agent's script file holds the commands joined by newlines.
    const script = readFileSync(
      join(
        instance.dir,
        'var/lib/amazon/ssm',
        instance.id,
        'document/orchestration',
        commandId,
        'awsrunShellScript/0.awsrunShellScript/_script.sh',
      ),
      'utf8',
    )
    expect(script).toBe(
      'echo "cwd=$(pwd)"\necho "home=${HOME-unset} colour=$APP_COLOUR id=$AWS_SSM_INSTANCE_ID"\necho oops >&2\nexit 3\n',
    )
  })

  it('honours workingDirectory and fails like the agent when it does not exist', async () => {
    const instance = sandbox.instances[1]!
    mkdirSync(join(instance.dir, 'app'))
    const ok = await send([instance.id], ['pwd'], {
      Parameters: { commands: ['pwd'], workingDirectory: ['app'] },
    })
    const missing = await send([instance.id], ['pwd'], {
      Parameters: { commands: ['pwd'], workingDirectory: ['/nonexistent/dir'] },
    })
    await Promise.all([sandbox.ssm.whenDone(ok), sandbox.ssm.whenDone(missing)])
    const a = await ssm.send(
      new GetCommandInvocationCommand({ CommandId: ok, InstanceId: instance.id }),
    )
    expect(a.StandardOutputContent).toBe(`${join(instance.dir, 'app')}\n`)
    const b = await ssm.send(
      new GetCommandInvocationCommand({ CommandId: missing, InstanceId: instance.id }),
    )
    expect(b).toMatchObject({ Status: 'Failed', ResponseCode: 1 })
    expect(b.StandardErrorContent).toContain('/nonexistent/dir')
  })

  it('echoes the command as SSM does, with output options accepted', async () => {
    const out = await ssm.send(
      new SendCommandCommand({
        DocumentName: 'AWS-RunShellScript',
        InstanceIds: [ids()[0]!, ids()[0]!],
        Parameters: { commands: ['true'], executionTimeout: ['600'] },
        TimeoutSeconds: 120,
        MaxConcurrency: '10%',
        MaxErrors: '1',
        OutputS3BucketName: 'logs-bucket',
        OutputS3KeyPrefix: 'ssm/',
        CloudWatchOutputConfig: {
          CloudWatchOutputEnabled: true,
          CloudWatchLogGroupName: 'deploys',
        },
      }),
    )
    const command = out.Command!
    expect(command).toMatchObject({
      DocumentName: 'AWS-RunShellScript',
      Status: 'Pending',
      InstanceIds: [ids()[0]],
      TargetCount: 1,
      MaxConcurrency: '10%',
      MaxErrors: '1',
      TimeoutSeconds: 120,
      OutputS3BucketName: 'logs-bucket',
      OutputS3KeyPrefix: 'ssm/',
      CloudWatchOutputConfig: { CloudWatchOutputEnabled: true, CloudWatchLogGroupName: 'deploys' },
      Parameters: { commands: ['true'], executionTimeout: ['600'] },
    })
    expect(command.RequestedDateTime).toBeInstanceOf(Date)
    // ExpiresAfter = requested + TimeoutSeconds + executionTimeout.
    expect(command.ExpiresAfter!.getTime() - command.RequestedDateTime!.getTime()).toBe(720_000)
    await sandbox.ssm.whenDone(command.CommandId!)
    const listed = await ssm.send(new ListCommandsCommand({ CommandId: command.CommandId! }))
    expect(listed.Commands?.[0]).toMatchObject({
      Status: 'Success',
      CompletedCount: 1,
      ErrorCount: 0,
    })
  })

  it('rejects more than 50 InstanceIds with the real validation error', async () => {
    const many = Array.from({ length: 51 }, (_, i) => `i-${String(i).padStart(17, '0')}`)
    const error = await rejection(send(many, ['true']))
    expect(error.name).toBe('ValidationException')
    expect(error.message).toMatch(
      /at 'instanceIds' failed to satisfy constraint: Member must have length less than or equal to 50/,
    )
    expect((error.$metadata as { httpStatusCode: number }).httpStatusCode).toBe(400)
  })

  it('rejects unknown instances, other documents and bad parameters', async () => {
    expect((await rejection(send(['i-0123456789abcdef0'], ['true']))).name).toBe(
      'InvalidInstanceId',
    )
    const otherDoc = ssm.send(
      new SendCommandCommand({
        DocumentName: 'AWS-RunPowerShellScript',
        InstanceIds: ids(),
        Parameters: { commands: ['x'] },
      }),
    )
    expect((await rejection(otherDoc)).name).toBe('InvalidDocument')
    const badTimeout = send(ids(), ['true'], {
      Parameters: { commands: ['true'], executionTimeout: ['0'] },
    })
    expect((await rejection(badTimeout)).name).toBe('InvalidParameters')
    const badConcurrency = send(ids(), ['true'], { MaxConcurrency: '0' })
    expect((await rejection(badConcurrency)).name).toBe('ValidationException')
    const shortTimeout = send(ids(), ['true'], { TimeoutSeconds: 10 })
    expect((await rejection(shortTimeout)).message).toMatch(/timeoutSeconds/)
  })

  it('targets instances by tag', async () => {
    const extra = sandbox.fleet.add({ name: 'worker-1', tags: { Role: 'worker' } })
    const out = await ssm.send(
      new SendCommandCommand({
        DocumentName: 'AWS-RunShellScript',
        Targets: [{ Key: 'tag:Role', Values: ['worker'] }],
        Parameters: { commands: ['echo targeted'] },
      }),
    )
    expect(out.Command).toMatchObject({
      InstanceIds: [],
      TargetCount: 1,
      Targets: [{ Key: 'tag:Role', Values: ['worker'] }],
    })
    await sandbox.ssm.whenDone(out.Command!.CommandId!)
    const list = await ssm.send(
      new ListCommandInvocationsCommand({ CommandId: out.Command!.CommandId! }),
    )
    expect(list.CommandInvocations?.map(i => [i.InstanceId, i.Status])).toEqual([
      [extra.id, 'Success'],
    ])
  })

  it('services started by a command really listen on loopback after the command ends', async () => {
    const port = await new Promise<number>(resolve => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as { port: number }
        probe.close(() => resolve(port))
      })
    })
    const instance = sandbox.instances[2]!
    const commandId = await send(
      [instance.id],
      [
        `echo hello-from-instance > index.html`,
        `nohup python3 -m http.server ${port} --bind 127.0.0.1 >server.log 2>&1 &`,
        'echo started',
      ],
    )
    await sandbox.ssm.whenDone(commandId)
    const body = await until(async () => {
      try {
        const response = await fetch(`http://127.0.0.1:${port}/index.html`)
        return await response.text()
      } catch {
        return undefined
      }
    })
    expect(body).toBe('hello-from-instance\n')
    instance.killAllProcesses()
  })
})

describe('statuses', () => {
  it('goes Pending → InProgress → Success on a slow host', async () => {
    const instance = sandbox.fleet.add({
      name: 'slow',
      faults: { deliveryDelayMs: 1000, slowMs: 1000 },
    })
    const commandId = await send([instance.id], ['echo done'])
    const seen: string[] = []
    await until(async () => {
      const out = await ssm.send(
        new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instance.id }),
      )
      if (seen.at(-1) !== out.Status) seen.push(out.Status!)
      return out.Status === 'Success' ? true : undefined
    })
    expect(seen).toEqual(['Pending', 'InProgress', 'Success'])
    const done = await ssm.send(
      new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instance.id }),
    )
    expect(done).toMatchObject({ ResponseCode: 0, StandardOutputContent: 'done\n' })
  })

  it('reports ResponseCode -1 and empty times while the invocation runs', async () => {
    const instance = sandbox.instances[3]!
    const commandId = await send([instance.id], ['sleep 1'])
    await untilStatus(ssm, commandId, instance.id, 'InProgress')
    const running = await ssm.send(
      new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instance.id }),
    )
    expect(running).toMatchObject({
      ResponseCode: -1,
      ExecutionEndDateTime: '',
      StatusDetails: 'In Progress',
    })
    expect(running.ExecutionStartDateTime).not.toBe('')
    await sandbox.ssm.whenDone(commandId)
  })

  it('kills the process group on executionTimeout → TimedOut / Execution Timed Out', async () => {
    const instance = sandbox.instances[0]!
    const commandId = await send(
      [instance.id],
      ['sleep 60 & echo $! > bg.pid', 'echo before', 'sleep 60'],
      {
        Parameters: {
          commands: ['sleep 60 & echo $! > bg.pid', 'echo before', 'sleep 60'],
          executionTimeout: ['1'],
        },
      },
    )
    const command = await sandbox.ssm.whenDone(commandId)
    const out = await ssm.send(
      new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instance.id }),
    )
    expect(out).toMatchObject({
      Status: 'TimedOut',
      StatusDetails: 'Execution Timed Out',
      ResponseCode: -1,
      StandardOutputContent: 'before\n',
    })
    expect(sandbox.ssm.commandStatus(command)).toEqual({
      status: 'TimedOut',
      details: 'Execution Timed Out',
    })
    const pid = Number(readFileSync(join(instance.dir, 'bg.pid'), 'utf8'))
    await until(() => (isAlive(pid) ? undefined : true))
  })

  it('cuts output at 24,000 / 8,000 chars and plugin Output at 2,500', async () => {
    const instance = sandbox.instances[1]!
    const commandId = await send(
      [instance.id],
      ["head -c 30000 /dev/zero | tr '\\0' a", "head -c 9000 /dev/zero | tr '\\0' b >&2"],
    )
    await sandbox.ssm.whenDone(commandId)
    const out = await ssm.send(
      new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instance.id }),
    )
    expect(out.StandardOutputContent).toBe('a'.repeat(24000))
    expect(out.StandardErrorContent).toBe('b'.repeat(8000))
    const list = await ssm.send(
      new ListCommandInvocationsCommand({ CommandId: commandId, Details: true }),
    )
    const output = list.CommandInvocations?.[0]?.CommandPlugins?.[0]?.Output ?? ''
    expect(output.length).toBe(2500)
    expect(output.startsWith('aaaa')).toBe(true)
    expect(output).toContain('---Output truncated---')
    expect(output).toContain('----------ERROR-------')
    // The full output stays on the instance, as in the agent's orchestration directory.
    const full = readFileSync(
      join(
        instance.dir,
        'var/lib/amazon/ssm',
        instance.id,
        'document/orchestration',
        commandId,
        'awsrunShellScript/0.awsrunShellScript/stdout',
      ),
      'utf8',
    )
    expect(full.length).toBe(30000)
  })

  it('pluginOutput keeps short output whole and never exceeds the capacity', () => {
    expect(pluginOutput('hi\n', '')).toBe('hi\n')
    expect(pluginOutput('hi\n', 'err\n')).toBe('hi\n\n----------ERROR-------\nerr\n')
    for (const [out, err] of [
      [3000, 0],
      [0, 3000],
      [3000, 3000],
      [2400, 200],
      [100, 2600],
    ] as const) {
      const text = pluginOutput('o'.repeat(out), 'e'.repeat(err))
      expect(text.length).toBeLessThanOrEqual(2500)
      if (out > 0) expect(text.startsWith('o')).toBe(true)
      if (err > 0) expect(text).toContain('----------ERROR-------\ne')
    }
  })

  it('answers InvocationDoesNotExist for the configured window after a send', async () => {
    sandbox.ssm.settings.invocationVisibilityDelayMs = 1500
    try {
      const instance = sandbox.instances[2]!
      const sentAt = Date.now()
      const commandId = await send([instance.id], ['echo visible'])
      const error = await rejection(
        ssm.send(
          new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instance.id }),
        ),
      )
      expect(error.name).toBe('InvocationDoesNotExist')
      expect((error.$metadata as { httpStatusCode: number }).httpStatusCode).toBe(400)
      const early = await ssm.send(new ListCommandInvocationsCommand({ CommandId: commandId }))
      expect(early.CommandInvocations).toEqual([])
      await sandbox.ssm.whenDone(commandId)
      await new Promise(resolve => setTimeout(resolve, Math.max(0, sentAt + 1600 - Date.now())))
      const out = await ssm.send(
        new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instance.id }),
      )
      expect(out.StandardOutputContent).toBe('visible\n')
    } finally {
      sandbox.ssm.settings.invocationVisibilityDelayMs = 0
    }
  })
})

describe('MaxConcurrency and MaxErrors', () => {
  it('never runs more invocations at once than MaxConcurrency (number and percent)', async () => {
    for (const [maxConcurrency, expected] of [
      ['1', 1],
      ['50%', 2],
    ] as const) {
      const log = join(logDir, `concurrency-${expected}.log`)
      const commandId = await send(
        ids(),
        [`echo start $(date +%s%N) >> ${log}`, 'sleep 0.6', `echo end $(date +%s%N) >> ${log}`],
        { MaxConcurrency: maxConcurrency },
      )
      const command = await sandbox.ssm.whenDone(commandId)
      expect(sandbox.ssm.commandStatus(command).status).toBe('Success')
      expect(maxOverlap(readFileSync(log, 'utf8'))).toBe(expected)
    }
  })

  it('stops dispatch once MaxErrors is exceeded: the rest end Cancelled and never start', async () => {
    const marker = join(logDir, 'max-errors.log')
    const commandId = await send(ids(), [`echo ran >> ${marker}`, 'exit 1'], {
      MaxConcurrency: '1',
      MaxErrors: '1',
    })
    const command = await sandbox.ssm.whenDone(commandId)
    const list = await ssm.send(new ListCommandInvocationsCommand({ CommandId: commandId }))
    expect(list.CommandInvocations?.map(i => `${i.Status}/${i.StatusDetails}`)).toEqual([
      'Failed/Failed',
      'Failed/Failed',
      'Cancelled/Terminated',
      'Cancelled/Terminated',
    ])
    expect(readFileSync(marker, 'utf8')).toBe('ran\nran\n')
    const listed = await ssm.send(new ListCommandsCommand({ CommandId: commandId }))
    expect(listed.Commands?.[0]).toMatchObject({
      Status: 'Failed',
      StatusDetails: 'Failed',
      ErrorCount: 2,
    })
    expect(command.completedAt).toBeDefined()
  })

  it('reports Incomplete when failures stay within MaxErrors', async () => {
    const [first, ...rest] = ids()
    const commandId = await send([first!, ...rest], [`test "$AWS_SSM_INSTANCE_ID" != ${first}`], {
      MaxErrors: '25%',
    })
    await sandbox.ssm.whenDone(commandId)
    const listed = await ssm.send(new ListCommandsCommand({ CommandId: commandId }))
    expect(listed.Commands?.[0]).toMatchObject({
      Status: 'Failed',
      StatusDetails: 'Incomplete',
      ErrorCount: 1,
      CompletedCount: 4,
    })
  })
})

describe('CancelCommand', () => {
  it('kills running invocations (Cancelled) and pending ones never start', async () => {
    const [running, pending] = ids()
    const started = join(logDir, 'cancel.log')
    const commandId = await send(
      [running!, pending!],
      [`echo $AWS_SSM_INSTANCE_ID >> ${started}`, 'sleep 60 & echo $! > cancel.pid', 'sleep 60'],
      {
        MaxConcurrency: '1',
      },
    )
    await untilStatus(ssm, commandId, running!, 'InProgress')
    await until(() =>
      existsSync(join(sandbox.fleet.require(running!).dir, 'cancel.pid')) ? true : undefined,
    )
    await ssm.send(new CancelCommandCommand({ CommandId: commandId }))
    await sandbox.ssm.whenDone(commandId)
    const list = await ssm.send(new ListCommandInvocationsCommand({ CommandId: commandId }))
    expect(list.CommandInvocations?.map(i => `${i.InstanceId}:${i.Status}`)).toEqual([
      `${running}:Cancelled`,
      `${pending}:Cancelled`,
    ])
    const listed = await ssm.send(new ListCommandsCommand({ CommandId: commandId }))
    expect(listed.Commands?.[0]?.Status).toBe('Cancelled')
    expect(readFileSync(started, 'utf8')).toBe(`${running}\n`)
    const pid = Number(
      readFileSync(join(sandbox.fleet.require(running!).dir, 'cancel.pid'), 'utf8'),
    )
    await until(() => (isAlive(pid) ? undefined : true))
    expect(sandbox.ssm.cancelRequests.at(-1)).toMatchObject({ commandId, instanceIds: [] })
  })

  it('rejects an unknown command id', async () => {
    const error = await rejection(
      ssm.send(new CancelCommandCommand({ CommandId: '00000000-0000-0000-0000-000000000000' })),
    )
    expect(error.name).toBe('InvalidCommandId')
  })
})

describe('listing', () => {
  it('paginates ListCommandInvocations with Details and MaxResults', async () => {
    const commandId = await send(ids(), ['echo "$AWS_SSM_INSTANCE_ID"'])
    await sandbox.ssm.whenDone(commandId)
    const before = sandbox.faults.calls.ListCommandInvocations ?? 0
    const pages = []
    for await (const page of paginateListCommandInvocations(
      { client: ssm, pageSize: 3 },
      { CommandId: commandId, Details: true },
    )) {
      pages.push(page)
    }
    expect(pages.map(page => page.CommandInvocations?.length)).toEqual([3, 1])
    expect(sandbox.faults.calls.ListCommandInvocations).toBe(before + 2)
    const outputs = pages
      .flatMap(page => page.CommandInvocations ?? [])
      .map(i => i.CommandPlugins?.[0]?.Output)
    expect(outputs).toEqual(ids().map(id => `${id}\n`))
    const bad = await rejection(
      ssm.send(new ListCommandInvocationsCommand({ CommandId: commandId, NextToken: 'garbage' })),
    )
    expect(bad.name).toBe('InvalidNextToken')
    const tooMany = await rejection(
      ssm.send(new ListCommandInvocationsCommand({ CommandId: commandId, MaxResults: 51 })),
    )
    expect(tooMany.name).toBe('ValidationException')
  })

  it('filters ListCommands and ListCommandInvocations by status', async () => {
    const [good, bad] = ids()
    const commandId = await send([good!, bad!], [`test "$AWS_SSM_INSTANCE_ID" = ${good}`], {
      MaxErrors: '1',
    })
    await sandbox.ssm.whenDone(commandId)
    const failed = await ssm.send(
      new ListCommandInvocationsCommand({
        CommandId: commandId,
        Filters: [{ key: 'Status', value: 'Failed' }],
      }),
    )
    expect(failed.CommandInvocations?.map(i => i.InstanceId)).toEqual([bad])
    const incomplete = await ssm.send(
      new ListCommandsCommand({ Filters: [{ key: 'Status', value: 'Incomplete' }] }),
    )
    expect(incomplete.Commands?.map(c => c.CommandId)).toContain(commandId)
    const badKey = await rejection(
      ssm.send(new ListCommandsCommand({ Filters: [{ key: 'Colour' as 'Status', value: 'x' }] })),
    )
    expect(badKey.name).toBe('InvalidFilterKey')
  })

  it('supports the legacy InstanceInformationFilterList and tag filters', async () => {
    const legacy = await ssm.send(
      new DescribeInstanceInformationCommand({
        InstanceInformationFilterList: [{ key: 'InstanceIds', valueSet: [ids()[1]!] }],
      }),
    )
    expect(legacy.InstanceInformationList?.map(i => i.InstanceId)).toEqual([ids()[1]])
    const tagged = await ssm.send(
      new DescribeInstanceInformationCommand({
        Filters: [{ Key: 'tag:Environment', Values: ['staging'] }],
      }),
    )
    expect(tagged.InstanceInformationList?.map(i => i.InstanceId)).toEqual(ids())
  })

  it('describes instance information with PingStatus, agent version and InstanceIds filters', async () => {
    const offline = sandbox.fleet.add({
      name: 'offline-info',
      agentVersion: '3.2.0.0',
      faults: { agentOffline: true },
    })
    const out = await ssm.send(
      new DescribeInstanceInformationCommand({
        Filters: [{ Key: 'InstanceIds', Values: [ids()[0]!, offline.id] }],
      }),
    )
    expect(
      out.InstanceInformationList?.map(i => [
        i.InstanceId,
        i.PingStatus,
        i.AgentVersion,
        i.IPAddress,
      ]),
    ).toEqual([
      [ids()[0], 'Online', '3.3.1802.0', sandbox.instances[0]!.privateIpAddress],
      [offline.id, 'ConnectionLost', '3.2.0.0', offline.privateIpAddress],
    ])
    const all = []
    let token: string | undefined
    do {
      const page = await ssm.send(
        new DescribeInstanceInformationCommand({
          MaxResults: 5,
          ...(token ? { NextToken: token } : {}),
        }),
      )
      all.push(...(page.InstanceInformationList ?? []))
      token = page.NextToken
    } while (token)
    expect(all.map(i => i.InstanceId)).toEqual(sandbox.fleet.list().map(i => i.id))
    const tooSmall = await rejection(
      ssm.send(new DescribeInstanceInformationCommand({ MaxResults: 4 })),
    )
    expect(tooSmall.name).toBe('ValidationException')
  })
})
