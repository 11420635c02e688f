// The host release engine under real bash, real files and a real service on loopback:
// deploys, shared files, pruning, hooks, failures before and after the switch, rollbacks.
import { describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { EXIT_CODES } from '../../packages/remote/src/index.js'
import {
  currentRelease,
  history,
  httpGet,
  releaseDirs,
  versionOf,
  expectOutcome,
  withSite,
} from './support/site.js'

describe('deploys', () => {
  it('first, second and third deploy: switches, records, and keeps shared/.env byte for byte', () =>
    withSite(async site => {
      const first = await site.deploy(site.options('v1.0.0'))
      expectOutcome(first, 'deployed', EXIT_CODES.ok)
      expect(first.result).toMatchObject({
        previousVersion: '',
        version: 'v1.0.0',
        rolledBack: false,
      })
      expect(await site.servingVersion()).toBe('v1.0.0')
      // The first deploy seeded shared/ from the release; shared/logs/ was created as a dir.
      const env = join(site.deployDir, 'shared', '.env')
      expect(readFileSync(env, 'utf8')).toBe('SEEDED_BY=v1.0.0\n')
      expect(statSync(join(site.deployDir, 'shared', 'logs')).isDirectory()).toBe(true)

      // The user edits .env on the host: it must survive every later deploy.
      const mine = Buffer.from('SECRET=héllo ✓\r\nNO_NEWLINE=1', 'utf8')
      writeFileSync(env, mine)
      const second = await site.deploy(site.options('v1.1.0'))
      expectOutcome(second, 'deployed', EXIT_CODES.ok)
      expect(second.result).toMatchObject({ previousVersion: 'v1.0.0', version: 'v1.1.0' })
      const third = await site.deploy(site.options('v1.2.0'))
      expectOutcome(third, 'deployed', EXIT_CODES.ok)
      expect(readFileSync(env).equals(mine)).toBe(true)

      // The service reads .env through the link in its release.
      const health = JSON.parse((await fetchBody(site.healthUrl)) ?? '{}') as { env: string }
      expect(health.env).toBe(mine.toString('utf8'))
      const current = currentRelease(site) ?? ''
      expect(versionOf(current)).toBe('v1.2.0')
      expect(third.result?.release).toBe(current)
      const meta = JSON.parse(
        readFileSync(join(site.deployDir, 'releases', current, '.deploy-release.json'), 'utf8'),
      ) as Record<string, string>
      expect(meta).toMatchObject({ version: 'v1.2.0', app: 'sample', environment: 'test' })
      expect(meta['sha256']).toMatch(/^[0-9a-f]{64}$/)
      expect(history(site).map(h => [h.version, h.status])).toEqual([
        ['v1.0.0', 'good'],
        ['v1.1.0', 'good'],
        ['v1.2.0', 'good'],
      ])
      expect(Object.keys(third.result?.phases ?? {})).toEqual(
        expect.arrayContaining([
          'lock',
          'preflight',
          'fetch',
          'verify',
          'extract',
          'switch',
          'health',
        ]),
      )
      expect(third.stdout.trimEnd().split('\n').pop()).toMatch(/^DEPLOY_RESULT \{/)
    }))

  it('prunes to keep-releases, failed releases first, never current or the last good one', () =>
    withSite(async site => {
      const failing = { beforeSwitch: 'echo "build broke" >&2; exit 3' }
      for (const [version, extra] of [
        ['v1.0.0', {}],
        ['v1.1.0', {}],
        ['v1.2.0', failing],
        ['v1.3.0', failing],
      ] as const) {
        await site.deploy(site.options(version, extra))
      }
      // Four releases, keep 3: the oldest failed one went first, both good ones stayed.
      expect(releaseDirs(site).map(versionOf)).toEqual(['v1.0.0', 'v1.1.0', 'v1.3.0'])
      expectOutcome(await site.deploy(site.options('v1.4.0')), 'deployed', EXIT_CODES.ok)
      expect(releaseDirs(site).map(versionOf)).toEqual(['v1.0.0', 'v1.1.0', 'v1.4.0'])
      expectOutcome(await site.deploy(site.options('v1.5.0')), 'deployed', EXIT_CODES.ok)
      expect(releaseDirs(site).map(versionOf)).toEqual(['v1.1.0', 'v1.4.0', 'v1.5.0'])

      // keep-releases 1 and a failure: the failed release goes, current (the last good) stays.
      const failed = await site.deploy(site.options('v1.6.0', { ...failing, keepReleases: 1 }))
      expectOutcome(failed, 'failed', EXIT_CODES.failed)
      expect(releaseDirs(site).map(versionOf)).toEqual(['v1.5.0'])
      expect(await site.servingVersion()).toBe('v1.5.0')
    }))

  it('trims a long history, keeping the lines of releases on disk and the newest others', () =>
    withSite(async site => {
      expectOutcome(await site.deploy(site.options('v1.0.0')), 'deployed', EXIT_CODES.ok)
      // 1,200 outcomes of releases long pruned, recorded after v1.0.0's own line.
      const file = join(site.deployDir, '.deploy', 'history.jsonl')
      const old = Array.from({ length: 1200 }, (_, i) =>
        JSON.stringify({
          time: '2020-01-01T00:00:00Z',
          release: `20200101T000000000Z-v0.0.${i}`,
          version: `v0.0.${i}`,
          status: 'good',
        }),
      )
      writeFileSync(file, readFileSync(file, 'utf8') + old.join('\n') + '\n')

      expectOutcome(await site.deploy(site.options('v1.1.0')), 'deployed', EXIT_CODES.ok)
      const kept = history(site).map(h => h.version)
      // v1.0.0 is on disk, so its line stays however old; then the newest 500 lines.
      expect(kept).toEqual(['v1.0.0', ...old.slice(-499).map(l => JSON.parse(l).version), 'v1.1.0'])
      expect(readdirSync(join(site.deployDir, '.deploy')).filter(n => n.endsWith('.tmp'))).toEqual(
        [],
      )

      // The statuses that matter survived: rollback finds v1.0.0 as the previous good release.
      const options = site.options('unused', { mode: 'rollback' })
      delete options.artifactUri
      delete options.artifactSha256
      delete options.version
      const back = await site.deploy(options)
      expectOutcome(back, 'deployed', EXIT_CODES.ok)
      expect(await site.servingVersion()).toBe('v1.0.0')
    }))

  it('re-deploying the current, healthy version is a successful no-op', () =>
    withSite(async site => {
      const options = site.options('v2.0.0')
      expectOutcome(await site.deploy(options), 'deployed', EXIT_CODES.ok)
      const before = releaseDirs(site)
      const again = await site.deploy(options)
      expectOutcome(again, 'noop', EXIT_CODES.ok)
      expect(again.result?.release).toBe(before[0])
      expect(releaseDirs(site)).toEqual(before)
      expect(again.phases).not.toContain('fetch')
    }))

  it('refuses a downgrade unless allow-downgrade is set', () =>
    withSite(async site => {
      expectOutcome(await site.deploy(site.options('v2.0.0')), 'deployed', EXIT_CODES.ok)
      const refused = await site.deploy(site.options('v1.9.9'))
      expectOutcome(refused, 'failed', EXIT_CODES.failed)
      expect(refused.result?.reason).toMatch(/older than the current v2\.0\.0.*allow-downgrade/)
      expect(versionOf(currentRelease(site) ?? '')).toBe('v2.0.0')
      // Builds of the same base version are not downgrades.
      const sameBase = await site.deploy(site.options('v2.0.0-main-abc1234'))
      expectOutcome(sameBase, 'deployed', EXIT_CODES.ok)
      const allowed = await site.deploy(site.options('v1.9.9', { allowDowngrade: true }))
      expectOutcome(allowed, 'deployed', EXIT_CODES.ok)
      expect(await site.servingVersion()).toBe('v1.9.9')
    }))

  it('gives hooks the documented environment, in the release dir, and stops in the old one', () =>
    withSite(async site => {
      expectOutcome(await site.deploy(site.options('v1.0.0')), 'deployed', EXIT_CODES.ok)
      const seen = join(site.root, 'hook-env')
      const stops = join(site.root, 'stops')
      const run = await site.deploy(
        site.options('v1.1.0', {
          beforeSwitch: `{ pwd; echo "$DEPLOY_VERSION|$DEPLOY_ENVIRONMENT|$RELEASE_DIR|$SHARED_DIR|$PREVIOUS_RELEASE_DIR"; } > ${seen}`,
          stopCommand: `pwd >> ${stops}`,
        }),
      )
      expectOutcome(run, 'deployed', EXIT_CODES.ok)
      const release = join(site.deployDir, 'releases', run.result?.release ?? '?')
      const previous = join(site.deployDir, 'releases', run.result?.previousRelease ?? '?')
      expect(readFileSync(seen, 'utf8')).toBe(
        `${release}\nv1.1.0|test|${release}|${join(site.deployDir, 'shared')}|${previous}\n`,
      )
      expect(readFileSync(stops, 'utf8')).toBe(`${previous}\n`)
    }))

  for (const shell of ['sh', 'dash', 'bash']) {
    it(`runs the rendered command with ${shell} as the entry shell`, () =>
      withSite(async site => {
        const run = await site.deploy(site.options('v3.1.4'), { shell })
        expectOutcome(run, 'deployed', EXIT_CODES.ok)
        expect(await site.servingVersion()).toBe('v3.1.4')
        // The engine's temp copy is deleted right after it is opened.
        expect(run.stderr).toBe('')
      }))
  }

  it('runs hooks as run-as, with the release owned by that user', () =>
    withSite(async site => {
      const user = `ec2dt${process.pid % 100000}`
      execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/bin/sh', user])
      try {
        const seen = join(site.root, 'whoami')
        writeFileSync(seen, '')
        execFileSync('chown', [user, seen])
        const run = await site.deploy(
          site.options('v1.0.0', {
            runAs: user,
            beforeSwitch: `{ id -un; touch built-here && echo wrote; } > ${seen} 2>&1`,
            // The sample service keeps its pidfile in root's temp dir: check the user instead.
            restartCommand: `test "$(id -un)" = ${user} && test -O built-here`,
            healthUrl: '',
            healthCommand: `test "$(id -un)" = ${user}`,
          }),
        )
        expectOutcome(run, 'deployed', EXIT_CODES.ok)
        expect(readFileSync(seen, 'utf8')).toBe(`${user}\nwrote\n`)
        const release = join(site.deployDir, 'releases', run.result?.release ?? '?')
        const owner = execFileSync('stat', ['-c', '%U', join(release, 'VERSION')], {
          encoding: 'utf8',
        }).trim()
        expect(owner).toBe(user)
        const missing = await site.deploy(site.options('v1.1.0', { runAs: 'no-such-user-x' }))
        expectOutcome(missing, 'failed', EXIT_CODES.failed)
        expect(missing.result?.reason).toMatch(/run-as user 'no-such-user-x' does not exist/)
      } finally {
        await site.close() // stop the service before the user goes away
        execFileSync('userdel', [user])
      }
    }))
})

describe('failures', () => {
  it('a failing before-switch hook (even exit 194) leaves current and the service untouched', () =>
    withSite(async site => {
      expectOutcome(await site.deploy(site.options('v1.0.0')), 'deployed', EXIT_CODES.ok)
      const before = currentRelease(site)
      const run = await site.deploy(
        site.options('v1.1.0', {
          beforeSwitch: 'echo "compiling…"; echo "error: boom" >&2; exit 194',
        }),
      )
      expectOutcome(run, 'failed', EXIT_CODES.failed)
      expect(run.result?.reason).toMatch(/before-switch failed with exit code 194/)
      expect(run.stdout).toContain('| error: boom')
      expect(currentRelease(site)).toBe(before)
      expect(await site.servingVersion()).toBe('v1.0.0')
      expect(history(site).map(h => h.status)).toEqual(['good', 'failed'])
    }))

  it("keeps stdout far below SSM's 24,000-character cut, however much a hook prints", () =>
    withSite(async site => {
      const run = await site.deploy(
        site.options('v1.0.0', {
          beforeSwitch: 'seq 1 200000; head -c 300000 /dev/zero | tr "\\0" x; exit 1',
        }),
      )
      expectOutcome(run, 'failed', EXIT_CODES.failed)
      expect(run.stdout.length).toBeLessThan(8000)
      expect(run.stdout.trimEnd().split('\n').pop()).toMatch(/^DEPLOY_RESULT /)
      // The full output is kept on the host.
      const logs = join(site.deployDir, '.deploy', 'logs')
      const log = readdirSync(logs)
        .map(name => readFileSync(join(logs, name), 'utf8'))
        .join('')
      expect(log).toContain('\n199999\n')
    }))

  it('a failing health check rolls back: the old version serves again, verified over HTTP', () =>
    withSite(async site => {
      expectOutcome(await site.deploy(site.options('v1.0.0')), 'deployed', EXIT_CODES.ok)
      const before = currentRelease(site)
      const run = await site.deploy(site.options('v1.1.0', {}, 'unhealthy'))
      expectOutcome(run, 'rolled-back', EXIT_CODES.rolledBack)
      expect(run.result).toMatchObject({
        rolledBack: true,
        previousVersion: 'v1.0.0',
        version: 'v1.1.0',
      })
      expect(run.result?.reason).toMatch(/health check failed.*rolled back to v1\.0\.0/)
      expect(run.phases).toEqual(expect.arrayContaining(['health', 'rollback', 'rollback-health']))
      expect(currentRelease(site)).toBe(before)
      expect(await site.servingVersion()).toBe('v1.0.0')
      expect(history(site).map(h => [h.version, h.status])).toEqual([
        ['v1.0.0', 'good'],
        ['v1.1.0', 'bad'],
      ])
    }))

  it('a failing stop-command restarts the release that was current', () =>
    withSite(async site => {
      expectOutcome(await site.deploy(site.options('v1.0.0')), 'deployed', EXIT_CODES.ok)
      const before = currentRelease(site)
      const run = await site.deploy(
        site.options('v1.1.0', { stopCommand: `${site.service} stop && exit 5` }),
      )
      expectOutcome(run, 'rolled-back', EXIT_CODES.rolledBack)
      expect(run.result?.reason).toMatch(/stop-command failed with exit code 5/)
      expect(run.phases).not.toContain('switch')
      expect(currentRelease(site)).toBe(before)
      expect(await site.servingVersion()).toBe('v1.0.0')
    }))

  it('a release that crashes on restart rolls back too', () =>
    withSite(async site => {
      expectOutcome(await site.deploy(site.options('v1.0.0')), 'deployed', EXIT_CODES.ok)
      const run = await site.deploy(site.options('v1.1.0', {}, 'crash'))
      expectOutcome(run, 'rolled-back', EXIT_CODES.rolledBack)
      expect(run.result?.reason).toMatch(/restart-command failed/)
      expect(await site.servingVersion()).toBe('v1.0.0')
    }))

  it('a broken previous release ends in "rollback failed"', () =>
    withSite(async site => {
      const first = await site.deploy(site.options('v1.0.0'))
      expectOutcome(first, 'deployed', EXIT_CODES.ok)
      rmSync(join(site.deployDir, 'releases', first.result?.release ?? '?', 'server.cjs'))
      const run = await site.deploy(site.options('v1.1.0', {}, 'unhealthy'))
      expectOutcome(run, 'rollback-failed', EXIT_CODES.rollbackFailed)
      expect(run.result?.rolledBack).toBe(false)
      expect(run.result?.reason).toMatch(/restarting v1\.0\.0 failed/)
    }))

  it('a failing first deploy has nothing to roll back to', () =>
    withSite(async site => {
      const run = await site.deploy(site.options('v1.0.0', {}, 'unhealthy'))
      expectOutcome(run, 'rollback-failed', EXIT_CODES.rollbackFailed)
      expect(run.result?.reason).toMatch(/no previous release/)
    }))
})

describe('rollback mode', () => {
  it('switches to a named version on the host, to the previous good one, and refuses unknown ones', () =>
    withSite(async site => {
      for (const version of ['v1.0.0', 'v1.1.0', 'v1.2.0']) {
        expectOutcome(await site.deploy(site.options(version)), 'deployed', EXIT_CODES.ok)
      }
      const rollback = (version?: string) => {
        const options = site.options(version ?? 'unused', { mode: 'rollback' })
        delete options.artifactUri
        delete options.artifactSha256
        if (version === undefined) delete options.version
        return site.deploy(options)
      }
      const previous = await rollback()
      expectOutcome(previous, 'deployed', EXIT_CODES.ok)
      expect(previous.result).toMatchObject({
        mode: 'rollback',
        previousVersion: 'v1.2.0',
        version: 'v1.1.0',
      })
      expect(previous.phases).not.toContain('fetch')
      expect(await site.servingVersion()).toBe('v1.1.0')

      const named = await rollback('v1.0.0')
      expectOutcome(named, 'deployed', EXIT_CODES.ok)
      expect(await site.servingVersion()).toBe('v1.0.0')
      expect(versionOf(currentRelease(site) ?? '')).toBe('v1.0.0')

      const before = currentRelease(site)
      const unknown = await rollback('v0.0.1')
      expectOutcome(unknown, 'failed', EXIT_CODES.failed)
      expect(unknown.result?.reason).toMatch(/v0\.0\.1 is not on this host/)
      expect(currentRelease(site)).toBe(before)

      // Not on the host but downloadable: fetched and deployed, downgrade allowed.
      const fetched = await site.deploy(site.options('v0.9.0', { mode: 'rollback' }))
      expectOutcome(fetched, 'deployed', EXIT_CODES.ok)
      expect(fetched.phases).toContain('fetch')
      expect(await site.servingVersion()).toBe('v0.9.0')
      expect(existsSync(join(site.deployDir, 'shared', '.env'))).toBe(true)
    }))
})

async function fetchBody(url: string): Promise<string | undefined> {
  const { status, body } = await httpGet(url)
  return status === 0 ? undefined : body
}
