// The rollout in waves at scale: FleetDeploy against the sandbox's SSM over real HTTP, in its
// fast command mode (a stand-in engine answers instead of bash, see support/fast-engine.ts).
// What is checked comes from the sandbox's own record of each invocation (start and end).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import {
  sandboxClients,
  startSandbox,
  type FastCommandContext,
  type Sandbox,
} from '../../dev/aws-sandbox/src/index.js'
import { memoryLogger } from '../../packages/kit/src/index.js'
import {
  FleetCommands,
  FleetDeploy,
  type DeployReport,
  type FleetDeployOptions,
  type WaveGate,
} from '../../packages/fleet/src/index.js'
import { FastEngine } from '../support/fast-engine.js'

const FAST_POLLING = {
  initialDelayMs: 10,
  maxDelayMs: 40,
  activeMaxDelayMs: 20,
  missingGraceMs: 10_000,
}

let sandbox: Sandbox
let engine: FastEngine
let ids: string[]

beforeAll(async () => {
  sandbox = await startSandbox({
    instances: 500,
    commandMode: 'fast',
    invocationVisibilityDelayMs: 0,
    fastHandler: (context: FastCommandContext) => engine.handler(context),
  })
  ids = sandbox.instances.map(instance => instance.id)
})
afterAll(async () => {
  await sandbox?.close()
})

/** Every invocation the sandbox ran since `since`, with its instance and times. */
function invocationsSince(since: Date) {
  return sandbox.ssm
    .allCommands()
    .filter(command => command.requestedAt >= since)
    .flatMap(command =>
      command.invocations.map(invocation => ({
        commandId: command.id,
        instanceId: invocation.instance.id,
        status: invocation.status,
        startedAt: invocation.startedAt?.getTime(),
        endedAt: invocation.endedAt?.getTime(),
      })),
    )
}

async function deploy(
  fleet: readonly string[],
  options: Partial<FleetDeployOptions>,
  onCommands?: (commands: FleetCommands) => void,
): Promise<{ report: DeployReport; log: string[] }> {
  const logger = memoryLogger()
  const commands = new FleetCommands(sandboxClients(sandbox).ssm, logger, FAST_POLLING)
  onCommands?.(commands)
  const report = await new FleetDeploy(commands, logger).run(
    {
      instanceIds: fleet,
      remote: {
        deployDir: '/opt/app',
        version: 'v2.0.0',
        artifactUri: 's3://artifacts/v2.zip',
        artifactSha256: 'a'.repeat(64),
      },
      maxConcurrency: '1',
      maxErrors: '0',
      executionTimeoutSeconds: 60,
      onFailure: 'rollback',
      ...options,
    },
    async () => {},
  )
  return { report, log: logger.lines }
}

describe('a rollout in waves on 120 hosts', () => {
  it('with max-concurrency 1, never has two hosts in a deploy at once', async () => {
    const fleet = ids.slice(0, 120)
    engine = new FastEngine(fleet, 'v1.0.0')
    const since = new Date()
    const { report, log } = await deploy(fleet, { maxConcurrency: '1' })
    expect(report.status).toBe('success')
    expect(report.succeeded).toBe(120)
    const ran = invocationsSince(since)
    expect(ran).toHaveLength(120)
    const spans = ran
      .map(r => [r.startedAt as number, r.endedAt as number] as const)
      .sort((a, b) => a[0] - b[0])
    for (let i = 1; i < spans.length; i++)
      expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1])
    expect(report.waves).toHaveLength(120)
    expect(report.waves.every(wave => wave.outcome === 'passed')).toBe(true)
    expect(report.results.map(r => r.wave)).toEqual(
      [...report.results].map(r => fleet.indexOf(r.instanceId) + 1),
    )
    expect(log).toContain(`info: wave 1 of 120: 1 host(s): ${fleet[0]}`)
    expect(
      log.some(line => /^info: wave 120 of 120: 1 deployed, 0 failed, in \d+\.\d s$/.test(line)),
    ).toBe(true)
  })

  it('with max-errors 0, stops at host 60 and switches hosts 1–59 back (on-failure rollback)', async () => {
    const fleet = ids.slice(0, 120)
    const sixty = fleet[59] as string
    engine = new FastEngine(fleet, 'v1.0.0', id => id === sixty)
    const since = new Date()
    const { report } = await deploy(fleet, { maxConcurrency: '1', maxErrors: '0' })

    // No host after the 60th started, and the revert went to hosts 1–59 only.
    const ran = invocationsSince(since)
    const deployedTo = new Set(ran.map(r => r.instanceId))
    expect(fleet.slice(60).filter(id => deployedTo.has(id))).toEqual([])
    const sixtyEnded = ran.find(r => r.instanceId === sixty)?.endedAt ?? Infinity
    for (const id of fleet.slice(0, 59)) {
      const [deployed, reverted] = ran.filter(r => r.instanceId === id)
      expect(deployed!.endedAt!).toBeLessThanOrEqual(sixtyEnded)
      expect(reverted!.startedAt!).toBeGreaterThanOrEqual(sixtyEnded)
    }
    expect(ran).toHaveLength(60 + 59)

    // Every host ends on the previous release: the fleet is uniform again.
    expect(fleet.map(id => engine.current(id))).toEqual(fleet.map(() => 'v1.0.0'))
    expect(report.status).toBe('rolled-back')
    const byId = new Map(report.results.map(r => [r.instanceId, r]))
    for (const id of fleet.slice(0, 59)) {
      expect(byId.get(id)).toMatchObject({ status: 'rolled-back', rolledBack: true })
      expect(byId.get(id)?.reason).toContain('wave 60 of 120')
    }
    expect(byId.get(sixty)).toMatchObject({
      status: 'rolled-back',
      reason: 'health-command failed',
    })
    for (const id of fleet.slice(60)) expect(byId.get(id)?.status).toBe('untouched')
    expect(report).toMatchObject({ succeeded: 0, rolledBack: 60, untouched: 60, failed: 0 })
    expect(report.waves.slice(0, 59).every(wave => wave.outcome === 'passed')).toBe(true)
    expect(report.waves[59]).toMatchObject({ wave: 60, outcome: 'failed', failed: 1 })
    expect(report.waves.slice(60, 120).every(wave => wave.outcome === 'not-started')).toBe(true)
    expect(report.waves[120]).toMatchObject({ wave: 0, outcome: 'reverted', succeeded: 59 })
    expect(report.waves[120]?.instanceIds).toEqual(fleet.slice(0, 59))
  })

  it('with on-failure stop, leaves the deployed hosts as they are: partial', async () => {
    const fleet = ids.slice(0, 120)
    engine = new FastEngine(fleet, 'v1.0.0', id => id === fleet[2])
    const { report } = await deploy(fleet, {
      maxConcurrency: '10%',
      maxErrors: '0',
      onFailure: 'stop',
    })
    // Waves of 12: the first holds the failing host; its 11 others deploy, then the run stops.
    expect(report.status).toBe('partial')
    expect(report.succeeded).toBe(11)
    expect(fleet.slice(0, 12).filter(id => engine.current(id) === 'v2.0.0')).toHaveLength(11)
    expect(report.untouched).toBe(108)
    expect(report.waves.map(wave => wave.outcome).slice(0, 2)).toEqual(['failed', 'not-started'])
  })
})

describe('a rollout in waves on 500 hosts (1, 10%, 50%, 100%)', () => {
  it('sends each wave in ⌈wave/50⌉ calls and polls it in as many per round, one wave after the other', async () => {
    engine = new FastEngine(ids, 'v1.0.0')
    let commands: FleetCommands | undefined
    const seen: { size: number; sends: number; listsPerRound: number }[] = []
    let sendsBefore = 0
    const meter: WaveGate = {
      name: 'meter',
      async beforeWave() {
        sendsBefore = commands!.stats.sendCalls
        commands!.stats.maxListCallsPerRound = 0
        return new Map()
      },
      async afterWave(wave) {
        seen.push({
          size: wave.instanceIds.length,
          sends: commands!.stats.sendCalls - sendsBefore,
          listsPerRound: commands!.stats.maxListCallsPerRound,
        })
        return new Map()
      },
    }
    const since = new Date()
    const { report } = await deploy(
      ids,
      { waves: '1, 10%, 50%, 100%', maxConcurrency: '100%', gates: [meter] },
      made => (commands = made),
    )
    expect(report.status).toBe('success')
    expect(seen.map(s => s.size)).toEqual([1, 49, 200, 250])
    for (const wave of seen) {
      expect(wave.sends).toBe(Math.ceil(wave.size / 50))
      expect(wave.listsPerRound).toBeLessThanOrEqual(Math.ceil(wave.size / 50))
    }
    // Each wave started after the one before had ended everywhere.
    const ran = invocationsSince(since)
    const waveOf = new Map(report.results.map(r => [r.instanceId, r.wave]))
    for (let wave = 2; wave <= 4; wave++) {
      const firstStart = Math.min(
        ...ran.filter(r => waveOf.get(r.instanceId) === wave).map(r => r.startedAt!),
      )
      const lastEnd = Math.max(
        ...ran.filter(r => waveOf.get(r.instanceId) === wave - 1).map(r => r.endedAt!),
      )
      expect(firstStart).toBeGreaterThanOrEqual(lastEnd)
    }
  })
})

describe('gates around each wave', () => {
  const fleet = () => ids.slice(0, 6)
  /** A load balancer gate that fails one host before its wave. */
  const drainFails = (host: string): WaveGate => ({
    name: 'load balancer',
    async beforeWave(wave) {
      return new Map(wave.instanceIds.filter(id => id === host).map(id => [id, 'did not drain']))
    },
  })

  it('does not deploy a host a gate fails before its wave, and counts it against max-errors', async () => {
    engine = new FastEngine(fleet(), 'v1.0.0')
    const before = drainFails(fleet()[1]!)
    const since = new Date()
    const { report } = await deploy(fleet(), {
      waves: '2, 100%',
      maxConcurrency: '100%',
      maxErrors: '0',
      gates: [before],
    })
    // One failure is more than max-errors 0: the wave's other host does not start either.
    expect(invocationsSince(since)).toEqual([])
    const byId = new Map(report.results.map(r => [r.instanceId, r]))
    expect(byId.get(fleet()[1]!)).toMatchObject({
      status: 'failed-before-switch',
      reason: 'load balancer: did not drain',
      wave: 1,
    })
    expect(byId.get(fleet()[0]!)).toMatchObject({ status: 'untouched', wave: 1 })
    expect(report).toMatchObject({ status: 'failed', failed: 1, untouched: 5 })
    expect(report.waves.map(w => w.outcome)).toEqual(['failed', 'not-started'])
  })

  it('deploys the rest of the wave when a gate failure stays within max-errors', async () => {
    engine = new FastEngine(fleet(), 'v1.0.0')
    const before = drainFails(fleet()[1]!)
    const since = new Date()
    const { report } = await deploy(fleet(), {
      waves: '2, 100%',
      maxConcurrency: '100%',
      maxErrors: '1',
      gates: [before],
    })
    expect(
      invocationsSince(since)
        .map(r => r.instanceId)
        .sort(),
    ).toEqual(
      fleet()
        .filter(id => id !== fleet()[1])
        .sort(),
    )
    expect(report).toMatchObject({ status: 'partial', succeeded: 5, failed: 1 })
    expect(report.waves.map(w => w.outcome)).toEqual(['passed', 'passed'])
  })

  it('switches back a host a gate fails after its wave, and says when switching back fails', async () => {
    // The first host has no older release to go back to: its switch back fails.
    engine = new FastEngine(fleet(), 'v1.0.0')
    engine.hosts.set(fleet()[0]!, { releases: [] })
    const after: WaveGate = {
      name: 'bake',
      async afterWave(wave, serving) {
        if (wave.purpose !== 'deploy') return new Map()
        return new Map(
          serving.filter(id => id === fleet()[2]).map(id => [id, 'unhealthy after 5s']),
        )
      },
    }
    const seenWaves: string[] = []
    const recorder: WaveGate = {
      name: 'recorder',
      async beforeWave(wave) {
        seenWaves.push(`${wave.purpose} ${wave.number} of ${wave.of}: ${wave.instanceIds.length}`)
        return new Map()
      },
    }
    const { report, log } = await deploy(fleet(), {
      waves: '3, 100%',
      maxConcurrency: '100%',
      maxErrors: '0',
      gates: [recorder, after],
    })
    expect(seenWaves).toEqual(['deploy 1 of 2: 3', 'revert 3 of 3: 3'])
    const byId = new Map(report.results.map(r => [r.instanceId, r]))
    expect(byId.get(fleet()[2]!)).toMatchObject({ status: 'rolled-back', rolledBack: true })
    expect(byId.get(fleet()[2]!)?.reason).toMatch(
      /^bake: unhealthy after 5s; switched back to v1\.0\.0/,
    )
    expect(byId.get(fleet()[1]!)).toMatchObject({ status: 'rolled-back' })
    expect(byId.get(fleet()[0]!)?.status).toBe('failed')
    expect(byId.get(fleet()[0]!)?.reason).toContain('a human is needed')
    expect(report.revertFailed).toEqual([fleet()[0]])
    expect(report.waves.at(-1)).toMatchObject({
      wave: 0,
      outcome: 'failed',
      succeeded: 2,
      failed: 1,
    })
    expect(report.status).toBe('failed')
    expect(log.some(line => line.startsWith('error: revert: 2 switched back, 1 failed'))).toBe(true)
    expect([1, 2].map(i => engine.current(fleet()[i]!))).toEqual(['v1.0.0', 'v1.0.0'])
  })

  it('still reports, and switches back, what it deployed when SSM fails in a later wave', async () => {
    engine = new FastEngine(fleet(), 'v1.0.0')
    const outage: WaveGate = {
      name: 'outage',
      async afterWave(wave) {
        if (wave.number === 1) sandbox.faults.throttleNext(1, { operations: ['SendCommand'] })
        return new Map()
      },
    }
    const { report, log } = await deploy(fleet(), { maxConcurrency: '1', gates: [outage] })
    const byId = new Map(report.results.map(r => [r.instanceId, r]))
    expect(byId.get(fleet()[0]!)).toMatchObject({ status: 'rolled-back', wave: 1 })
    expect(byId.get(fleet()[1]!)).toMatchObject({ status: 'failed', wave: 2 })
    expect(byId.get(fleet()[1]!)?.reason).toMatch(/^the command failed: .*Rate exceeded/)
    expect(report).toMatchObject({ status: 'failed', untouched: 4 })
    expect(engine.current(fleet()[0]!)).toBe('v1.0.0')
    expect(log.some(line => line.startsWith('error: wave 2 of 6: '))).toBe(true)
  })

  it('starts no wave once cancelled, and leaves the hosts not started untouched', async () => {
    engine = new FastEngine(fleet(), 'v1.0.0')
    const logger = memoryLogger()
    const deployment = new FleetDeploy(
      new FleetCommands(sandboxClients(sandbox).ssm, logger, FAST_POLLING),
      logger,
    )
    const canceller: WaveGate = {
      name: 'cancel',
      async afterWave() {
        deployment.cancel()
        return new Map()
      },
    }
    const report = await deployment.run(
      {
        instanceIds: fleet(),
        remote: {
          deployDir: '/opt/app',
          version: 'v2.0.0',
          artifactUri: 's3://artifacts/v2.zip',
          artifactSha256: 'a'.repeat(64),
        },
        maxConcurrency: '2',
        maxErrors: '0',
        executionTimeoutSeconds: 60,
        onFailure: 'rollback',
        gates: [canceller],
      },
      async () => {},
    )
    expect(report.waves.map(w => w.outcome)).toEqual(['cancelled', 'not-started', 'not-started'])
    expect(report.results.filter(r => r.status === 'untouched')).toHaveLength(4)
    expect(report.results.find(r => r.status === 'untouched')?.reason).toContain('cancelled')
    // A cancelled run is not reverted: it stops.
    expect(
      fleet()
        .slice(0, 2)
        .map(id => engine.current(id)),
    ).toEqual(['v2.0.0', 'v2.0.0'])
  })
})
