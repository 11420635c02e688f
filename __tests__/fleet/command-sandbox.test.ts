import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import type { SSMClient } from '@aws-sdk/client-ssm'
import { memoryLogger } from '../../packages/kit/src/index.js'
import { FleetCommands, type FleetCommand } from '../../packages/fleet/src/index.js'
import { sandboxClients, startSandbox, type Sandbox } from '../../dev/aws-sandbox/src/index.js'

// FleetCommands against the sandbox's SSM wire protocol, with commands really run under sh.
let sandbox: Sandbox
let ssm: SSMClient
const ID = {
  a: 'i-00000000000000a01',
  b: 'i-00000000000000a02',
  c: 'i-00000000000000a03',
  offline: 'i-00000000000000b01',
  dies: 'i-00000000000000b02',
}
const fast = {
  initialDelayMs: 100,
  maxDelayMs: 300,
  activeMaxDelayMs: 200,
  missingGraceMs: 3000,
  deadlineSlackMs: 2000,
}

beforeAll(async () => {
  sandbox = await startSandbox({
    instances: [
      { id: ID.a, name: 'a' },
      { id: ID.b, name: 'b', env: { FAIL_HERE: '1' } },
      { id: ID.c, name: 'c' },
      { id: ID.offline, name: 'offline', faults: { agentOffline: true } },
      { id: ID.dies, name: 'dies', faults: { dieAfterMs: 300 } },
    ],
    invocationVisibilityDelayMs: 500,
    // Commands expire after 4 s here instead of TimeoutSeconds + executionTimeout, so a host
    // that died under a command is given up on quickly.
    deliveryTimeoutMs: 4000,
  })
  ssm = sandboxClients(sandbox, 3).ssm
})
afterAll(async () => sandbox?.close())

const command = (
  instanceIds: string[],
  commands: string[],
  extra: Partial<FleetCommand> = {},
): FleetCommand => ({
  instanceIds,
  commands,
  executionTimeoutSeconds: 30,
  deliveryTimeoutSeconds: 30,
  maxConcurrency: '50',
  maxErrors: '50',
  ...extra,
})

async function run(cmd: FleetCommand, aborted?: () => boolean) {
  const commands = new FleetCommands(ssm, memoryLogger(), fast)
  const byCommand = await commands.send(cmd)
  const outcomes = await commands.wait(byCommand, commands.deadlineFor(cmd, Date.now()), aborted)
  return { commands, byId: Object.fromEntries(outcomes.map(o => [o.instanceId, o])) }
}

describe('FleetCommands against the sandbox', () => {
  it('judges each instance on its own, through the invisibility window after a send', async () => {
    const { byId, commands } = await run(
      command(
        [ID.a, ID.b, ID.c, ID.offline],
        ['echo "hello from $(hostname)"', 'if [ -n "$FAIL_HERE" ]; then exit 7; fi'],
      ),
    )
    expect(byId[ID.a]).toMatchObject({ verdict: 'success', exitCode: 0, status: 'Success' })
    expect(byId[ID.a]?.outputHead).toContain('hello from')
    expect(byId[ID.c]?.verdict).toBe('success')
    expect(byId[ID.b]).toMatchObject({
      verdict: 'failed',
      exitCode: 7,
      reason: 'the command exited with code 7',
    })
    expect(byId[ID.offline]).toMatchObject({ verdict: 'failed', statusDetails: 'Undeliverable' })
    expect(commands.stats.sendCalls).toBe(1)
    expect(commands.stats.maxListCallsPerRound).toBe(1)
  })

  it('fails an instance that dies mid-command', async () => {
    const { byId } = await run(command([ID.dies], ['sleep 5']))
    expect(byId[ID.dies]).toMatchObject({
      verdict: 'failed',
      status: 'TimedOut',
      statusDetails: 'Delivery Timed Out',
    })
  })

  it('reports an execution timeout', async () => {
    const { byId } = await run(command([ID.a], ['sleep 10'], { executionTimeoutSeconds: 1 }))
    expect(byId[ID.a]).toMatchObject({ verdict: 'failed', statusDetails: 'Execution Timed Out' })
  })

  it('keeps polling through throttling bursts', async () => {
    sandbox.faults.resetCounters()
    sandbox.faults.throttleNext(6, { operations: ['ListCommandInvocations'] })
    const { byId } = await run(command([ID.a, ID.c], ['true']))
    expect(byId[ID.a]?.verdict).toBe('success')
    expect(byId[ID.c]?.verdict).toBe('success')
    expect(sandbox.faults.throttled.ListCommandInvocations).toBe(6)
    sandbox.faults.clear()
  })

  it('cancels what it sent', async () => {
    const commands = new FleetCommands(ssm, memoryLogger(), fast)
    const cmd = command([ID.a], ['sleep 20'])
    const byCommand = await commands.send(cmd)
    let rounds = 0
    await expect(
      commands.wait(byCommand, commands.deadlineFor(cmd, Date.now()), () => ++rounds > 5),
    ).rejects.toThrow(/aborted/)
    await commands.cancelAll()
    const after = await run(command([ID.c], ['true']))
    expect(after.byId[ID.c]?.verdict).toBe('success')
    const cancelled = await new FleetCommands(ssm, memoryLogger(), fast).wait(
      byCommand,
      Date.now() + 10_000,
    )
    expect(cancelled[0]).toMatchObject({ verdict: 'failed', status: 'Cancelled' })
  })

  it('fetches the fuller output of an invocation', async () => {
    const { byId, commands } = await run(command([ID.a], ['head -c 30000 /dev/zero | tr "\\0" x']))
    const output = await commands.output(byId[ID.a]!.commandId, ID.a)
    expect(byId[ID.a]?.outputHead.length).toBeLessThanOrEqual(2500)
    expect(output.stdout).toHaveLength(24_000)
    expect(output.stdoutTruncated).toBe(true)
  })
})
