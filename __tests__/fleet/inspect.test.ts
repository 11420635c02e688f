// inspectFleet against the sandbox's SSM: the hosts the probe cannot reach are offline, and a
// host whose output is not a well-formed status line (hostile or cut) is unreadable; a real
// host next to them is read. The probe goes out in one call to the reachable hosts only.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { SSMClient } from '@aws-sdk/client-ssm'
import { memoryLogger } from '../../packages/kit/src/index.js'
import { FleetCommands, inspectFleet, type FoundInstance } from '../../packages/fleet/src/index.js'
import { sandboxClients, startSandbox, type Sandbox } from '../../dev/aws-sandbox/src/index.js'

const ID = {
  empty: 'i-00000000000000c01',
  hostile: 'i-00000000000000c02',
  late: 'i-00000000000000c03',
  dies: 'i-00000000000000c04',
  skipped: 'i-00000000000000c05',
}
let sandbox: Sandbox
let ssm: SSMClient
let dir: string

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'inspect-'))
  sandbox = await startSandbox({
    instances: [
      { id: ID.empty, name: 'empty' },
      { id: ID.hostile, name: 'hostile', faults: { commandMode: 'fast' } },
      { id: ID.late, name: 'late', faults: { deliveryDelayMs: 60_000 } },
      { id: ID.dies, name: 'dies', faults: { dieAfterMs: 1 } },
    ],
    invocationVisibilityDelayMs: 0,
    deliveryTimeoutMs: 3000,
    // What a host could print: a forged line, cut short.
    fastHandler: () => ({ exitCode: 0, stdout: 'DEPLOY_STATUS {"current":"2026\u001b[2J' }),
  })
  ssm = sandboxClients(sandbox).ssm
})
afterAll(async () => {
  ssm?.destroy()
  await sandbox?.close()
  rmSync(dir, { recursive: true, force: true })
})

const found = (id: string, pingStatus = 'Online'): FoundInstance => ({
  id,
  name: '',
  privateIp: '',
  availabilityZone: '',
  state: 'running',
  pingStatus,
  agentVersion: '',
})

describe('inspectFleet', () => {
  it('judges unreachable hosts offline and malformed output unreadable', async () => {
    const commands = new FleetCommands(ssm, memoryLogger(), {
      initialDelayMs: 100,
      maxDelayMs: 300,
      activeMaxDelayMs: 200,
      deadlineSlackMs: 2000,
    })
    const hosts = await inspectFleet(
      commands,
      {
        instances: [ID.empty, ID.hostile, ID.late, ID.dies].map(id => found(id)),
        skipped: [found(ID.skipped, 'NotRegistered')],
      },
      { deployDir: join(dir, 'app'), desiredVersion: 'v2.0.0', timeoutSeconds: 5 },
      memoryLogger(),
    )
    const byId = Object.fromEntries(hosts.map(h => [h.instanceId, h]))
    expect(Object.keys(byId)).toEqual([ID.empty, ID.hostile, ID.late, ID.dies, ID.skipped])
    expect(byId[ID.empty]).toMatchObject({
      state: 'no-release',
      reason: 'no deploy dir',
      drift: true,
    })
    expect(byId[ID.hostile]).toMatchObject({
      state: 'unreadable',
      reason: 'the host printed no status line',
      liveVersion: '',
      drift: undefined,
    })
    for (const id of [ID.late, ID.dies]) {
      expect(byId[id]).toMatchObject({ state: 'offline', drift: undefined })
      expect(byId[id]?.reason).toMatch(/delivery timeout|did not pick the command up/)
    }
    expect(byId[ID.skipped]).toMatchObject({
      state: 'offline',
      reason: expect.stringMatching(/^not registered with SSM/),
    })
    expect(commands.stats.sendCalls).toBe(1)
    expect(sandbox.ssm.allCommands()[0]?.requestedInstanceIds).toEqual([
      ID.empty,
      ID.hostile,
      ID.late,
      ID.dies,
    ])
  })
})
