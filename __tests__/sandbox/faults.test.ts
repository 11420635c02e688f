// Every fault knob of the sandbox, seen through the real SDK: throttling (next N, rate, token
// bucket), latency, offline agents, an instance dying mid-command and call counting.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2'
import {
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  ListCommandInvocationsCommand,
  ListCommandsCommand,
  SendCommandCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm'
import { Faults, startSandbox, type Sandbox } from '../../dev/aws-sandbox/src/index.js'
import { clients, isAlive, rejection, until, untilStatus } from './helpers.js'

let sandbox: Sandbox

beforeAll(async () => {
  sandbox = await startSandbox({ instances: 2, invocationVisibilityDelayMs: 0 })
})
afterAll(async () => {
  await sandbox.close()
})

async function send(ssm: SSMClient, instanceIds: string[], commands: string[]): Promise<string> {
  const out = await ssm.send(
    new SendCommandCommand({
      DocumentName: 'AWS-RunShellScript',
      InstanceIds: instanceIds,
      Parameters: { commands },
    }),
  )
  return out.Command!.CommandId!
}

describe('throttling', () => {
  it('throttles the next N calls of an operation with SSM ThrottlingException (HTTP 400)', async () => {
    const { ssm } = clients(sandbox, 1)
    sandbox.faults.throttleNext(2, { operations: ['ListCommands'] })
    const before = {
      calls: sandbox.faults.calls.ListCommands ?? 0,
      throttled: sandbox.faults.throttled.ListCommands ?? 0,
    }
    const first = await rejection(ssm.send(new ListCommandsCommand({})))
    expect(first.name).toBe('ThrottlingException')
    expect(first.message).toBe('Rate exceeded')
    expect((first.$metadata as { httpStatusCode: number }).httpStatusCode).toBe(400)
    // Other operations are not affected.
    await ssm.send(new DescribeInstanceInformationCommand({}))
    // The SDK's own retry gets through once the burst is over.
    const retrying = clients(sandbox, 3).ssm
    const out = await retrying.send(new ListCommandsCommand({}))
    expect(out.Commands).toBeDefined()
    expect(sandbox.faults.calls.ListCommands).toBe(before.calls + 3)
    expect(sandbox.faults.throttled.ListCommands).toBe(before.throttled + 2)
    ssm.destroy()
    retrying.destroy()
  })

  it('throttles EC2 with RequestLimitExceeded (HTTP 503)', async () => {
    const { ec2 } = clients(sandbox, 1)
    sandbox.faults.throttleNext(1, { service: 'ec2' })
    const error = await rejection(ec2.send(new DescribeInstancesCommand({})))
    expect(error.name).toBe('RequestLimitExceeded')
    expect((error.$metadata as { httpStatusCode: number }).httpStatusCode).toBe(503)
    const out = await ec2.send(new DescribeInstancesCommand({}))
    expect(out.Reservations).toHaveLength(sandbox.fleet.list().length)
    ec2.destroy()
  })

  it('throttles a seeded fraction of calls, reproducibly', () => {
    const run = (seed: number) => {
      const faults = new Faults(seed).throttleRate(0.3)
      return Array.from(
        { length: 200 },
        () => faults.admit('ssm', 'ListCommandInvocations').throttled,
      )
    }
    const first = run(7)
    expect(run(7)).toEqual(first)
    const share = first.filter(Boolean).length / first.length
    expect(share).toBeGreaterThan(0.15)
    expect(share).toBeLessThan(0.45)
    expect(new Faults().throttleRate(1).admit('ssm', 'X').throttled).toBe(true)
    expect(() => new Faults().throttleRate(1.5)).toThrow(/not in 0..1/)
  })

  it('throttles above a token-bucket rate', () => {
    const faults = new Faults().throttleAbove(1, 3, { operations: ['SendCommand'] })
    const results = Array.from({ length: 5 }, () => faults.admit('ssm', 'SendCommand').throttled)
    expect(results).toEqual([false, false, false, true, true])
    expect(faults.admit('ssm', 'GetCommandInvocation').throttled).toBe(false)
    expect(faults.throttled.SendCommand).toBe(2)
    expect(faults.calls.SendCommand).toBe(5)
  })

  it('clear() removes the rules and keeps the counters', () => {
    const faults = new Faults().throttleNext(5)
    faults.admit('ssm', 'A')
    faults.clear()
    expect(faults.admit('ssm', 'A').throttled).toBe(false)
    expect(faults.calls.A).toBe(2)
    faults.resetCounters()
    expect(faults.calls.A).toBeUndefined()
    expect(faults.log).toEqual([])
  })
})

describe('latency', () => {
  it('delays matching responses only', async () => {
    const { ssm } = clients(sandbox)
    sandbox.faults.addLatency(400, { operations: ['DescribeInstanceInformation'] })
    try {
      const slowStart = Date.now()
      await ssm.send(new DescribeInstanceInformationCommand({}))
      expect(Date.now() - slowStart).toBeGreaterThanOrEqual(400)
      expect(sandbox.faults.admit('ssm', 'DescribeInstanceInformation').latencyMs).toBe(400)
      expect(sandbox.faults.admit('ssm', 'ListCommands').latencyMs).toBe(0)
    } finally {
      sandbox.faults.clear()
      ssm.destroy()
    }
  })
})

describe('offline agent', () => {
  it('reports ConnectionLost; invocations end Failed/Undeliverable and SSM still calls the command a Success', async () => {
    const { ssm } = clients(sandbox)
    const online = sandbox.instances[0]!
    const offline = sandbox.fleet.add({ name: 'offline', faults: { agentOffline: true } })
    const info = await ssm.send(
      new DescribeInstanceInformationCommand({
        Filters: [{ Key: 'PingStatus', Values: ['ConnectionLost'] }],
      }),
    )
    expect(info.InstanceInformationList?.map(i => i.InstanceId)).toEqual([offline.id])
    const commandId = await send(ssm, [online.id, offline.id], ['echo hi'])
    const command = await sandbox.ssm.whenDone(commandId)
    const list = await ssm.send(
      new ListCommandInvocationsCommand({ CommandId: commandId, Details: true }),
    )
    expect(list.CommandInvocations?.map(i => [i.InstanceId, i.Status, i.StatusDetails])).toEqual([
      [online.id, 'Success', 'Success'],
      [offline.id, 'Failed', 'Undeliverable'],
    ])
    // Undeliverable does not count against MaxErrors, so the command itself is a Success.
    expect(sandbox.ssm.commandStatus(command)).toEqual({ status: 'Success', details: 'Success' })
    expect(command.errorCount).toBe(0)
    ssm.destroy()
  })

  it("with 'delivery-timeout', waits Delayed and ends Delivery Timed Out when the command expires", async () => {
    const { ssm } = clients(sandbox)
    sandbox.ssm.settings.deliveryTimeoutMs = 1500
    try {
      const host = sandbox.fleet.add({
        name: 'unreachable',
        faults: { agentOffline: 'delivery-timeout' },
      })
      const commandId = await send(ssm, [host.id], ['echo never'])
      await untilStatus(ssm, commandId, host.id, 'Delayed')
      const command = await sandbox.ssm.whenDone(commandId)
      const out = await ssm.send(
        new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: host.id }),
      )
      expect(out).toMatchObject({
        Status: 'TimedOut',
        StatusDetails: 'Delivery Timed Out',
        ResponseCode: -1,
        StandardOutputContent: '',
      })
      expect(sandbox.ssm.commandStatus(command)).toEqual({
        status: 'TimedOut',
        details: 'Delivery Timed Out',
      })
    } finally {
      sandbox.ssm.settings.deliveryTimeoutMs = undefined
      ssm.destroy()
    }
  })

  it('delivers a Delayed invocation once the agent is back', async () => {
    const { ssm } = clients(sandbox)
    const host = sandbox.fleet.add({ name: 'flaky', faults: { agentOffline: 'delivery-timeout' } })
    const commandId = await send(ssm, [host.id], ['echo finally'])
    await untilStatus(ssm, commandId, host.id, 'Delayed')
    host.setAgentOffline(false)
    await sandbox.ssm.whenDone(commandId)
    const out = await ssm.send(
      new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: host.id }),
    )
    expect(out).toMatchObject({ Status: 'Success', StandardOutputContent: 'finally\n' })
    ssm.destroy()
  })
})

describe('an instance that dies mid-command', () => {
  it('kills its processes, goes ConnectionLost/stopped and the invocation ends Delivery Timed Out', async () => {
    const { ssm, ec2 } = clients(sandbox)
    sandbox.ssm.settings.deliveryTimeoutMs = 3500
    try {
      const host = sandbox.fleet.add({ name: 'doomed', faults: { dieAfterMs: 1000 } })
      const commandId = await send(
        ssm,
        [host.id],
        ['sleep 60 & echo $! > bg.pid', 'echo working', 'sleep 60'],
      )
      await until(() => (host.state === 'stopped' ? true : undefined))
      // Until the command expires, SSM still shows it running: the agent never reported back.
      const during = await ssm.send(
        new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: host.id }),
      )
      expect(during.Status).toBe('InProgress')
      const pid = Number(readFileSync(join(host.dir, 'bg.pid'), 'utf8'))
      await until(() => (isAlive(pid) ? undefined : true))
      const ping = await ssm.send(
        new DescribeInstanceInformationCommand({
          Filters: [{ Key: 'InstanceIds', Values: [host.id] }],
        }),
      )
      expect(ping.InstanceInformationList?.[0]?.PingStatus).toBe('ConnectionLost')
      const described = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [host.id] }))
      expect(described.Reservations?.[0]?.Instances?.[0]?.State).toEqual({
        Code: 80,
        Name: 'stopped',
      })
      await sandbox.ssm.whenDone(commandId)
      const out = await ssm.send(
        new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: host.id }),
      )
      expect(out).toMatchObject({
        Status: 'TimedOut',
        StatusDetails: 'Delivery Timed Out',
        ResponseCode: -1,
      })
      // A later command to the dead host is undeliverable.
      const next = await send(ssm, [host.id], ['true'])
      await sandbox.ssm.whenDone(next)
      const after = await ssm.send(
        new GetCommandInvocationCommand({ CommandId: next, InstanceId: host.id }),
      )
      expect(after.StatusDetails).toBe('Undeliverable')
      // Brought back, it runs commands again.
      host.revive()
      delete host.faults.dieAfterMs
      const revived = await send(ssm, [host.id], ['echo back'])
      await sandbox.ssm.whenDone(revived)
      const back = await ssm.send(
        new GetCommandInvocationCommand({ CommandId: revived, InstanceId: host.id }),
      )
      expect(back).toMatchObject({ Status: 'Success', StandardOutputContent: 'back\n' })
    } finally {
      sandbox.ssm.settings.deliveryTimeoutMs = undefined
      ssm.destroy()
      ec2.destroy()
    }
  })
})

describe('a slow instance', () => {
  it('finishes after the others, InProgress meanwhile', async () => {
    const { ssm } = clients(sandbox)
    const fast = sandbox.instances[1]!
    const slow = sandbox.fleet.add({ name: 'sluggish', faults: { slowMs: 2500 } })
    const commandId = await send(ssm, [fast.id, slow.id], ['echo ok'])
    await untilStatus(ssm, commandId, fast.id, 'Success')
    const meanwhile = await ssm.send(
      new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: slow.id }),
    )
    expect(meanwhile.Status).toBe('InProgress')
    const command = await sandbox.ssm.whenDone(commandId)
    const slowRun = command.invocations.find(i => i.instance.id === slow.id)!
    const fastRun = command.invocations.find(i => i.instance.id === fast.id)!
    expect(slowRun.endedAt!.getTime()).toBeGreaterThan(fastRun.endedAt!.getTime())
    expect(slowRun.status).toBe('Success')
    ssm.destroy()
  })
})
