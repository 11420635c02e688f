// The status probe under real bash (run by sh, as SSM runs it) on a deploy dir the real engine
// made: what it reports, that it writes nothing (every entry's mode, owner, size, mtime and
// ctime are unchanged), and that hostile state (history lines with $(…), ANSI escapes or a
// megabyte, a lock holder's text, a `current` pointing outside) is reported as checked data.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { spawn, spawnSync } from 'node:child_process'
import {
  appendFileSync,
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  rmSync,
  readFileSync,
  readlinkSync,
  renameSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { judgeHost } from '../../packages/fleet/src/index.js'
import { parseStatusLine, statusCommands, type HostState } from '../../packages/remote/src/index.js'
import { fileTree } from '../support/file-tree.js'
import { requireTool } from '../support/system-tools.js'
import { Site, runCommands } from './support/site.js'

let site: Site
const deployDir = () => site.deployDir
const state = (name: string) => join(site.deployDir, '.deploy', name)

const tree = () => fileTree(site.root)

/** Runs the probe as SSM would; checks it changed nothing and printed one short line. */
async function probe(): Promise<{ state: HostState | undefined; stdout: string }> {
  const before = tree()
  const run = await runCommands(statusCommands(deployDir()), site.root)
  // runCommands writes (and removes) its script file under the root: leave it out.
  expect(tree()).toEqual(before)
  expect([run.code, run.stderr]).toEqual([0, ''])
  expect(run.stdout.split('\n').filter(Boolean)).toHaveLength(1)
  return { state: parseStatusLine(run.stdout), stdout: run.stdout }
}

beforeAll(async () => {
  site = await Site.create()
  for (const version of ['v1.0.0', 'v2.0.0']) {
    const run = await site.deploy(site.options(version))
    expect(run.result?.status).toBe('deployed')
  }
})
afterAll(async () => {
  await site?.close()
})

describe('the status probe', () => {
  it('reports the live release, the releases on disk and the last deploy, and writes nothing', async () => {
    const { state } = await probe()
    expect(state).toMatchObject({
      deployDirPresent: true,
      current: expect.stringMatching(/^\d{8}T\d{9}Z-v2\.0\.0$/),
      releases: [
        { version: 'v1.0.0', status: 'good' },
        { version: 'v2.0.0', status: 'good' },
      ],
      lastDeploy: {
        version: 'v2.0.0',
        status: 'good',
        mode: 'deploy',
        run: 'https://github.com/acme/app/actions/runs/1',
      },
    })
    expect(state?.lock).toBeUndefined()
    expect(state?.problem).toBeUndefined()
    expect(judgeHost(state!, 'v2.0.0')).toEqual({ state: 'ok', reason: '', drift: false })
    expect(judgeHost(state!, 'v1.0.0')).toMatchObject({ state: 'drifted', drift: true })
  })

  it('reads a hostile history line as checked data: nothing runs, no escape reaches the output', async () => {
    const canary = join(site.root, 'pwned')
    const hostile =
      `{"time":"$(touch ${canary})","release":"\`touch ${canary}\`","version":"\u001b[31mv9\u001b[0m",` +
      `"run":"https://github.com/a/b/actions/runs/1;$(touch ${canary})","mode":"deploy\u0007","status":"good"}\n`
    const history = readFileSync(state('history.jsonl'))
    appendFileSync(state('history.jsonl'), hostile)
    try {
      const { state: read, stdout } = await probe()
      expect(existsSync(canary)).toBe(false)
      // eslint-disable-next-line no-control-regex
      expect(stdout).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/)
      expect(read?.lastDeploy).toEqual({
        time: '',
        release: '',
        version: '',
        run: '',
        mode: '',
        status: 'good',
      })
      // The releases keep the statuses of the lines that are valid.
      expect(read?.releases.map(r => r.status)).toEqual(['good', 'good'])
    } finally {
      writeFileSync(state('history.jsonl'), history)
    }
  })

  it('does not take a megabyte line in: it says how long it is', async () => {
    const history = readFileSync(state('history.jsonl'))
    appendFileSync(state('history.jsonl'), `{"version":"${'v'.repeat(1024 * 1024)}"}\n`)
    try {
      const { state: read, stdout } = await probe()
      expect(stdout.length).toBeLessThan(2000)
      expect(read?.lastDeploy?.problem).toBe(
        `the last line of the history is ${1024 * 1024 + 15} bytes long`,
      )
      expect(read?.current).toMatch(/-v2\.0\.0$/)
    } finally {
      writeFileSync(state('history.jsonl'), history)
    }
  })

  it('reports a current that points outside the releases, and never follows it', async () => {
    const current = join(deployDir(), 'current')
    const target = readlinkSync(current)
    unlinkSync(current)
    symlinkSync('/etc', current)
    try {
      const { state: read } = await probe()
      expect(read?.current).toBe('')
      expect(read?.currentProblem).toBe(
        "current points to '/etc', which is not a release of the engine",
      )
      expect(judgeHost(read!, 'v2.0.0')).toEqual({
        state: 'unreadable',
        reason: "current points to '/etc', which is not a release of the engine",
        drift: undefined,
      })
    } finally {
      unlinkSync(current)
      symlinkSync(target, current)
    }
  })

  it('reads nothing inside a .deploy that others could change', async () => {
    chmodSync(join(deployDir(), '.deploy'), 0o777)
    try {
      const { state: read } = await probe()
      expect(read?.problem).toBe(
        `${deployDir()}/.deploy is group- or world-writable (mode 777); not read`,
      )
      expect([read?.lastDeploy, read?.releases]).toEqual([undefined, []])
      expect(judgeHost(read!, 'v2.0.0').state).toBe('unreadable')
    } finally {
      chmodSync(join(deployDir(), '.deploy'), 0o700)
    }
  })

  it("names the lock's holder while a deploy holds it, as printable text only", async () => {
    const text = `run https://github.com/a/b/actions/runs/7 version v3 started 2026-12-01T19:00:00Z pid 42 \u001b[2J$(reboot)`
    writeFileSync(state('lock'), `${text.padEnd(399)}\n`)
    const holder = spawn('flock', ['-o', state('lock'), 'sleep', '60'], {
      stdio: 'ignore',
      detached: true,
    })
    try {
      await new Promise(resolve => setTimeout(resolve, 200))
      const { state: read } = await probe()
      expect(read?.lock).toEqual({
        holder:
          'run https://github.com/a/b/actions/runs/7 version v3 started 2026-12-01T19:00:00Z pid 42 [2J$(reboot)',
        since: '2026-12-01T19:00:00Z',
      })
      expect(judgeHost(read!, 'v2.0.0')).toMatchObject({
        state: 'locked',
        reason: 'a deploy holds the lock since 2026-12-01T19:00:00Z',
      })
    } finally {
      process.kill(-holder.pid!, 'SIGKILL')
      await new Promise(resolve => holder.once('exit', resolve))
    }
    // Released: the text stays in the file, but nobody holds the lock.
    expect((await probe()).state?.lock).toBeUndefined()
  })

  it("leaves out a running deploy's staging dir and links among the releases", async () => {
    const releases = join(deployDir(), 'releases')
    const [first] = readdirSync(releases)
    mkdirSync(join(releases, '20261231T235959999Z-v9.0.0.partial'))
    symlinkSync(join(releases, first!), join(releases, '20261231T235959998Z-v8.0.0'))
    try {
      const { state: read } = await probe()
      expect(read?.releases.map(r => r.version)).toEqual(['v1.0.0', 'v2.0.0'])
    } finally {
      rmSync(join(releases, '20261231T235959999Z-v9.0.0.partial'), { recursive: true })
      unlinkSync(join(releases, '20261231T235959998Z-v8.0.0'))
    }
  })

  it('reports the live slot of blue-green', async () => {
    writeFileSync(state('slots'), 'live=green\nblue=\ngreen=x\n')
    try {
      expect((await probe()).state?.liveSlot).toBe('green')
    } finally {
      unlinkSync(state('slots'))
    }
  })

  it('says when nothing was ever deployed', async () => {
    const moved = `${deployDir()}-away`
    renameSync(deployDir(), moved)
    try {
      const { state: read } = await probe()
      expect(read).toMatchObject({ deployDirPresent: false, current: '', releases: [] })
      expect(judgeHost(read!, 'v2.0.0')).toEqual({
        state: 'no-release',
        reason: 'no deploy dir',
        drift: true,
      })
    } finally {
      renameSync(moved, deployDir())
    }
  })
})

describe('the probe script', () => {
  const shellcheck = (args: string[]) => {
    const result = spawnSync(requireTool('shellcheck'), args, { encoding: 'utf8' })
    return [result.status, result.stdout + result.stderr]
  }

  it('is shellcheck-clean, and so is its entry as POSIX sh (what SSM runs)', () => {
    expect(shellcheck([join(import.meta.dirname, '../../packages/remote/status.sh')])).toEqual([
      0,
      '',
    ])
    const file = join(site.root, 'status-commands.sh')
    writeFileSync(file, `${statusCommands('/opt/web').join('\n')}\n`)
    try {
      expect(shellcheck(['-s', 'sh', file])).toEqual([0, ''])
    } finally {
      unlinkSync(file)
    }
  })

  it('refuses a deploy-dir the engine would refuse, naming the input', () => {
    expect(() => statusCommands("/opt/web'; reboot; '")).toThrow(/input 'deploy-dir'/)
    expect(() => statusCommands('/opt/../etc')).toThrow(/input 'deploy-dir'/)
  })
})

describe('parseStatusLine', () => {
  const line = (json: unknown) => `noise\nDEPLOY_STATUS ${JSON.stringify(json)}\n`

  it('finds no state without a well-formed line: the host is unreadable', () => {
    expect(parseStatusLine('')).toBeUndefined()
    expect(parseStatusLine('DEPLOY_STATUS {"current":')).toBeUndefined()
    expect(parseStatusLine('DEPLOY_STATUS ["current"]')).toBeUndefined()
    expect(parseStatusLine('DEPLOY_RESULT {"status":"deployed"}')).toBeUndefined()
  })

  it('keeps only what has the shape it must have', () => {
    const parsed = parseStatusLine(
      line({
        'deploy-dir': 'present',
        current: '../../etc',
        releases: [
          { release: '20261201T101010123Z-v1.0.0', status: 'good' },
          { release: 'x; reboot', status: 'good' },
          'not an object',
          { release: '20261201T111010123Z-v2.0.0', status: 7 },
        ],
        'last-deploy': { version: 'v'.repeat(5000), status: ['good'] },
        lock: { holder: 42 },
        'live-slot': 'purple',
      }),
    )
    expect(parsed).toEqual({
      deployDirPresent: true,
      current: '',
      releases: [
        { release: '20261201T101010123Z-v1.0.0', version: 'v1.0.0', status: 'good' },
        { release: '20261201T111010123Z-v2.0.0', version: 'v2.0.0', status: '' },
      ],
      lastDeploy: {
        time: '',
        release: '',
        version: 'v'.repeat(512),
        run: '',
        mode: '',
        status: '',
      },
      lock: { holder: '', since: '' },
    })
  })
})
