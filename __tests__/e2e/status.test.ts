// The status action, bundled, as the runner runs it against the sandbox: four hosts deployed to
// v1 then v2 through the real engine (the bundled ssm-deploy), desired.json naming v2; then one
// host switched back to v1 by hand (drifted), one whose lock a deploy holds (locked), one whose
// agent went offline. status reports exactly that in `instances` and the job summary, and the
// hosts' trees are byte for byte what they were.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { S3Client } from '@aws-sdk/client-s3'
import type { SSMClient } from '@aws-sdk/client-ssm'
import { sandboxClients, startSandbox, type Sandbox } from '../../dev/aws-sandbox/src/index.js'
import { renderCommands } from '../../packages/remote/src/index.js'
import { engineScriptKey, writeDesiredRelease } from '../../packages/release-store/src/index.js'
import { Site, sampleEntries } from '../remote/support/site.js'
import { runOnHosts, webProdRecord } from '../remote/support/host-commands.js'
import { sandboxS3 } from '../sandbox/helpers.js'
import { fileTree } from '../support/file-tree.js'
import { runBundledAction, type ActionRun } from '../support/bundled-action.js'
import { renderSummaryHtml, tableRows as tableRowsOf } from '../report/render.js'

const ROOT = '/srv/ec2d-status-test'
const DEPLOY_DIR = `${ROOT}/app`
const BUCKET = 'status-artifacts'
const IDS = [
  'i-000000000000051a1',
  'i-000000000000051a2',
  'i-000000000000051a3',
  'i-000000000000051a4',
]
const [OK, DRIFTED, LOCKED, OFFLINE] = IDS as [string, string, string, string]
const TAGS = { DeployApp: 'web', DeployEnvironment: 'prod' }
const HOLDER =
  'run https://github.com/acme/web/actions/runs/99 version v3.0.0 started 2026-12-01T19:00:00Z pid 4242'

let sandbox: Sandbox
let site: Site
let s3: S3Client
let ssm: SSMClient
let holder: ChildProcess | undefined

const hostDir = (id: string) => join(sandbox.fleet.require(id).dir, 'root', ROOT)
const env = () => sandbox.env as unknown as Record<string, string>

beforeAll(async () => {
  site = await Site.create()
  sandbox = await startSandbox({
    instances: IDS.map((id, i) => ({ id, name: `web-${i + 1}`, tags: TAGS })),
    privateDirs: [ROOT],
    s3: { buckets: [BUCKET] },
    invocationVisibilityDelayMs: 0,
  })
  for (const id of IDS) mkdirSync(hostDir(id), { recursive: true })
  s3 = sandboxS3(sandbox)
  ssm = sandboxClients(sandbox).ssm
})
afterAll(async () => {
  // flock and its sleep: the whole group.
  if (holder?.pid) process.kill(-holder.pid, 'SIGKILL')
  s3?.destroy()
  ssm?.destroy()
  await sandbox?.close()
  await site?.close()
})

async function deploy(version: string): Promise<void> {
  const artifact = site.artifact(version, sampleEntries(version))
  const run = await runBundledAction('ssm-deploy', {
    env: env(),
    inputs: {
      'instance-ids': JSON.stringify(IDS),
      version,
      environment: 'prod',
      'app-name': 'web',
      'deploy-dir': DEPLOY_DIR,
      'artifact-uri': artifact.artifactUri,
      'artifact-sha256': artifact.artifactSha256,
      download: 'presigned',
      'max-concurrency': '100%',
      timeout: '2m',
    },
  })
  expect([run.exitCode, run.outputs.status]).toEqual([0, 'success'])
}

const tree = (id: string) => fileTree(hostDir(id))

function status(inputs: Record<string, string>): Promise<ActionRun> {
  return runBundledAction('status', {
    env: env(),
    inputs: {
      tags: 'DeployApp={app}\nDeployEnvironment={environment}',
      'app-name': 'web',
      environment: 'prod',
      'deploy-dir': DEPLOY_DIR,
      timeout: '30s',
      ...inputs,
    },
  })
}

const pageText = (markdown: string) => renderSummaryHtml(markdown).text
const tableRows = (markdown: string) => tableRowsOf(renderSummaryHtml(markdown).html)

type Entry = Record<string, unknown>
const byId = (run: ActionRun): Record<string, Entry> =>
  Object.fromEntries(
    (JSON.parse(run.outputs.instances ?? '[]') as Entry[]).map(e => [e['instance-id'], e]),
  )

describe('status on a fleet of four', () => {
  it('reports a drifted, a locked and an offline host, and changes nothing on any host', async () => {
    await deploy('v1.0.0')
    await deploy('v2.0.0')
    await writeDesiredRelease(s3, {
      bucket: BUCKET,
      previousEtag: null,
      desired: {
        record: {
          ...webProdRecord(BUCKET, 'v2.0.0', { sha256: 'b'.repeat(64), size: 10 }),
          time: '2026-12-01T18:00:00Z',
        },
        recordKey: 'web/prod/deployments/20261201T180000Z-v2.0.0.json',
        engine: { key: engineScriptKey('web', 'prod', 'e'.repeat(64)), sha256: 'e'.repeat(64) },
      },
    })
    // By hand, with the engine: the drifted host goes back to v1, still on disk.
    const [back] = await runOnHosts(
      sandbox,
      ssm,
      [DRIFTED],
      renderCommands({ mode: 'rollback', deployDir: DEPLOY_DIR, version: 'v1.0.0' }),
    )
    expect(back?.code).toBe(0)
    // A deploy holds the locked host's lock, its holder written inside as the engine writes it.
    const lock = join(hostDir(LOCKED), 'app/.deploy/lock')
    writeFileSync(lock, `${HOLDER.padEnd(399)}\n`)
    holder = spawn('flock', ['-o', lock, 'sleep', '300'], { stdio: 'ignore', detached: true })
    await new Promise(resolve => setTimeout(resolve, 300))
    sandbox.fleet.require(OFFLINE).setAgentOffline(true)

    const before = IDS.map(tree)
    const run = await status({ bucket: BUCKET })
    expect(IDS.map(tree)).toEqual(before)

    expect([run.exitCode, run.errors]).toEqual([0, []])
    expect(run.outputs).toMatchObject({
      count: '4',
      drifted: '1',
      offline: '1',
      'desired-version': 'v2.0.0',
    })
    const hosts = byId(run)
    expect(hosts[OK]).toMatchObject({
      name: 'web-1',
      state: 'ok',
      'live-version': 'v2.0.0',
      'rollback-versions': ['v1.0.0'],
      'last-deploy': { version: 'v2.0.0', status: 'good', mode: 'deploy' },
      lock: null,
      drift: false,
    })
    expect((hosts[OK]?.releases as Entry[]).map(r => [r.version, r.status])).toEqual([
      ['v1.0.0', 'good'],
      ['v2.0.0', 'good'],
    ])
    expect(hosts[DRIFTED]).toMatchObject({
      state: 'drifted',
      'live-version': 'v1.0.0',
      'rollback-versions': ['v2.0.0'],
      'last-deploy': { version: 'v1.0.0', status: 'good', mode: 'rollback' },
      drift: true,
      reason: 'runs v1.0.0, desired is v2.0.0',
    })
    expect(hosts[LOCKED]).toMatchObject({
      state: 'locked',
      'live-version': 'v2.0.0',
      lock: { holder: HOLDER, since: '2026-12-01T19:00:00Z' },
      drift: false,
    })
    expect(hosts[OFFLINE]).toMatchObject({
      state: 'offline',
      'ping-status': 'ConnectionLost',
      'live-version': '',
      drift: null,
    })
    // The offline host was never sent the probe; the three others were, in one call.
    const sent = sandbox.ssm.allCommands().filter(c => c.comment.includes('status'))
    expect(sent.map(c => [...c.requestedInstanceIds].sort())).toEqual([[OK, DRIFTED, LOCKED]])

    const page = pageText(run.summary)
    expect(page).toContain('Status of prod: 4 instance(s), 1 drifted, 1 locked, 1 offline')
    expect(page).toContain('Desired version (desired.json): v2.0.0')
    const rows = tableRows(run.summary).map(cells => cells.slice(0, 4).concat(cells[5] ?? ''))
    expect(rows).toEqual([
      ['Instance', 'State', 'Live', 'Can roll back to', 'Lock'],
      [`${OK} (web-1)`, '✅ ok', 'v2.0.0', 'v1.0.0', '—'],
      [`${DRIFTED} (web-2)`, '⚠️ drifted: runs v1.0.0, desired is v2.0.0', 'v1.0.0', 'v2.0.0', '—'],
      [
        `${LOCKED} (web-3)`,
        '🔒 locked: a deploy holds the lock since 2026-12-01T19:00:00Z',
        'v2.0.0',
        'v1.0.0',
        `${HOLDER} since 2026-12-01T19:00:00Z`,
      ],
      [
        `${OFFLINE} (web-4)`,
        '📴 offline: SSM ping status ConnectionLost (is the agent running and can it reach SSM?)',
        '—',
        '—',
        '—',
      ],
    ])
    expect(tableRows(run.summary)[2]?.[4]).toMatch(/^v1\.0\.0 good \(rollback\) at 20\d\d-/)
  })

  it('fails with fail-on-drift, after reporting; without a bucket it judges no drift', async () => {
    const failing = await status({ bucket: BUCKET, 'fail-on-drift': 'true' })
    expect(failing.exitCode).toBe(1)
    expect(failing.outputs.drifted).toBe('1')
    expect(failing.errors.join('\n')).toMatch(
      /2 of 4 host\(s\).*i-000000000000051a2 drifted.*i-000000000000051a4 offline/,
    )

    const plain = await status({})
    expect(plain.exitCode).toBe(0)
    expect(plain.outputs).toMatchObject({ drifted: '0', 'desired-version': '' })
    expect(byId(plain)[DRIFTED]).toMatchObject({ state: 'ok', drift: null })
    expect(pageText(plain.summary)).toContain("No desired version (input 'bucket' is empty)")
  })

  it('reports a fleet whose agents are all offline, and fails on none of them', async () => {
    for (const id of IDS) sandbox.fleet.require(id).setAgentOffline(true)
    try {
      const run = await status({})
      expect([run.exitCode, run.errors]).toEqual([0, []])
      expect(run.outputs).toMatchObject({ count: '4', offline: '4' })
      expect(Object.values(byId(run)).map(h => h.state)).toEqual(IDS.map(() => 'offline'))
    } finally {
      for (const id of IDS.slice(0, 3)) sandbox.fleet.require(id).setAgentOffline(false)
    }
  })
})
