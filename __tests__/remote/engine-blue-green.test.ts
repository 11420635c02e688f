// Strategy blue-green under real bash behind a real nginx: each release starts and is checked
// on the idle slot, the upstream file is switched (temp + rename) and nginx reloaded, the old
// slot stops after the drain. A client sending requests through nginx all along sees no error.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import {
  EXIT_CODES,
  engineVariables,
  renderCommands,
  wrapCommands,
  type RemoteOptions,
} from '../../packages/remote/src/index.js'
import { ConfigurationError } from '../../packages/kit/src/index.js'
import { Nginx, hookLog, hookLogLines, nginxForSlots, versionAt } from './support/nginx.js'
import {
  Site,
  currentRelease,
  expectOutcome,
  freePort,
  history,
  httpGet,
  releaseDirs,
  runCommands,
  withSite,
  type Variant,
} from './support/site.js'

let site: Site
let nginx: Nginx
let upstreamFile: string
let ports: [number, number]
/** What the hooks saw: one line "<slot> <port> <version>" per run of each. */
let starts: string
let stops: string
let checks: string

beforeAll(async () => {
  site = await Site.create()
  ;({ nginx, upstreamFile, ports } = await nginxForSlots(site.root))
  starts = join(site.root, 'starts')
  stops = join(site.root, 'stops')
  checks = join(site.root, 'checks')
})

afterAll(async () => {
  await nginx?.stop()
  await site?.close()
})

/** Options of a blue-green deploy of the sample service behind the test's nginx. */
function blueGreen(
  version: string,
  overrides: Partial<RemoteOptions> = {},
  variant: Variant = 'good',
): RemoteOptions {
  return site.options(
    version,
    {
      strategy: 'blue-green',
      slotPorts: ports,
      proxyUpstreamFile: upstreamFile,
      proxyReloadCommand: nginx.reloadCommand,
      // Covers nginx reloading (asynchronous after `nginx -s reload`) on a busy machine.
      drainTimeMs: 1000,
      restartCommand: `${hookLog(starts)} && ${site.service} restart`,
      stopCommand: `${hookLog(stops)} && ${site.service} stop`,
      healthCommand: hookLog(checks),
      healthUrl: 'http://127.0.0.1:{port}/health',
      ...overrides,
    },
    variant,
  )
}

const lines = hookLogLines

const slotUrl = (slot: 0 | 1) => `http://127.0.0.1:${ports[slot]}/`

/** Runs the engine while a client sends requests through the proxy; returns both. */
async function deployUnderLoad(options: RemoteOptions, on = site, proxy = nginx) {
  const load = proxy.traffic()
  const run = await on.deploy(options)
  return { run, seen: await load.stop() }
}

function slots(): string {
  return readFileSync(join(site.deployDir, '.deploy', 'slots'), 'utf8')
}

describe('blue-green behind nginx', () => {
  it('v1 then v2: v2 starts on the idle slot, nginx switches with no failed request, v1 stops after the drain', async () => {
    const first = await site.deploy(blueGreen('v1.0.0'))
    expectOutcome(first, 'deployed', EXIT_CODES.ok)
    expect(readFileSync(upstreamFile, 'utf8')).toMatch(
      new RegExp(`^server 127\\.0\\.0\\.1:${ports[0]};$`, 'm'),
    )
    expect(await nginx.serves('v1.0.0')).toBe('v1.0.0')

    const { run: second, seen } = await deployUnderLoad(blueGreen('v1.1.0'))
    expectOutcome(second, 'deployed', EXIT_CODES.ok)
    await nginx.expectServedBy(seen, 'v1.0.0', 'v1.1.0')
    expect(readFileSync(upstreamFile, 'utf8')).toMatch(
      new RegExp(`^server 127\\.0\\.0\\.1:${ports[1]};$`, 'm'),
    )
    // Started and checked on the green slot, the blue slot's v1 stopped after the drain.
    expect(lines(starts)).toEqual([`blue ${ports[0]} v1.0.0`, `green ${ports[1]} v1.1.0`])
    expect(lines(checks).at(-1)).toBe(`green ${ports[1]} v1.1.0`)
    expect(lines(stops).at(-1)).toBe(`blue ${ports[0]} v1.0.0`)
    expect(await httpGet(slotUrl(0))).toMatchObject({ status: 0 })
    expect(Object.keys(second.result?.phases ?? {})).toEqual(
      expect.arrayContaining(['restart', 'health', 'switch', 'drain', 'stop-old']),
    )
    const phases = second.result?.phases ?? {}
    const order = ['restart', 'health', 'switch', 'drain', 'stop-old'].map(name =>
      second.phases.indexOf(name),
    )
    expect([...order].sort((a, b) => a - b)).toEqual(order)
    expect(phases['drain']).toBeGreaterThanOrEqual(1000)
    expect(slots()).toBe(`live=green\nblue=\ngreen=${second.result?.release}\n`)
    expect(currentRelease(site)).toBe(second.result?.release)
  })

  it('a broken v3 fails on the idle slot: nginx serves v2 throughout, and the status is failed', async () => {
    const upstream = readFileSync(upstreamFile, 'utf8')
    const current = currentRelease(site)
    const { run, seen } = await deployUnderLoad(blueGreen('v1.2.0', {}, 'unhealthy'))
    expectOutcome(run, 'failed', EXIT_CODES.failed)
    expect(run.result?.reason).toMatch(/health check failed on the blue slot/)
    expect(run.phases).not.toContain('switch')
    await nginx.expectServedBy(seen, 'v1.1.0')
    expect(readFileSync(upstreamFile, 'utf8')).toBe(upstream)
    expect(currentRelease(site)).toBe(current)
    // The broken release was stopped on its slot again.
    expect(lines(stops).at(-1)).toBe(`blue ${ports[0]} v1.2.0`)
    expect(await httpGet(slotUrl(0))).toMatchObject({ status: 0 })
    expect(history(site).at(-1)).toMatchObject({ version: 'v1.2.0', status: 'bad' })
  })

  it('with keep-old-slot, a rollback switches back to the running old slot in well under a second, starting nothing', async () => {
    const kept = await site.deploy(blueGreen('v1.3.0', { keepOldSlot: true }))
    expectOutcome(kept, 'deployed', EXIT_CODES.ok)
    expect(kept.phases).not.toContain('drain')
    expect(await nginx.serves('v1.3.0')).toBe('v1.3.0')
    // v1.1.0 still runs on the green slot, without traffic.
    expect(await versionAt(slotUrl(1))).toBe('v1.1.0')

    const started = lines(starts).length
    const stopped = lines(stops).length
    const options = blueGreen('unused', { mode: 'rollback', keepOldSlot: true })
    delete options.artifactUri
    delete options.artifactSha256
    delete options.version
    const { run: back, seen } = await deployUnderLoad(options)
    expectOutcome(back, 'deployed', EXIT_CODES.ok)
    expect(back.result).toMatchObject({ version: 'v1.1.0', previousVersion: 'v1.3.0' })
    expect(back.phases).not.toContain('restart')
    expect(lines(starts)).toHaveLength(started)
    expect(lines(stops)).toHaveLength(stopped)
    // The engine's own timing of the switch: upstream file, reload, state.
    expect(back.result?.phases['switch']).toBeLessThan(1000)
    await nginx.expectServedBy(seen, 'v1.3.0', 'v1.1.0')
    expect(await versionAt(slotUrl(0))).toBe('v1.3.0')
    expect(slots()).toMatch(/^live=green\n/)
  })

  it('a failed reload puts the upstream file back and reloads: rolled back, the live slot never stopped', async () => {
    const upstream = readFileSync(upstreamFile, 'utf8')
    const flag = join(site.root, 'reload-failed-once')
    const reload = `if [ -e ${flag} ]; then ${nginx.reloadCommand}; else touch ${flag}; exit 7; fi`
    const { run, seen } = await deployUnderLoad(blueGreen('v1.4.0', { proxyReloadCommand: reload }))
    expectOutcome(run, 'rolled-back', EXIT_CODES.rolledBack)
    expect(run.result?.reason).toMatch(/proxy-reload-command failed with exit code 7/)
    // The slot kept by the last deploy was stopped before v1.4.0 started on it.
    const stopped = lines(stops).slice(-2)
    expect(stopped).toEqual([`blue ${ports[0]} v1.3.0`, `blue ${ports[0]} v1.4.0`])
    await nginx.expectServedBy(seen, 'v1.1.0')
    expect(readFileSync(upstreamFile, 'utf8')).toBe(upstream)
    expect(await versionAt(slotUrl(0))).toBeUndefined()
    expect(await versionAt(slotUrl(1))).toBe('v1.1.0')
  })

  it('refuses an upstream file that another user could redirect, before anything changes', async () => {
    const nobody = 65534
    const base = join(site.root, 'hostile')
    const dir = (name: string, mode = 0o755, owner = 0) => {
      const path = join(base, name)
      mkdirSync(path, { recursive: true })
      chmodSync(path, mode)
      chownSync(path, owner, owner)
      return path
    }
    const victim = join(dir('victim'), 'passwd')
    writeFileSync(victim, 'root:x:0:0\n')
    const link = join(dir('link'), 'app.conf')
    symlinkSync(victim, link)
    const foreign = join(dir('foreign'), 'app.conf')
    writeFileSync(foreign, 'server 127.0.0.1:1;\n')
    chownSync(foreign, nobody, nobody)
    const cases: [string, RegExp][] = [
      [link, /is a symlink: use a real file/],
      [join(dir('users-dir', 0o755, nobody), 'app.conf'), /is owned by uid 65534/],
      [join(dir('open-dir', 0o777), 'app.conf'), /group- or world-writable \(mode 777\)/],
      [
        join(dir('users-parent', 0o755, nobody), 'nginx', 'app.conf'),
        /users-parent is owned by uid 65534/,
      ],
      [foreign, /app\.conf is owned by uid 65534/],
    ]
    mkdirSync(join(base, 'users-parent', 'nginx'), { mode: 0o755 })
    const before = {
      current: currentRelease(site),
      releases: releaseDirs(site),
      upstream: readFileSync(upstreamFile, 'utf8'),
      slots: slots(),
      starts: lines(starts).length,
    }
    for (const [file, reason] of cases) {
      const run = await site.deploy(blueGreen('v1.5.0', { proxyUpstreamFile: file }))
      expectOutcome(run, 'failed', EXIT_CODES.failed)
      expect(run.result?.reason).toMatch(reason)
      expect(run.phases).not.toContain('fetch')
    }
    expect(readFileSync(victim, 'utf8')).toBe('root:x:0:0\n')
    expect(readFileSync(foreign, 'utf8')).toBe('server 127.0.0.1:1;\n')
    expect({
      current: currentRelease(site),
      releases: releaseDirs(site),
      upstream: readFileSync(upstreamFile, 'utf8'),
      slots: slots(),
      starts: lines(starts).length,
    }).toEqual(before)
    expect(await nginx.serves('v1.1.0')).toBe('v1.1.0')
  })

  it('a rollback to a release whose slot has stopped starts it on the idle slot, then switches', async () => {
    const options = blueGreen('v1.3.0', { mode: 'rollback', allowDowngrade: true })
    delete options.artifactUri
    delete options.artifactSha256
    const started = lines(starts).length
    const { run: back, seen } = await deployUnderLoad(options)
    expectOutcome(back, 'deployed', EXIT_CODES.ok)
    expect(back.result).toMatchObject({ version: 'v1.3.0', previousVersion: 'v1.1.0' })
    expect(back.phases).not.toContain('fetch')
    expect(lines(starts).slice(started)).toEqual([`blue ${ports[0]} v1.3.0`])
    await nginx.expectServedBy(seen, 'v1.1.0', 'v1.3.0')
    expect(lines(stops).at(-1)).toBe(`green ${ports[1]} v1.1.0`)
    expect(await versionAt(slotUrl(1))).toBeUndefined()
  })

  it('moving from in-place: the first blue-green deploy starts on blue, then the in-place service stops', () =>
    withSite(async other => {
      const dir = join(other.root, 'nginx')
      mkdirSync(join(dir, 'upstreams'), { recursive: true, mode: 0o755 })
      const file = join(dir, 'upstreams', 'app.conf')
      // nginx sends traffic to the in-place service's port, as before blue-green.
      const proxy = await Nginx.start(dir, file, other.port)
      try {
        expectOutcome(await other.deploy(other.options('v1.0.0')), 'deployed', EXIT_CODES.ok)
        expect(await proxy.serves('v1.0.0')).toBe('v1.0.0')
        const slotPorts = [await freePort(), await freePort()]
        const seenStops = join(other.root, 'stops')
        const { run, seen } = await deployUnderLoad(
          other.options('v2.0.0', {
            strategy: 'blue-green',
            slotPorts,
            proxyUpstreamFile: file,
            proxyReloadCommand: proxy.reloadCommand,
            drainTimeMs: 1000,
            stopCommand: `echo "[$DEPLOY_SLOT] $DEPLOY_VERSION" >> ${seenStops} && ${other.service} stop`,
            healthUrl: 'http://127.0.0.1:{port}/health',
          }),
          other,
          proxy,
        )
        expectOutcome(run, 'deployed', EXIT_CODES.ok)
        await proxy.expectServedBy(seen, 'v1.0.0', 'v2.0.0')
        expect(lines(seenStops)).toEqual(['[blue] v2.0.0', '[] v1.0.0'])
        expect(await httpGet(other.healthUrl)).toMatchObject({ status: 0 })
        expect(await versionAt(`http://127.0.0.1:${slotPorts[0]}/`)).toBe('v2.0.0')
      } finally {
        await proxy.stop()
      }
    }))
})

describe('blue-green options', () => {
  const valid = () => blueGreen('v9.0.0')

  function rejected(input: string, options: RemoteOptions, rule: RegExp): void {
    let error: unknown
    try {
      renderCommands(options)
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(ConfigurationError)
    expect((error as Error).message).toContain(`'${input}'`)
    expect((error as Error).message).toMatch(rule)
  }

  it('the renderer names the input, the value and the rule', () => {
    const ok = valid()
    expect(engineVariables(ok)).toMatchObject({
      EC2D_STRATEGY: 'blue-green',
      EC2D_SLOT_PORTS: `${ports[0]},${ports[1]}`,
      EC2D_DRAIN_TIME_MS: '1000',
      EC2D_KEEP_OLD_SLOT: 'false',
    })
    // In-place renders exactly what it did: no blue-green variable at all.
    const inPlace = engineVariables({ ...ok, strategy: 'in-place', healthUrl: site.healthUrl })
    expect(Object.keys(inPlace).filter(name => /STRATEGY|SLOT|PROXY|DRAIN/.test(name))).toEqual([])
    rejected('strategy', { ...ok, strategy: 'canary' as 'blue-green' }, /in-place.*blue-green/)
    for (const slotPorts of [[8081, 8081], [0, 8082], [8081, 70000], [8081], [8081.5, 8082]]) {
      rejected('slot-ports', { ...ok, slotPorts }, /two distinct ports from 1 to 65535/)
    }
    rejected('proxy-upstream-file', { ...ok, proxyUpstreamFile: '' }, /required/)
    rejected('restart-command', { ...ok, restartCommand: ' ' }, /required.*DEPLOY_PORT/)
    for (const file of ['nginx/app.conf', '/etc/nginx/../app.conf', '/etc/nginx/app.conf;id']) {
      rejected('proxy-upstream-file', { ...ok, proxyUpstreamFile: file }, /absolute, normalised/)
    }
    rejected('proxy-reload-command', { ...ok, proxyReloadCommand: 'nginx\u0007' }, /printable/)
    rejected('drain-time', { ...ok, drainTimeMs: -1 }, /whole number/)
    rejected('health-url', { ...ok, healthUrl: site.healthUrl }, /\{port\}/)
    rejected('health-url', { ...ok, strategy: 'in-place' }, /blue-green' only/)
    rejected('health-url', { ...ok, healthUrl: 'http://127.0.0.1/{port}' }, /http\(s\) URL/)
  })

  it("the engine refuses the blue-green values itself when the renderer's checks are bypassed", async () => {
    // Paths that do not exist: a value that slipped through would fail later, on another reason.
    const never = join(site.root, 'never')
    const variables = engineVariables({
      ...valid(),
      deployDir: join(never, 'app'),
      proxyUpstreamFile: join(never, 'upstream.conf'),
    })
    const bad: [string, string, string][] = [
      ['EC2D_STRATEGY', 'canary', 'strategy'],
      ['EC2D_SLOT_PORTS', '8081,8081', 'slot-ports'],
      ['EC2D_SLOT_PORTS', '8081,65536', 'slot-ports'],
      ['EC2D_SLOT_PORTS', '8081;id', 'slot-ports'],
      ['EC2D_PROXY_UPSTREAM_FILE', '/etc/../x', 'proxy-upstream-file'],
      ['EC2D_PROXY_UPSTREAM_FILE', 'x.conf', 'proxy-upstream-file'],
      ['EC2D_DRAIN_TIME_MS', '1; id', 'drain-time'],
      ['EC2D_KEEP_OLD_SLOT', 'yes', 'keep-old-slot'],
      ['EC2D_RESTART_COMMAND', '', 'restart-command'],
      ['EC2D_HEALTH_URL', 'http://127.0.0.1:8081/health', 'health-url'],
    ]
    for (const [name, value, option] of bad) {
      const run = await runCommands(wrapCommands({ ...variables, [name]: value }), site.root)
      expectOutcome(run, 'failed', EXIT_CODES.failed)
      expect(run.result?.reason).toContain(`option ${option} `)
    }
    const inPlace = { ...variables, EC2D_STRATEGY: 'in-place' }
    const run = await runCommands(wrapCommands(inPlace), site.root)
    expect(run.result?.reason).toMatch(/option health-url .*blue-green only/)
    expect(existsSync(never)).toBe(false)
  })
})
