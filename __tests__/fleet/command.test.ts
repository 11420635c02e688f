import { beforeEach, describe, expect, it } from '@jest/globals'
import {
  CancelCommandCommand,
  ListCommandInvocationsCommand,
  SSMClient,
  SendCommandCommand,
  ThrottlingException,
  type CommandInvocation,
} from '@aws-sdk/client-ssm'
import { mockClient } from 'aws-sdk-client-mock'
import { memoryLogger } from '../../packages/kit/src/index.js'
import {
  FleetCommandRunner,
  chunk,
  concurrencyOf,
  type FleetCommand,
} from '../../packages/fleet/src/command.js'

// Unit tests of the runner's bookkeeping with a mocked SSM and virtual time. The behaviour
// against SSM's real wire protocol is tested against the sandbox.
const ssm = mockClient(SSMClient)
let clock = 0
const tuning = {
  initialDelayMs: 1000,
  maxDelayMs: 5000,
  missingGraceMs: 10_000,
  deadlineSlackMs: 0,
  now: () => clock,
  sleep: async (ms: number) => void (clock += ms),
}
beforeEach(() => {
  ssm.reset()
  clock = 0
})

const ids = (n: number) => Array.from({ length: n }, (_, i) => `i-${String(i).padStart(17, '0')}`)
const command = (instanceIds: string[], extra: Partial<FleetCommand> = {}): FleetCommand => ({
  instanceIds,
  commands: ['echo hi'],
  executionTimeoutSeconds: 60,
  deliveryTimeoutSeconds: 30,
  maxConcurrency: '50',
  maxErrors: '0',
  ...extra,
})
const invocation = (
  instanceId: string,
  status: string,
  details = status,
  code = status === 'Success' ? 0 : -1,
): CommandInvocation => ({
  InstanceId: instanceId,
  Status: status as CommandInvocation['Status'],
  StatusDetails: details,
  CommandPlugins: [{ ResponseCode: code, Output: `output of ${instanceId}` }],
})

describe('chunking and concurrency', () => {
  it('covers N instances with ⌈N/50⌉ chunks', () => {
    expect(chunk(ids(120), 50).map(c => c.length)).toEqual([50, 50, 20])
    expect(chunk([], 50)).toEqual([])
  })
  it('reads MaxConcurrency counts and percentages', () => {
    expect(concurrencyOf('25%', 10)).toBe(3)
    expect(concurrencyOf('1', 10)).toBe(1)
    expect(concurrencyOf('100', 10)).toBe(10)
  })
})

describe('FleetCommandRunner', () => {
  it('sends ⌈N/50⌉ SendCommand calls with SSM rolling parameters', async () => {
    let n = 0
    ssm.on(SendCommandCommand).callsFake(() => ({ Command: { CommandId: `cmd-${++n}` } }))
    const runner = new FleetCommandRunner(ssm as unknown as SSMClient, memoryLogger(), tuning)
    const byCommand = await runner.send(
      command(ids(101), { maxConcurrency: '10%', maxErrors: '1', comment: 'x'.repeat(150) }),
    )
    expect([...byCommand.keys()]).toEqual(['cmd-1', 'cmd-2', 'cmd-3'])
    const calls = ssm.commandCalls(SendCommandCommand)
    expect(calls).toHaveLength(3)
    expect(calls[0]?.args[0].input).toMatchObject({
      DocumentName: 'AWS-RunShellScript',
      MaxConcurrency: '10%',
      MaxErrors: '1',
      TimeoutSeconds: 30,
      Parameters: { commands: ['echo hi'], executionTimeout: ['60'] },
    })
    expect(calls[0]?.args[0].input.Comment).toHaveLength(100)
    expect(calls.map(c => c.args[0].input.InstanceIds?.length)).toEqual([50, 50, 1])
  })

  it('waits through missing and pending invocations, then judges every instance', async () => {
    const [a, b, c] = ids(3) as [string, string, string]
    ssm
      .on(ListCommandInvocationsCommand)
      .resolvesOnce({ CommandInvocations: [] }) // just after the send, SSM lists nothing yet
      .resolvesOnce({ CommandInvocations: [invocation(a, 'InProgress'), invocation(b, 'Pending')] })
      .resolves({
        CommandInvocations: [invocation(a, 'Success'), invocation(b, 'Failed', 'Failed', 11)],
      })
    const runner = new FleetCommandRunner(ssm as unknown as SSMClient, memoryLogger(), tuning)
    const outcomes = await runner.wait(new Map([['cmd-1', [a, b, c]]]), 600_000)
    const byId = Object.fromEntries(outcomes.map(o => [o.instanceId, o]))
    expect(byId[a]).toMatchObject({ verdict: 'success', exitCode: 0, outputHead: `output of ${a}` })
    expect(byId[b]).toMatchObject({
      verdict: 'failed',
      exitCode: 11,
      reason: 'the command exited with code 11',
    })
    // c never appeared: a failure once the grace period is over, not a success and not a hang.
    expect(byId[c]).toMatchObject({ verdict: 'failed', status: 'Missing' })
    expect(clock).toBeGreaterThanOrEqual(10_000)
    expect(runner.stats.maxListCallsPerRound).toBe(1)
  })

  it('pages through invocations: one call per page per round', async () => {
    const all = ids(50)
    ssm
      .on(ListCommandInvocationsCommand, { NextToken: undefined })
      .resolves({
        CommandInvocations: all.slice(0, 30).map(i => invocation(i, 'Success')),
        NextToken: 't2',
      })
      .on(ListCommandInvocationsCommand, { NextToken: 't2' })
      .resolves({ CommandInvocations: all.slice(30).map(i => invocation(i, 'Success')) })
    const runner = new FleetCommandRunner(ssm as unknown as SSMClient, memoryLogger(), tuning)
    const outcomes = await runner.wait(new Map([['cmd-1', all]]), 600_000)
    expect(outcomes.every(o => o.verdict === 'success')).toBe(true)
    expect(runner.stats).toMatchObject({ rounds: 1, listCalls: 2, maxListCallsPerRound: 2 })
  })

  it('gives up at the deadline with the status each instance was stuck in', async () => {
    const [a] = ids(1) as [string]
    ssm
      .on(ListCommandInvocationsCommand)
      .resolves({ CommandInvocations: [invocation(a, 'InProgress')] })
    const runner = new FleetCommandRunner(ssm as unknown as SSMClient, memoryLogger(), tuning)
    const deadline = runner.deadlineFor(command([a]), 0)
    expect(deadline).toBe(90_000)
    const [outcome] = await runner.wait(new Map([['cmd-1', [a]]]), deadline)
    expect(outcome).toMatchObject({ verdict: 'failed', status: 'InProgress' })
    expect(outcome?.reason).toMatch(/still InProgress when the deadline passed/)
    expect(clock).toBe(90_000)
  })

  it('lengthens the deadline for rolling waves', () => {
    const runner = new FleetCommandRunner(ssm as unknown as SSMClient, memoryLogger(), tuning)
    expect(runner.deadlineFor(command(ids(10), { maxConcurrency: '2' }), 0)).toBe(
      30_000 + 5 * 60_000,
    )
  })

  it('slows down instead of failing when SSM throttles, then finishes', async () => {
    const [a] = ids(1) as [string]
    ssm
      .on(ListCommandInvocationsCommand)
      .rejectsOnce(new ThrottlingException({ message: 'Rate exceeded', $metadata: {} }))
      .resolves({ CommandInvocations: [invocation(a, 'Success')] })
    const logger = memoryLogger()
    const runner = new FleetCommandRunner(ssm as unknown as SSMClient, logger, tuning)
    const [outcome] = await runner.wait(new Map([['cmd-1', [a]]]), 600_000)
    expect(outcome?.verdict).toBe('success')
    expect(runner.stats.throttledRounds).toBe(1)
    expect(clock).toBe(2000)
    expect(logger.lines.join('\n')).toMatch(/throttling ListCommandInvocations/)
  })

  it('cancels every command it sent', async () => {
    let n = 0
    ssm.on(SendCommandCommand).callsFake(() => ({ Command: { CommandId: `cmd-${++n}` } }))
    ssm.on(CancelCommandCommand).resolves({})
    const runner = new FleetCommandRunner(ssm as unknown as SSMClient, memoryLogger(), tuning)
    await runner.send(command(ids(60)))
    await runner.cancelAll()
    expect(
      ssm
        .commandCalls(CancelCommandCommand)
        .map(c => c.args[0].input.CommandId)
        .sort(),
    ).toEqual(['cmd-1', 'cmd-2'])
  })

  it('stops waiting when aborted', async () => {
    const [a] = ids(1) as [string]
    ssm
      .on(ListCommandInvocationsCommand)
      .resolves({ CommandInvocations: [invocation(a, 'InProgress')] })
    const runner = new FleetCommandRunner(ssm as unknown as SSMClient, memoryLogger(), tuning)
    let rounds = 0
    await expect(
      runner.wait(new Map([['cmd-1', [a]]]), 600_000, () => ++rounds > 3),
    ).rejects.toThrow(/aborted/)
  })
})
