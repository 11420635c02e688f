import { beforeEach, describe, expect, it } from '@jest/globals'
import {
  CancelCommandCommand,
  ListCommandInvocationsCommand,
  SSMClient,
  SendCommandCommand,
  type CommandInvocation,
} from '@aws-sdk/client-ssm'
import { mockClient } from 'aws-sdk-client-mock'
import { memoryLogger } from '../../packages/kit/src/index.js'
import {
  FleetCommands,
  chunk,
  concurrencyOf,
  deliveryTimeoutFor,
  type FleetCommand,
} from '../../packages/fleet/src/index.js'

// Unit tests of FleetCommands' bookkeeping with a mocked SSM and virtual time. The behaviour
// against SSM's real wire protocol is tested against the sandbox.
const ssm = mockClient(SSMClient)
let clock = 0
const tuning = {
  initialDelayMs: 1000,
  maxDelayMs: 5000,
  activeMaxDelayMs: 1500,
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

describe('FleetCommands', () => {
  it('sends ⌈N/50⌉ SendCommand calls with SSM rolling parameters', async () => {
    let n = 0
    ssm.on(SendCommandCommand).callsFake(() => ({ Command: { CommandId: `cmd-${++n}` } }))
    const commands = new FleetCommands(ssm as unknown as SSMClient, memoryLogger(), tuning)
    const byCommand = await commands.send(
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
    const commands = new FleetCommands(ssm as unknown as SSMClient, memoryLogger(), tuning)
    const outcomes = await commands.wait(new Map([['cmd-1', [a, b, c]]]), 600_000)
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
    expect(commands.stats.maxListCallsPerRound).toBe(1)
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
    const commands = new FleetCommands(ssm as unknown as SSMClient, memoryLogger(), tuning)
    const outcomes = await commands.wait(new Map([['cmd-1', all]]), 600_000)
    expect(outcomes.every(o => o.verdict === 'success')).toBe(true)
    expect(commands.stats).toMatchObject({ rounds: 1, listCalls: 2, maxListCallsPerRound: 2 })
  })

  it('gives up at the deadline with the status each instance was stuck in', async () => {
    const [a] = ids(1) as [string]
    ssm
      .on(ListCommandInvocationsCommand)
      .resolves({ CommandInvocations: [invocation(a, 'InProgress')] })
    const commands = new FleetCommands(ssm as unknown as SSMClient, memoryLogger(), tuning)
    const deadline = commands.deadlineFor(command([a]), 0)
    expect(deadline).toBe((30 + 60) * 1000)
    const [outcome] = await commands.wait(new Map([['cmd-1', [a]]]), deadline)
    expect(outcome).toMatchObject({ verdict: 'failed', status: 'InProgress' })
    expect(outcome?.reason).toMatch(/still InProgress when the deadline passed/)
    expect(clock).toBe(90_000)
  })

  it('gives SSM a delivery timeout that covers every rolling wave, and no more', () => {
    // 5 waves: 4 must finish before the last starts, whose agents get one execution timeout.
    expect(deliveryTimeoutFor(10, '2', 60)).toBe(4 * 60 + 60)
    expect(deliveryTimeoutFor(120, '25%', 60)).toBe(3 * 60 + 60)
    // One wave with timeout 2m: an offline agent is given up on after 2 minutes.
    expect(deliveryTimeoutFor(3, '100%', 120)).toBe(120)
    // SSM's bounds: at least 30 s, at most 30 days; the pick-up allowance is at most 10 minutes.
    expect(deliveryTimeoutFor(1, '1', 1)).toBe(30)
    expect(deliveryTimeoutFor(1, '1', 7200)).toBe(600)
    expect(deliveryTimeoutFor(50, '1', 86_400)).toBe(2_592_000)
  })

  it('slows down instead of failing when SSM throttles, then finishes', async () => {
    const [a] = ids(1) as [string]
    ssm
      .on(ListCommandInvocationsCommand)
      .rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }))
      .resolves({ CommandInvocations: [invocation(a, 'Success')] })
    const logger = memoryLogger()
    const commands = new FleetCommands(ssm as unknown as SSMClient, logger, tuning)
    const [outcome] = await commands.wait(new Map([['cmd-1', [a]]]), 600_000)
    expect(outcome?.verdict).toBe('success')
    expect(commands.stats.throttledRounds).toBe(1)
    expect(clock).toBe(2000)
    expect(logger.lines.join('\n')).toMatch(/throttling ListCommandInvocations/)
  })

  it('cancels every command it sent', async () => {
    let n = 0
    ssm.on(SendCommandCommand).callsFake(() => ({ Command: { CommandId: `cmd-${++n}` } }))
    ssm.on(CancelCommandCommand).resolves({})
    const commands = new FleetCommands(ssm as unknown as SSMClient, memoryLogger(), tuning)
    await commands.send(command(ids(60)))
    await commands.cancelAll()
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
    const commands = new FleetCommands(ssm as unknown as SSMClient, memoryLogger(), tuning)
    let rounds = 0
    await expect(
      commands.wait(new Map([['cmd-1', [a]]]), 600_000, () => ++rounds > 3),
    ).rejects.toThrow(/aborted/)
  })
})

describe('FleetCommands and throttled listings', () => {
  it('never judges an instance missing on the strength of a throttled listing', async () => {
    const [a] = ids(1) as [string]
    const throttle = () =>
      Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' })
    ssm
      .on(ListCommandInvocationsCommand)
      .rejectsOnce(throttle())
      .rejectsOnce(throttle())
      .rejectsOnce(throttle())
      .rejectsOnce(throttle())
      .resolves({ CommandInvocations: [invocation(a, 'Success')] })
    const commands = new FleetCommands(ssm as unknown as SSMClient, memoryLogger(), tuning)
    const [outcome] = await commands.wait(new Map([['cmd-1', [a]]]), 600_000)
    expect(clock).toBeGreaterThan(tuning.missingGraceMs)
    expect(outcome?.verdict).toBe('success')
  })
})

describe('FleetCommands poll pacing', () => {
  it('backs off to 5 s while waiting for delivery, but polls at most every 1.5 s while a host runs', async () => {
    const [a, b] = ids(2) as [string, string]
    const sleeps: number[] = []
    const pending = { CommandInvocations: [invocation(a, 'Pending'), invocation(b, 'Pending')] }
    const running = { CommandInvocations: [invocation(a, 'InProgress'), invocation(b, 'Pending')] }
    ssm
      .on(ListCommandInvocationsCommand)
      .resolvesOnce(pending)
      .resolvesOnce(pending)
      .resolvesOnce(pending)
      .resolvesOnce(pending)
      .resolvesOnce(pending)
      .resolvesOnce(running)
      .resolvesOnce(running)
      .resolvesOnce(running)
      .resolvesOnce(running)
      .resolves({ CommandInvocations: [invocation(a, 'Success'), invocation(b, 'Success')] })
    const commands = new FleetCommands(ssm as unknown as SSMClient, memoryLogger(), {
      ...tuning,
      sleep: async ms => {
        sleeps.push(ms)
        clock += ms
      },
    })
    await commands.wait(new Map([['cmd-1', [a, b]]]), 600_000)
    // Pending: 1 s (first sighting is progress), then ×1.5 up to 5 s.
    expect(sleeps.slice(0, 5)).toEqual([1000, 1500, 2250, 3375, 5000])
    // Running: reset on the change, then capped at 1.5 s.
    expect(sleeps.slice(5)).toEqual([1000, 1500, 1500, 1500])
  })
})
