// Scale: 500 instances on this machine in fast command mode (no shell spawned), driven the way
// ssm-deploy drives a fleet: SendCommand in chunks of 50 and paginated ListCommandInvocations.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { paginateDescribeInstances } from '@aws-sdk/client-ec2'
import { paginateListCommandInvocations, SendCommandCommand } from '@aws-sdk/client-ssm'
import { startSandbox, type Sandbox } from '../../dev/aws-sandbox/src/index.js'
import { clients } from './helpers.js'

let sandbox: Sandbox

beforeAll(async () => {
  sandbox = await startSandbox({
    instances: 500,
    namePrefix: 'fleet',
    tags: { Environment: 'load' },
    commandMode: 'fast',
    invocationVisibilityDelayMs: 0,
    fastHandler: ({ instance, commands }) => ({
      exitCode: instance.index === 499 ? 7 : 0,
      stdout: `${instance.id} ran ${commands.length} command(s)\n`,
      durationMs: instance.index % 10,
    }),
  })
})
afterAll(async () => {
  await sandbox.close()
})

describe('500 instances in fast mode', () => {
  it('describes, sends in ⌈N/50⌉ calls and lists every invocation', async () => {
    const { ec2, ssm } = clients(sandbox, 3)
    const ids: string[] = []
    for await (const page of paginateDescribeInstances(
      { client: ec2, pageSize: 1000 },
      { Filters: [{ Name: 'tag:Environment', Values: ['load'] }] },
    )) {
      ids.push(...(page.Reservations ?? []).flatMap(r => r.Instances ?? []).map(i => i.InstanceId!))
    }
    expect(ids).toHaveLength(500)

    sandbox.faults.resetCounters()
    const commandIds: string[] = []
    for (let start = 0; start < ids.length; start += 50) {
      const out = await ssm.send(
        new SendCommandCommand({
          DocumentName: 'AWS-RunShellScript',
          InstanceIds: ids.slice(start, start + 50),
          Parameters: { commands: ['deploy', 'verify'] },
          MaxErrors: '100%',
        }),
      )
      commandIds.push(out.Command!.CommandId!)
    }
    expect(sandbox.faults.calls.SendCommand).toBe(10)
    await Promise.all(commandIds.map(id => sandbox.ssm.whenDone(id)))

    const statuses = new Map<string, string>()
    for (const commandId of commandIds) {
      for await (const page of paginateListCommandInvocations(
        { client: ssm, pageSize: 50 },
        { CommandId: commandId, Details: true },
      )) {
        for (const invocation of page.CommandInvocations ?? []) {
          statuses.set(
            invocation.InstanceId!,
            `${invocation.Status}:${invocation.CommandPlugins?.[0]?.Output}`,
          )
        }
      }
    }
    expect(sandbox.faults.calls.ListCommandInvocations).toBe(10)
    expect(statuses.size).toBe(500)
    const last = ids[499]!
    for (const id of ids) {
      expect(statuses.get(id)).toBe(
        `${id === last ? 'Failed' : 'Success'}:${id} ran 2 command(s)\n`,
      )
    }
    ec2.destroy()
    ssm.destroy()
  })
})
