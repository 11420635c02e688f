import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startSandbox, type Sandbox } from '../../dev/aws-sandbox/src/index.js'
import { Site, sampleEntries } from '../remote/support/site.js'
import { runBundledAction } from '../support/bundled-action.js'

// ssm-deploy, bundled, on three sandbox instances that share one deploy-dir path as real hosts
// do (each has its own /srv/ec2d-fleet-test), each with its own service on its own port.
const ROOT = '/srv/ec2d-fleet-test'
const IDS = ['i-0000000000000f001', 'i-0000000000000f002', 'i-0000000000000f003']
let sandbox: Sandbox
const sites: Site[] = []

beforeAll(async () => {
  for (let i = 0; i < 3; i++) sites.push(await Site.create())
  sandbox = await startSandbox({
    instances: IDS.map((id, i) => ({ id, name: `web-${i + 1}` })),
    privateDirs: [ROOT],
  })
  sandbox.instances.forEach((instance, i) => {
    const own = join(instance.dir, 'root', ROOT)
    mkdirSync(own, { recursive: true })
    copyFileSync((sites[i] as Site).service, join(own, 'service.sh'))
    writeFileSync(join(own, 'port'), String((sites[i] as Site).port))
  })
})
afterAll(async () => {
  await sandbox?.close()
  for (const site of sites) await site.close()
})

const env = () => sandbox.env as unknown as Record<string, string>
// Runs in the release being checked: a host's BREAK_VERSION makes that one version unhealthy
// there, so its rollback (to another version) passes the same check.
const HEALTH = `[ "$(cat VERSION)" != "$BREAK_VERSION" ] && curl -fsS "http://127.0.0.1:$(cat ${ROOT}/port)/health"`
function inputs(version: string, extra: Record<string, string> = {}) {
  const artifact = (sites[0] as Site).artifact(version, sampleEntries(version))
  return {
    'instance-ids': JSON.stringify(IDS),
    version,
    'deploy-dir': `${ROOT}/app`,
    'artifact-uri': artifact.artifactUri,
    'artifact-sha256': artifact.artifactSha256,
    download: 'presigned',
    'restart-command': `${ROOT}/service.sh restart`,
    'health-command': HEALTH,
    'health-retries': '2',
    'health-interval': '100ms',
    timeout: '2m',
    ...extra,
  }
}
const results = (outputs: Record<string, string>) =>
  Object.fromEntries(
    (JSON.parse(outputs.results ?? '[]') as Record<string, unknown>[]).map(r => [
      r['instance-id'],
      r,
    ]),
  )
const serving = () => Promise.all(sites.map(site => site.servingVersion()))

describe('ssm-deploy on three instances', () => {
  it('deploys every host, one at a time by default', async () => {
    const run = await runBundledAction('ssm-deploy', { inputs: inputs('v1.0.0'), env: env() })
    expect(run.errors).toEqual([])
    expect(run.outputs).toMatchObject({ status: 'success', succeeded: '3' })
    expect(await serving()).toEqual(['v1.0.0', 'v1.0.0', 'v1.0.0'])
    // max-concurrency 1: the hosts ran one after another, never together, one wave each.
    const commandIds = JSON.parse(run.outputs['command-ids'] ?? '[]') as string[]
    expect(commandIds).toHaveLength(3)
    const invocations = commandIds.flatMap(id => sandbox.ssm.command(id)?.invocations ?? [])
    const spans = invocations
      .map(i => [i.startedAt?.getTime() ?? 0, i.endedAt?.getTime() ?? 0] as const)
      .sort((a, b) => a[0] - b[0])
    for (let i = 1; i < spans.length; i++)
      expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1])
  })

  it('with on-failure stop, stops at the first failed health gate: that host rolls back, the rest keep their release', async () => {
    sandbox.instances[1]!.env.BREAK_VERSION = 'v1.1.0'
    try {
      const run = await runBundledAction('ssm-deploy', {
        inputs: inputs('v1.1.0', { 'on-failure': 'stop' }),
        env: env(),
      })
      expect(run.exitCode).toBe(1)
      expect(run.outputs).toMatchObject({
        status: 'partial',
        succeeded: '1',
        'rolled-back': '1',
        failed: '0',
        untouched: '1',
        'previous-version': 'v1.0.0',
      })
      const byId = results(run.outputs)
      expect(byId[IDS[0]!]).toMatchObject({ status: 'success', version: 'v1.1.0' })
      expect(byId[IDS[1]!]).toMatchObject({ status: 'rolled-back', 'rolled-back': true })
      expect(byId[IDS[2]!]).toMatchObject({ status: 'untouched' })
      expect(String(byId[IDS[2]!]?.reason)).toContain(
        "the rollout stopped at wave 2 of 3, where failures (1) passed 'max-errors'",
      )
      expect(await serving()).toEqual(['v1.1.0', 'v1.0.0', 'v1.0.0'])
    } finally {
      delete sandbox.instances[1]!.env.BREAK_VERSION
    }
  })

  it('by default (on-failure rollback), switches the hosts it deployed back once it stops: no mixed fleet', async () => {
    sandbox.instances[1]!.env.BREAK_VERSION = 'v1.1.5'
    try {
      const run = await runBundledAction('ssm-deploy', { inputs: inputs('v1.1.5'), env: env() })
      expect(run.exitCode).toBe(1)
      expect(run.outputs).toMatchObject({
        status: 'rolled-back',
        succeeded: '0',
        'rolled-back': '2',
        failed: '0',
        untouched: '1',
      })
      const byId = results(run.outputs)
      expect(byId[IDS[0]!]).toMatchObject({
        status: 'rolled-back',
        'rolled-back': true,
        'previous-version': 'v1.1.0',
        version: 'v1.1.5',
        wave: 1,
      })
      expect(String(byId[IDS[0]!]?.reason)).toBe(
        'switched back to v1.1.0: wave 2 of 3 took the failures to 1, more than max-errors 0 (on-failure: rollback)',
      )
      expect(byId[IDS[1]!]).toMatchObject({ status: 'rolled-back', wave: 2 })
      expect(byId[IDS[2]!]).toMatchObject({ status: 'untouched', wave: 3 })
      expect(JSON.parse(run.outputs.waves ?? '')).toEqual([
        expect.objectContaining({ wave: 1, instances: [IDS[0]], succeeded: 1, outcome: 'passed' }),
        expect.objectContaining({ wave: 2, instances: [IDS[1]], failed: 1, outcome: 'failed' }),
        expect.objectContaining({ wave: 3, instances: [IDS[2]], outcome: 'not-started' }),
        expect.objectContaining({
          wave: 0,
          instances: [IDS[0]],
          succeeded: 1,
          outcome: 'reverted',
        }),
      ])
      expect(run.stdout).toMatch(/wave 1 of 3: 1 host\(s\): i-0000000000000f001/)
      expect(run.stdout).toMatch(
        /wave 2 of 3: 0 deployed, 1 failed \(more than max-errors 0 in all: the rollout stops\), in \d+\.\d s/,
      )
      expect(run.stdout).toMatch(/revert: 1 switched back, 0 failed, in \d+\.\d s/)
      expect(await serving()).toEqual(['v1.1.0', 'v1.0.0', 'v1.0.0'])
    } finally {
      delete sandbox.instances[1]!.env.BREAK_VERSION
    }
  })

  it('with max-errors 1 and all at once, judges every host on its own', async () => {
    sandbox.instances[2]!.env.BREAK_VERSION = 'v1.2.0'
    try {
      const run = await runBundledAction('ssm-deploy', {
        inputs: inputs('v1.2.0', { 'max-concurrency': '100%', 'max-errors': '1' }),
        env: env(),
      })
      expect(run.outputs).toMatchObject({ status: 'partial', succeeded: '2', 'rolled-back': '1' })
      expect(await serving()).toEqual(['v1.2.0', 'v1.2.0', 'v1.0.0'])
    } finally {
      delete sandbox.instances[2]!.env.BREAK_VERSION
    }
  })

  it('keeps going through throttling bursts', async () => {
    sandbox.faults.throttleNext(4, { operations: ['ListCommandInvocations'] })
    const run = await runBundledAction('ssm-deploy', {
      inputs: inputs('v1.3.0', { 'max-concurrency': '100%' }),
      env: env(),
    })
    expect(run.outputs.status).toBe('success')
    expect(sandbox.faults.throttled.ListCommandInvocations).toBeGreaterThanOrEqual(4)
    sandbox.faults.clear()
  })

  it('fails a host that dies mid-deploy, and the others still deploy', async () => {
    sandbox.instances[0]!.faults.dieAfterMs = 200
    // A host that died under a command is given up on when the command expires; shorten that
    // (normally delivery timeout + execution timeout) for this test only.
    sandbox.ssm.settings.deliveryTimeoutMs = 10_000
    try {
      const run = await runBundledAction('ssm-deploy', {
        inputs: inputs('v1.4.0', {
          'max-concurrency': '100%',
          'max-errors': '3',
          'before-switch': 'sleep 1',
        }),
        env: env(),
      })
      expect(run.outputs.status).toBe('partial')
      const byId = results(run.outputs)
      expect(byId[IDS[0]!]).toMatchObject({ status: 'failed' })
      expect(byId[IDS[1]!]).toMatchObject({ status: 'success' })
      expect(byId[IDS[2]!]).toMatchObject({ status: 'success' })
    } finally {
      delete sandbox.instances[0]!.faults.dieAfterMs
      sandbox.ssm.settings.deliveryTimeoutMs = undefined
      sandbox.instances[0]!.revive()
    }
  })

  it('reports an execution timeout on every host', async () => {
    const run = await runBundledAction('ssm-deploy', {
      inputs: inputs('v1.5.0', {
        'max-concurrency': '100%',
        'max-errors': '3',
        'before-switch': 'sleep 30',
        timeout: '2s',
      }),
      env: env(),
    })
    expect(run.outputs.status).toBe('failed')
    for (const id of IDS)
      expect(String(results(run.outputs)[id]?.reason)).toMatch(/execution timeout/)
    // Nothing was switched: the hosts still serve what they had.
    expect(await serving()).toEqual(['v1.3.0', 'v1.4.0', 'v1.4.0'])
  })

  it('is rolled-back when the first host rolls back and no other starts (max-errors 0)', async () => {
    sandbox.instances[0]!.env.BREAK_VERSION = 'v1.6.0'
    try {
      const run = await runBundledAction('ssm-deploy', { inputs: inputs('v1.6.0'), env: env() })
      expect(run.exitCode).toBe(1)
      expect(run.outputs).toMatchObject({
        status: 'rolled-back',
        succeeded: '0',
        'rolled-back': '1',
        failed: '0',
        untouched: '2',
      })
      const byId = results(run.outputs)
      expect(byId[IDS[0]!]).toMatchObject({ status: 'rolled-back', 'rolled-back': true })
      expect(byId[IDS[1]!]).toMatchObject({ status: 'untouched' })
      expect(byId[IDS[2]!]).toMatchObject({ status: 'untouched' })
      // The fleet serves what it served before, everywhere.
      expect(await serving()).toEqual(['v1.3.0', 'v1.4.0', 'v1.4.0'])
    } finally {
      delete sandbox.instances[0]!.env.BREAK_VERSION
    }
  })

  it('bakes each wave but the last, and switches back a wave that turns unhealthy meanwhile', async () => {
    const started = new Date()
    const pending = runBundledAction('ssm-deploy', {
      inputs: inputs('v1.7.0', { waves: '1, 100%', 'bake-time': '2s' }),
      env: env(),
    })
    // Once the first host's deploy is done (health gate passed), its release turns unhealthy.
    const firstDone = async () => {
      for (let tries = 0; tries < 1200; tries++) {
        const done = sandbox.ssm
          .allCommands()
          .filter(command => command.requestedAt >= started)
          .flatMap(command => command.invocations)
          .some(i => i.instance.id === IDS[0] && i.status === 'Success')
        if (done) return
        await new Promise(resolve => setTimeout(resolve, 50))
      }
      throw new Error('the first wave did not finish within a minute')
    }
    await firstDone()
    sandbox.instances[0]!.env.BREAK_VERSION = 'v1.7.0'
    try {
      const run = await pending
      expect(run.outputs).toMatchObject({
        status: 'rolled-back',
        'rolled-back': '1',
        untouched: '2',
      })
      const byId = results(run.outputs)
      expect(String(byId[IDS[0]!]?.reason)).toMatch(
        /^bake: unhealthy after 2s of bake time: the command exited with code 1; switched back to v1\.3\.0: wave 1 of 2/,
      )
      expect(
        JSON.parse(run.outputs.waves ?? '').map((w: { outcome: string }) => w.outcome),
      ).toEqual(['failed', 'not-started', 'reverted'])
      expect(run.stdout).toContain('wave 1 of 2: baking 2s, then checking 1 host(s)')
      expect(await serving()).toEqual(['v1.3.0', 'v1.4.0', 'v1.4.0'])
    } finally {
      delete sandbox.instances[0]!.env.BREAK_VERSION
    }
  })
})
