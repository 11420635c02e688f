// The engine runs as root and run-as is untrusted: each attack of an unprivileged local user
// (useradd + runuser) on the deploy dir is refused, and root never writes through what that
// user can change. Also: what the engine keeps private, and the warning when hooks run as root.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { EXIT_CODES, type RemoteOptions } from '../../packages/remote/src/index.js'
import { Site, sampleEntries, type ZipEntry } from './support/site.js'

const user = `ec2dr${process.pid % 100000}`
let uid = 0
let gid = 0
let site: Site

beforeAll(async () => {
  execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/bin/sh', user])
  uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }))
  gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }))
  site = await Site.create()
})

afterAll(async () => {
  await site?.close()
  execFileSync('userdel', [user])
})

/** Runs shell code as the unprivileged user; true when it exited 0. */
function asUser(script: string): boolean {
  return (
    spawnSync('runuser', ['-u', user, '--', 'sh', '-c', script], { stdio: 'ignore' }).status === 0
  )
}

/** A deploy dir of its own under the site, and options that deploy there without the service. */
function fresh(name: string, overrides: Partial<RemoteOptions> = {}, entries?: ZipEntry[]) {
  const deployDir = join(site.root, name, 'app')
  const version = 'v1.0.0'
  return {
    deployDir,
    options: {
      ...site.options(version, { deployDir, restartCommand: 'true', healthUrl: '', ...overrides }),
      ...(entries ? site.artifact(version, entries) : {}),
    },
  }
}

/** A root-owned file outside every deploy dir that no attack may change or remove. */
function victim(name: string): { path: string; intact: () => boolean } {
  const dir = join(site.root, 'outside')
  mkdirSync(dir, { recursive: true })
  const path = join(dir, name)
  writeFileSync(path, 'victim\n')
  return {
    path,
    intact: () => {
      try {
        return lstatSync(path).isFile() && readFileSync(path, 'utf8') === 'victim\n'
      } catch {
        return false
      }
    },
  }
}

describe('attacks of an unprivileged user', () => {
  it('cannot swap a release dir for a symlink while shared paths are linked', async () => {
    const target = victim('app.env')
    // Many shared paths before the one attacked: the link-shared phase takes a while.
    const padding = Array.from({ length: 60 }, (_, i) => `pad-${i}/`)
    const entries = [...sampleEntries('v1.0.0'), { name: 'config/app.env', content: 'A=1\n' }]
    const { deployDir, options } = fresh(
      'race',
      { runAs: user, sharedPaths: [...padding, 'config/app.env'] },
      entries,
    )
    const attempts: boolean[] = []
    const run = await site.deploy(options, {
      onPhase: phase => {
        if (phase !== 'link-shared') return
        const releases = join(deployDir, 'releases')
        const partial = readdirSync(releases).find(name => name.endsWith('.partial'))
        const dir = join(releases, partial ?? '?')
        attempts.push(
          asUser(
            `mv '${dir}/config' '${dir}/config.old' && ln -s '${join(site.root, 'outside')}' '${dir}/config'`,
          ),
        )
      },
    })
    expect(attempts).toEqual([false])
    expect(target.intact()).toBe(true)
    expect(run.result?.status).toBe('deployed')
    expect(readlinkTarget(join(deployDir, 'current', 'config', 'app.env'))).toBe(
      join(deployDir, 'shared', 'config', 'app.env'),
    )
  })

  it('cannot make root write through a planted .deploy/lock symlink (deploy dir owned by the user)', async () => {
    const target = victim('lock-target')
    const { deployDir, options } = fresh('planted-lock')
    mkdirSync(deployDir, { recursive: true })
    chownSync(deployDir, uid, gid)
    expect(
      asUser(`mkdir '${deployDir}/.deploy' && ln -s '${target.path}' '${deployDir}/.deploy/lock'`),
    ).toBe(true)
    const run = await site.deploy(options)
    expect(run.code).toBe(EXIT_CODES.failed)
    expect(run.result?.reason).toBe(
      `deploy-dir ${deployDir} is owned by uid ${uid}, not by uid 0 that runs the engine: chown it to root`,
    )
    expect(target.intact()).toBe(true)
    expect(existsSync(join(deployDir, 'releases'))).toBe(false)
  })

  it('cannot make root append to a planted history.jsonl symlink (group-writable deploy dir)', async () => {
    const target = victim('history-target')
    const { deployDir, options } = fresh('planted-history')
    mkdirSync(deployDir, { recursive: true })
    chownSync(deployDir, 0, gid)
    chmodSync(deployDir, 0o775)
    expect(
      asUser(
        `mkdir '${deployDir}/.deploy' && ln -s '${target.path}' '${deployDir}/.deploy/history.jsonl'`,
      ),
    ).toBe(true)
    const run = await site.deploy(options)
    expect(run.code).toBe(EXIT_CODES.failed)
    expect(run.result?.reason).toBe(
      `deploy-dir ${deployDir} is group- or world-writable (mode 775): chmod go-w it`,
    )
    expect(target.intact()).toBe(true)
  })

  it('cannot hold the deploy lock', async () => {
    const { deployDir, options } = fresh('lock-holder')
    expect((await site.deploy(options)).result?.status).toBe('deployed')
    const lock = join(deployDir, '.deploy', 'lock')
    const holder = spawn('runuser', ['-u', user, '--', 'flock', lock, 'sleep', '30'], {
      stdio: 'ignore',
      detached: true,
    })
    const exited = new Promise<number | null>(resolve => holder.on('exit', code => resolve(code)))
    try {
      await new Promise(resolve => setTimeout(resolve, 300))
      const run = await site.deploy({ ...options, version: 'v1.0.1', lockTimeoutMs: 1000 })
      expect(run.result?.status).toBe('deployed')
      // The user's flock could not even open the lock: it gave up at once.
      const running = new Promise(resolve => setTimeout(() => resolve('running'), 10))
      expect(await Promise.race([exited, running])).not.toBe('running')
    } finally {
      // The whole group: runuser, and flock and sleep if the user did get the lock.
      try {
        process.kill(-(holder.pid as number), 'SIGKILL')
      } catch {
        // already gone: the user's flock could not open the lock
      }
    }
  })

  it('refuses a deploy-dir, .deploy, releases or shared that is a symlink, naming it', async () => {
    for (const part of ['', '.deploy', 'releases', 'shared']) {
      const { deployDir, options } = fresh(`symlinked-${part || 'root'}`)
      const elsewhere = join(site.root, `elsewhere-${part || 'root'}`)
      mkdirSync(elsewhere, { recursive: true, mode: 0o755 })
      mkdirSync(part ? deployDir : join(deployDir, '..'), { recursive: true })
      symlinkSync(elsewhere, part ? join(deployDir, part) : deployDir)
      const run = await site.deploy(options)
      const label = part || 'deploy-dir'
      expect(run.code).toBe(EXIT_CODES.failed)
      expect(run.result?.reason).toBe(
        `${label} ${part ? join(deployDir, part) : deployDir} is a symlink: use a real directory`,
      )
      expect(readdirSync(elsewhere)).toEqual([])
    }
  })

  it('refuses an archive symlink whose name starts with spaces before extracting anything', async () => {
    const entries: ZipEntry[] = [
      ...sampleEntries('v1.0.0'),
      { name: '  evil', link: '/etc' },
      { name: 'evil', content: 'harmless\n' },
    ]
    const { options } = fresh('spaced-link', {}, entries)
    const run = await site.deploy(options)
    expect(run.code).toBe(EXIT_CODES.failed)
    expect(run.result?.reason).toBe('archive refused: symlink "  evil" points to an absolute path')
    // Refused by the listing check: no release id was ever made.
    expect(run.result?.release).toBe('')
  })
})

function readlinkTarget(path: string): string {
  return execFileSync('readlink', [path], { encoding: 'utf8' }).trim()
}

function mode(path: string): string {
  return (lstatSync(path).mode & 0o7777).toString(8)
}

describe('what the engine keeps private', () => {
  it('seeds shared files 0600 in 0700 dirs for run-as; .deploy, the lock, the history and logs are root-only', async () => {
    const entries = [
      ...sampleEntries('v1.0.0'),
      { name: 'certs/tls.key', content: 'KEY\n', mode: 0o644 },
      { name: 'certs/sub/ca.pem', content: 'CA\n', mode: 0o644 },
    ]
    const { deployDir, options } = fresh(
      'private',
      { runAs: user, sharedPaths: ['.env', 'certs/', 'logs/'] },
      entries,
    )
    const run = await site.deploy(options)
    expect(run.result?.status).toBe('deployed')
    const shared = join(deployDir, 'shared')
    const owned = (path: string) => `${mode(path)} ${lstatSync(path).uid}`
    expect(owned(join(shared, '.env'))).toBe(`600 ${uid}`)
    expect(owned(join(shared, 'certs'))).toBe(`700 ${uid}`)
    expect(owned(join(shared, 'certs', 'tls.key'))).toBe(`600 ${uid}`)
    expect(owned(join(shared, 'certs', 'sub'))).toBe(`700 ${uid}`)
    expect(owned(join(shared, 'certs', 'sub', 'ca.pem'))).toBe(`600 ${uid}`)
    expect(owned(join(shared, 'logs'))).toBe(`700 ${uid}`)
    // run-as reads them through the release's links; another user could not.
    expect(
      asUser(`cat '${deployDir}/current/.env' '${deployDir}/current/certs/tls.key' >/dev/null`),
    ).toBe(true)
    const state = join(deployDir, '.deploy')
    expect(owned(state)).toBe('700 0')
    expect(mode(join(state, 'lock'))).toBe('600')
    expect(mode(join(state, 'history.jsonl'))).toBe('600')
    for (const log of readdirSync(join(state, 'logs')))
      expect(mode(join(state, 'logs', log))).toBe('600')
    expect(asUser(`ls '${state}'`)).toBe(false)
    // The release itself stays readable, and owned by run-as.
    expect(owned(join(deployDir, 'current', 'VERSION'))).toBe(`644 ${uid}`)
    expect(mode(join(deployDir, 'releases'))).toBe('755')
    expect(mode(join(deployDir, 'shared'))).toBe('755')
  })

  it('makes an old 0755 .deploy private on the next run', async () => {
    const { deployDir, options } = fresh('upgrade')
    mkdirSync(join(deployDir, '.deploy'), { recursive: true, mode: 0o755 })
    chmodSync(join(deployDir, '.deploy'), 0o755)
    expect((await site.deploy(options)).result?.status).toBe('deployed')
    expect(mode(join(deployDir, '.deploy'))).toBe('700')
  })
})

describe('hooks as root', () => {
  it('warns when run-as is empty, in the output and the result line', async () => {
    const { options } = fresh('root-hooks')
    const run = await site.deploy(options)
    expect(run.result?.status).toBe('deployed')
    const warning =
      'hooks run as root because run-as is empty: set run-as to the app user, or to root to say so'
    expect(run.result?.warnings).toEqual([warning])
    expect(run.stdout).toContain(`\nwarning: ${warning}\n`)
  })

  it('says so without a warning with run-as: root', async () => {
    const { options } = fresh('root-by-choice', { runAs: 'root' })
    const run = await site.deploy(options)
    expect(run.result?.status).toBe('deployed')
    expect(run.result?.warnings).toEqual([])
    expect(run.stdout).toContain('\nhooks run as root (run-as: root)\n')
  })
})

describe('REVISION and the hooks’ variables', () => {
  it('writes REVISION into the release, readable by run-as, and gives hooks DEPLOY_*', async () => {
    const seen = join(site.root, 'revision-seen')
    writeFileSync(seen, '')
    chownSync(seen, uid, gid)
    const commit = 'a'.repeat(40)
    const { deployDir, options } = fresh('revision', {
      runAs: user,
      commit,
      environment: 'staging',
      beforeSwitch: `{ cat REVISION; echo "$DEPLOY_VERSION|$DEPLOY_ENVIRONMENT|$DEPLOY_RELEASE_DIR|$RELEASE_DIR"; } > ${seen}`,
    })
    const run = await site.deploy(options)
    expect(run.result?.status).toBe('deployed')
    const release = join(deployDir, 'releases', run.result?.release ?? '?')
    const revision = readFileSync(join(release, 'REVISION'), 'utf8')
    expect(revision).toMatch(
      new RegExp(
        `^version=v1\\.0\\.0\\ncommit=${commit}\\ntime=\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ\\nenvironment=staging\\n$`,
      ),
    )
    expect(readFileSync(seen, 'utf8')).toBe(`${revision}v1.0.0|staging|${release}|${release}\n`)
    expect(statSync(join(release, 'REVISION')).uid).toBe(uid)
    rmSync(seen)
  })
})
