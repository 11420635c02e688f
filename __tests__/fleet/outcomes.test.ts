import { beforeEach, describe, expect, it } from '@jest/globals'
import {
  CancelCommandCommand,
  GetCommandInvocationCommand,
  ListCommandInvocationsCommand,
  SSMClient,
  SendCommandCommand,
  type CommandInvocation,
} from '@aws-sdk/client-ssm'
import { mockClient } from 'aws-sdk-client-mock'
import { memoryLogger } from '../../packages/kit/src/index.js'
import {
  FleetCommands,
  FleetDeploy,
  type FleetDeployOptions,
  type InstanceOutcome,
} from '../../packages/fleet/src/index.js'

// How a host's wait ended is a typed kind, set where the fact is known: FleetDeploy branches on
// it, never on the reason's words, and only a real cancellation is reported as one. SSM is
// mocked (these corners need a host stuck past the deadline, or an error mid-cancel) and time
// is virtual.
const ssm = mockClient(SSMClient)
const A = 'i-0000000000000c001'
const B = 'i-0000000000000c002'
const COMMAND_ID = 'c0ffee00-0000-4000-8000-0000000000c1'
let offset = 0
const tuning = {
  deadlineSlackMs: 0,
  now: () => Date.now() + offset,
  sleep: async (ms: number) => void (offset += ms),
}
const rollback: FleetDeployOptions = {
  instanceIds: [A],
  remote: { deployDir: '/opt/app', mode: 'rollback' },
  maxConcurrency: '1',
  maxErrors: '0',
  executionTimeoutSeconds: 60,
}
const invocation = (id: string, status: string, details = status): CommandInvocation => ({
  InstanceId: id,
  Status: status as CommandInvocation['Status'],
  StatusDetails: details,
  CommandPlugins: [{ ResponseCode: status === 'Success' ? 0 : -1, Output: '' }],
})

beforeEach(() => {
  ssm.reset()
  offset = 0
  ssm.on(SendCommandCommand).resolves({ Command: { CommandId: COMMAND_ID } })
  ssm.on(CancelCommandCommand).resolves({})
  ssm.on(GetCommandInvocationCommand).resolves({ StandardOutputContent: '' })
})

/** FleetCommands whose reasons say the same thing in other words. */
class RewordedCommands extends FleetCommands {
  override async wait(...args: Parameters<FleetCommands['wait']>): Promise<InstanceOutcome[]> {
    const outcomes = await super.wait(...args)
    return outcomes.map(o => ({ ...o, reason: `gave up: ${o.reason}` }))
  }
}

describe('FleetCommands: the kind of each outcome', () => {
  it('tells finished, cancelled, undeliverable and timed-out apart', async () => {
    const ids = ['i-0000000000000d001', 'i-0000000000000d002', 'i-0000000000000d003']
    const [ran, failed, stopped] = ids as [string, string, string]
    const listed = [
      invocation(ran, 'Success'),
      { ...invocation(failed, 'Failed'), CommandPlugins: [{ ResponseCode: 3 }] },
      invocation(stopped, 'TimedOut', 'Execution Timed Out'),
      invocation(A, 'Cancelled'),
      // What SSM says of the invocations it never started once the command passed MaxErrors.
      invocation('i-0000000000000d007', 'Cancelled', 'Terminated'),
      invocation(B, 'Failed', 'Undeliverable'),
      invocation('i-0000000000000d004', 'TimedOut', 'Delivery Timed Out'),
      invocation('i-0000000000000d005', 'InProgress'),
    ]
    ssm.on(ListCommandInvocationsCommand).resolves({ CommandInvocations: listed })
    const commands = new FleetCommands(ssm as unknown as SSMClient, memoryLogger(), tuning)
    const all = [...listed.map(i => i.InstanceId as string), 'i-0000000000000d006']
    const outcomes = await commands.wait(new Map([['cmd-1', all]]), Date.now() + 120_000)
    expect(Object.fromEntries(outcomes.map(o => [o.instanceId, o.kind]))).toEqual({
      [ran]: 'finished',
      [failed]: 'finished',
      [stopped]: 'finished',
      [A]: 'cancelled',
      'i-0000000000000d007': 'cancelled',
      [B]: 'undeliverable',
      'i-0000000000000d004': 'undeliverable',
      // Still running when the deadline passed: SSM may run it yet.
      'i-0000000000000d005': 'timed-out',
      // Never listed at all.
      'i-0000000000000d006': 'undeliverable',
    })
  })
})

describe('FleetDeploy reads the kind, not the words', () => {
  it('stops a host it gave up on at the deadline, whatever its reason says', async () => {
    ssm.on(ListCommandInvocationsCommand).resolves({
      CommandInvocations: [invocation(A, 'InProgress')],
    })
    const logger = memoryLogger()
    const commands = new RewordedCommands(ssm as unknown as SSMClient, logger, tuning)
    const report = await new FleetDeploy(commands, logger).run(rollback, async () => {})
    expect(report.results[0]).toMatchObject({ status: 'failed' })
    expect(report.results[0]?.reason).toMatch(/^gave up: still InProgress when the deadline/)
    expect(ssm.commandCalls(CancelCommandCommand).map(c => c.args[0].input.CommandId)).toEqual([
      COMMAND_ID,
    ])
  })

  it('does not cancel what SSM already ended', async () => {
    ssm.on(ListCommandInvocationsCommand).resolves({
      CommandInvocations: [invocation(A, 'TimedOut', 'Execution Timed Out')],
    })
    const logger = memoryLogger()
    const commands = new FleetCommands(ssm as unknown as SSMClient, logger, tuning)
    const report = await new FleetDeploy(commands, logger).run(rollback, async () => {})
    expect(report.results[0]).toMatchObject({ status: 'failed' })
    expect(ssm.commandCalls(CancelCommandCommand)).toHaveLength(0)
  })
})

describe('FleetDeploy and cancellation', () => {
  const denied = () =>
    Object.assign(new Error('User is not authorized to perform ssm:ListCommandInvocations'), {
      name: 'AccessDeniedException',
    })

  it('reports an error during the wait as that error, not as a cancellation', async () => {
    const logger = memoryLogger()
    const commands = new FleetCommands(ssm as unknown as SSMClient, logger, tuning)
    const deploy = new FleetDeploy(commands, logger)
    let calls = 0
    ssm.on(ListCommandInvocationsCommand).callsFake(() => {
      calls++
      if (calls === 1) return { CommandInvocations: [invocation(A, 'InProgress')] }
      if (calls > 2) return { CommandInvocations: [invocation(A, 'Cancelled')] }
      // The workflow is cancelled while this call is in flight, and the call then fails.
      deploy.cancel()
      throw denied()
    })
    await expect(deploy.run(rollback, async () => {})).rejects.toThrow(
      'User is not authorized to perform ssm:ListCommandInvocations',
    )
    // The cancel that was asked for still stops the command on the hosts.
    expect(ssm.commandCalls(CancelCommandCommand)).toHaveLength(1)
  })

  it('reports an error during the wait as that error, and leaves the command alone', async () => {
    ssm.on(ListCommandInvocationsCommand).rejects(denied())
    const logger = memoryLogger()
    const deploy = new FleetDeploy(
      new FleetCommands(ssm as unknown as SSMClient, logger, tuning),
      logger,
    )
    await expect(deploy.run(rollback, async () => {})).rejects.toThrow(/not authorized/)
    expect(ssm.commandCalls(CancelCommandCommand)).toHaveLength(0)
  })

  it('reports a real cancel as cancelled, with the hosts it interrupted', async () => {
    const logger = memoryLogger()
    const commands = new FleetCommands(ssm as unknown as SSMClient, logger, {
      ...tuning,
      // The workflow is cancelled while FleetDeploy waits between two polls.
      sleep: async ms => {
        offset += ms
        deploy.cancel()
      },
    })
    const deploy = new FleetDeploy(commands, logger)
    ssm
      .on(ListCommandInvocationsCommand)
      .resolvesOnce({ CommandInvocations: [invocation(A, 'InProgress'), invocation(B, 'Pending')] })
      .resolves({
        CommandInvocations: [invocation(A, 'Cancelled'), invocation(B, 'Cancelled')],
      })
    // Both hosts in one wave: both were sent the command when the cancel came.
    const report = await deploy.run(
      { ...rollback, instanceIds: [A, B], maxConcurrency: '100%' },
      async () => {},
    )
    expect(report.results.map(r => r.status)).toEqual(['cancelled', 'cancelled'])
    expect(report.interrupted).toEqual([A, B])
    expect(report.status).toBe('failed')
    expect(ssm.commandCalls(CancelCommandCommand)).toHaveLength(1)
  })
})
