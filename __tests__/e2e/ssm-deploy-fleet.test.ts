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
    // max-concurrency 1: the hosts ran one after another, never together.
    const invocations = sandbox.ssm.command(run.outputs['command-id'] ?? '')?.invocations ?? []
    const spans = invocations
      .map(i => [i.startedAt?.getTime() ?? 0, i.endedAt?.getTime() ?? 0] as const)
      .sort((a, b) => a[0] - b[0])
    for (let i = 1; i < spans.length; i++)
      expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1])
  })

  it('stops at the first failed health gate: that host rolls back, the rest keep their release', async () => {
    sandbox.instances[1]!.env.BREAK_VERSION = 'v1.1.0'
    try {
      const run = await runBundledAction('ssm-deploy', { inputs: inputs('v1.1.0'), env: env() })
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
      expect(String(byId[IDS[2]!]?.reason)).toContain("'max-errors' was reached")
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

  it('is rolled-back when the first host rolls back and SSM touches no other (max-errors 0)', async () => {
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
})
