// Strategy blue-green from the actions, bundled, as a workflow uses them: ssm-deploy and
// verify-health's rollback against the sandbox, whose host runs the real engine behind a real
// nginx, while a client sends requests through that nginx all along.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { startSandbox, type Sandbox } from '../../dev/aws-sandbox/src/index.js'
import { parseResultLine } from '../../packages/remote/src/index.js'
import {
  hookLog,
  hookLogLines,
  nginxForSlots,
  versionAt,
  type Answer,
  type SlotsBehindNginx,
} from '../remote/support/nginx.js'
import { Site } from '../remote/support/site.js'
import { runBundledAction, type ActionRun } from '../support/bundled-action.js'

let sandbox: Sandbox
let site: Site
/** The host's nginx, its upstream file and the two slots' ports. */
let proxy: SlotsBehindNginx
/** What the start and stop hooks saw: one line "<slot> <port> <version>" per run. */
let starts: string
let stops: string
const HOST = 'i-0000000000000b001'

beforeAll(async () => {
  site = await Site.create()
  proxy = await nginxForSlots(site.root, 'sample')
  starts = join(site.root, 'starts')
  stops = join(site.root, 'stops')
  sandbox = await startSandbox({ instances: [{ id: HOST, name: 'web-1' }] })
})
afterAll(async () => {
  await proxy?.nginx.stop()
  await sandbox?.close()
  await site?.close()
})

const env = () => sandbox.env as unknown as Record<string, string>
const lines = hookLogLines
const slotUrl = (slot: 0 | 1) => `http://127.0.0.1:${proxy.ports[slot]}/`
const slots = () => readFileSync(join(site.deployDir, '.deploy', 'slots'), 'utf8')

/** The engine's inputs that ssm-deploy and verify-health's rollback share, blue-green. */
function engineInputs(keepOldSlot: boolean): Record<string, string> {
  return {
    'instance-ids': JSON.stringify([HOST]),
    'app-name': 'sample',
    environment: 'develop',
    'deploy-dir': site.deployDir,
    'restart-command': `${hookLog(starts)} && ${site.service} restart`,
    'stop-command': `${hookLog(stops)} && ${site.service} stop`,
    'health-url': 'http://127.0.0.1:{port}/health',
    'health-retries': '4',
    'health-interval': '100ms',
    strategy: 'blue-green',
    'slot-ports': proxy.ports.join(','),
    'proxy-upstream-file': proxy.upstreamFile,
    'proxy-reload-command': proxy.nginx.reloadCommand,
    // Covers nginx's asynchronous reload on a busy machine.
    'drain-time': '1s',
    'keep-old-slot': String(keepOldSlot),
  }
}

function deployInputs(version: string, keepOldSlot = false): Record<string, string> {
  const artifact = site.artifact(version)
  return {
    ...engineInputs(keepOldSlot),
    version,
    'artifact-uri': artifact.artifactUri,
    'artifact-sha256': artifact.artifactSha256,
    download: 'presigned',
    timeout: '2m',
  }
}

/** Runs a bundled action while a client sends requests through nginx; returns both. */
async function underLoad(run: () => Promise<ActionRun>): Promise<[ActionRun, Answer[]]> {
  const load = proxy.nginx.traffic()
  const done = await run()
  return [done, await load.stop()]
}

const deploy = (inputs: Record<string, string>) =>
  runBundledAction('ssm-deploy', { inputs, env: env() })

const results = (json: string | undefined) => JSON.parse(json ?? '[]') as Record<string, unknown>[]

describe('blue-green from the bundled actions, behind nginx', () => {
  it('ssm-deploy: v1, then v2 under load: not one failed request, v2 serves, v1 stops after the drain', async () => {
    const first = await deploy(deployInputs('v1.0.0'))
    expect(first.errors).toEqual([])
    expect(first.outputs.status).toBe('success')
    expect(await proxy.nginx.serves('v1.0.0')).toBe('v1.0.0')

    const [second, seen] = await underLoad(() => deploy(deployInputs('v1.1.0')))
    expect(second.errors).toEqual([])
    expect(second.outputs).toMatchObject({ status: 'success', 'previous-version': 'v1.0.0' })
    expect(results(second.outputs.results)[0]).toMatchObject({
      status: 'success',
      version: 'v1.1.0',
    })
    await proxy.nginx.expectServedBy(seen, 'v1.0.0', 'v1.1.0')
    // Each release started and was checked on its own slot; the proxy followed.
    expect(lines(starts)).toEqual([
      `blue ${proxy.ports[0]} v1.0.0`,
      `green ${proxy.ports[1]} v1.1.0`,
    ])
    // stop-command clears each idle slot before a start, and stops the old slot after the drain.
    expect(lines(stops)).toEqual([
      `blue ${proxy.ports[0]} v1.0.0`,
      `green ${proxy.ports[1]} v1.1.0`,
      `blue ${proxy.ports[0]} v1.0.0`,
    ])
    expect(readFileSync(proxy.upstreamFile, 'utf8')).toMatch(
      new RegExp(`^server 127\\.0\\.0\\.1:${proxy.ports[1]};$`, 'm'),
    )
    expect(await versionAt(slotUrl(0))).toBeUndefined()
    expect(parseResultLine(second.stdout)?.phases['drain']).toBeGreaterThanOrEqual(1000)
  })

  it('verify-health: a failing check rolls back by switching nginx to the old slot, still running, starting nothing', async () => {
    const [kept, seenDeploy] = await underLoad(() => deploy(deployInputs('v1.2.0', true)))
    expect(kept.outputs).toMatchObject({ status: 'success', 'previous-version': 'v1.1.0' })
    await proxy.nginx.expectServedBy(seenDeploy, 'v1.1.0', 'v1.2.0')
    // keep-old-slot: v1.1.0 still runs on the green slot, without traffic.
    expect(await versionAt(slotUrl(1))).toBe('v1.1.0')

    const started = lines(starts)
    const stopped = lines(stops)
    const [verify, seen] = await underLoad(() =>
      runBundledAction('verify-health', {
        inputs: {
          // The release's own gate passed; the workflow's check asks for what v1.2.0 lacks.
          urls: proxy.nginx.url('/'),
          'expect-body': 'checkout: ok',
          retries: '2',
          interval: '50ms',
          'rollback-on-failure': 'true',
          'previous-version': kept.outputs['previous-version'] ?? '',
          ...engineInputs(true),
        },
        env: env(),
      }),
    )
    expect(verify.exitCode).toBe(1)
    expect(verify.outputs).toMatchObject({
      healthy: 'false',
      'rolled-back': 'true',
      'rollback-status': 'success',
    })
    expect(results(verify.outputs['rollback-results'])[0]).toMatchObject({
      'instance-id': HOST,
      status: 'success',
      'previous-version': 'v1.2.0',
      version: 'v1.1.0',
    })
    await proxy.nginx.expectServedBy(seen, 'v1.2.0', 'v1.1.0')
    // Switched, not restarted: no hook started or stopped a slot, and the engine's own record of
    // the run has no restart; its switch (upstream file, nginx -t, reload, state) is its timing.
    expect(lines(starts)).toEqual(started)
    expect(lines(stops)).toEqual(stopped)
    const engine = parseResultLine(verify.stdout)
    expect(engine).toMatchObject({ status: 'deployed', mode: 'rollback', version: 'v1.1.0' })
    expect(Object.keys(engine?.phases ?? {})).toContain('switch')
    expect(Object.keys(engine?.phases ?? {})).not.toContain('restart')
    expect(engine?.phases['switch']).toBeLessThan(1000)
    expect(slots()).toMatch(/^live=green\n/)
    // keep-old-slot again: v1.2.0 keeps running on blue, without traffic, until the next deploy.
    expect(await versionAt(slotUrl(0))).toBe('v1.2.0')
  })

  it('a bad slot-ports fails either action with the clear error, before anything is sent or changed', async () => {
    const before = {
      commands: sandbox.ssm.allCommands().length,
      upstream: readFileSync(proxy.upstreamFile, 'utf8'),
      slots: slots(),
      starts: lines(starts),
      stops: lines(stops),
    }
    const rule = 'use two distinct ports from 1 to 65535, blue first, such as 8081,8082'
    const bad = `${proxy.ports[0]},${proxy.ports[0]}`
    const deployRun = await deploy({ ...deployInputs('v1.3.0'), 'slot-ports': bad })
    expect(deployRun.exitCode).toBe(1)
    expect(deployRun.errors).toEqual([`input 'slot-ports': "${bad}" is not valid: ${rule}`])
    expect(deployRun.outputs).toMatchObject({ status: 'failed', results: '[]' })

    // verify-health reads its rollback's inputs first: it fails before checking anything.
    const verifyRun = await runBundledAction('verify-health', {
      inputs: {
        urls: proxy.nginx.url('/'),
        'rollback-on-failure': 'true',
        ...engineInputs(true),
        'slot-ports': '8081;reboot',
      },
      env: env(),
    })
    expect(verifyRun.exitCode).toBe(1)
    expect(verifyRun.errors).toEqual([`input 'slot-ports': "8081;reboot" is not valid: ${rule}`])
    expect(verifyRun.outputs).toMatchObject({
      healthy: 'false',
      attempts: '0',
      'rolled-back': 'false',
    })

    expect({
      commands: sandbox.ssm.allCommands().length,
      upstream: readFileSync(proxy.upstreamFile, 'utf8'),
      slots: slots(),
      starts: lines(starts),
      stops: lines(stops),
    }).toEqual(before)
    expect(await proxy.nginx.serves('v1.1.0')).toBe('v1.1.0')
  })
})
