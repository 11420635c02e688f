import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inPrivateMountNamespace } from '../../dev/aws-sandbox/src/index.js'
import { RUN_TYPESCRIPT, node24, repoRoot } from '../support/bundled-action.js'

// npm run demo, as a user runs it: it passes, shows what it promises, leaves nothing behind,
// and on a machine where it cannot run, says why in one line.
const DEMO = [...RUN_TYPESCRIPT, 'scripts/demo.ts']

let scratch: string
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'demo-test-'))
})
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

/** Runs `program args…` to its end; stdout and stderr together. */
function run(
  program: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; output: string }> {
  const child = spawn(program, args, {
    cwd: repoRoot,
    env: { ...process.env, NODE_OPTIONS: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.on('data', chunk => (output += String(chunk)))
  child.stderr.on('data', chunk => (output += String(chunk)))
  return new Promise(resolve => child.on('close', code => resolve({ code, output })))
}

/** Live processes whose environment, command line or working directory mention `path`. */
function processesMentioning(path: string): { pid: number; args: string }[] {
  const found: { pid: number; args: string }[] = []
  for (const entry of readdirSync('/proc').filter(name => /^[0-9]+$/.test(name))) {
    if (Number(entry) === process.pid) continue
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ')
      const environ = readFileSync(`/proc/${entry}/environ`, 'utf8')
      let cwd = ''
      try {
        cwd = readlinkSync(`/proc/${entry}/cwd`)
      } catch {
        // a zombie has none
      }
      if ([args, environ, cwd].some(text => text.includes(path)))
        found.push({ pid: Number(entry), args })
    } catch {
      // gone meanwhile
    }
  }
  return found
}

describe('npm run demo', () => {
  it('deploys v1 and v2, rolls back a broken v3 by itself, then rolls back to v1', async () => {
    // The demo runs with its own TMPDIR and, in a private mount namespace, an empty /opt of
    // this test's own, so whatever it leaves there is its own (other test runs share /opt).
    const root = join(scratch, 'leaks')
    const [temp, opt] = [join(root, 'tmp'), join(root, 'opt')]
    mkdirSync(temp, { recursive: true })
    mkdirSync(opt)
    let result: { code: number | null; output: string }
    let leftovers: { pid: number; args: string }[] = []
    try {
      result = await run(
        ...inPrivateMountNamespace('mount --bind "$0" /opt && exec "$@"', [opt, node24, ...DEMO]),
        { TMPDIR: temp },
      )
    } finally {
      leftovers = processesMentioning(root)
      for (const { pid } of leftovers) process.kill(pid, 'SIGKILL')
    }
    const { code, output } = result
    expect({ code, tail: output.slice(-3000) }).toMatchObject({ code: 0 })
    expect(output).toContain('demo passed: every expected outcome was observed')
    for (const stage of [
      '1. deploy v1: success',
      '2. deploy v2: success',
      '3. deploy broken v3: rolled-back',
      '4. roll back to v1: success',
    ]) {
      expect(output).toContain(stage)
    }
    // Each summary says how to roll back.
    expect(output).toContain(
      'gh workflow run deploy.yml --repo acme/hello --ref master -f environment=develop -f version=',
    )
    // Each heading is a sentence; the fourth run is a rollback through the version input.
    expect(output.match(/## \S+ (Deploy of|Rollback of) .*/g)?.map(h => h.split(' ')[2])).toEqual([
      'Deploy',
      'Deploy',
      'Deploy',
      'Rollback',
    ])
    expect(output).toMatch(/## ✅ Rollback of develop to v1\.0\.0-master-[0-9a-f]{7} succeeded/)
    // Nothing left behind: no process, no file in its TMPDIR, nothing new in /opt.
    expect(leftovers).toEqual([])
    expect(readdirSync(temp)).toEqual([])
    expect(readdirSync(opt)).toEqual([])
  }, 240_000)

  it('says in one line that it needs root', async () => {
    const { code, output } = await run('runuser', ['-u', 'nobody', '--', node24, ...DEMO])
    expect(output).toBe(
      'demo: cannot run: it needs root: each host gets a private /opt/hello through a mount namespace (try: sudo npm run demo)\n',
    )
    expect(code).toBe(1)
  })

  it('says in one line that it needs mount namespaces', async () => {
    // Root without CAP_SYS_ADMIN, as in a container that is not privileged.
    const { code, output } = await run('setpriv', ['--bounding-set=-sys_admin', node24, ...DEMO])
    expect(output).toMatch(
      /^demo: cannot run: this machine does not allow mount namespaces \(unshare --mount: .*Operation not permitted\); in a container, run it with --privileged\n$/,
    )
    expect(code).toBe(1)
  })

  it('names a missing tool and its Debian package in one line', async () => {
    // Every aws on PATH hidden under /dev/null (not executable) in a private mount namespace.
    const hide =
      'IFS=:; for d in $PATH; do [ -e "$d/aws" ] && mount --bind /dev/null "$d/aws"; done; unset IFS; exec "$@"'
    const { code, output } = await run(...inPrivateMountNamespace(hide, ['sh', node24, ...DEMO]))
    expect(output).toBe(
      'demo: cannot run: aws is not installed (the hosts download releases from S3 with the AWS CLI): apt-get install awscli\n',
    )
    expect(code).toBe(1)
  })
})
