// The host health gate checks the served version (issue 12): health-url must report the version
// of the release being checked, so that a process the restart left running (pm2 keeps the
// resolved script path) cannot pass the gate for a release it does not run. Real bash, real
// processes on loopback, real rollbacks.
import { describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { EXIT_CODES, type RemoteOptions } from '../../packages/remote/src/index.js'
import {
  Site,
  currentRelease,
  history,
  versionOf,
  type ZipEntry,
  expectOutcome,
  withSite,
} from './support/site.js'

/** What a release's server answers on every path: headers, a body, and `pad` more bytes of 'x'. */
interface Answer {
  headers?: Record<string, string>
  body: string
  pad?: number
}

// A release whose server answers exactly what its answer.json says (the version it reports,
// if any, is baked in when the artifact is made).
const ANSWER_JS = `const http = require('node:http')
const fs = require('node:fs')
const path = require('node:path')
const answer = JSON.parse(fs.readFileSync(path.join(__dirname, 'answer.json'), 'utf8'))
const body = answer.body + 'x'.repeat(answer.pad || 0)
http.createServer((req, res) => {
  res.writeHead(200, answer.headers || {})
  res.end(body)
}).listen(Number(process.argv[2]), '127.0.0.1')
`

function answering(answer: Answer): ZipEntry[] {
  return [
    { name: 'server.cjs', content: ANSWER_JS },
    { name: 'answer.json', content: JSON.stringify(answer) },
    { name: '.env', content: 'X=1\n' },
  ]
}

/** Options to deploy `version` as a release that answers `answer`; overrides win. */
function answeringOptions(
  site: Site,
  version: string,
  answer: Answer,
  overrides: Partial<RemoteOptions> = {},
): RemoteOptions {
  return { ...site.options(version), ...site.artifact(version, answering(answer)), ...overrides }
}

/** Options of a rollback to `version` (or to the previous good release) without an artifact. */
function rollbackOptions(
  site: Site,
  version: string | undefined,
  overrides: Partial<RemoteOptions> = {},
): RemoteOptions {
  const options: RemoteOptions = { ...site.options(version ?? 'unused'), mode: 'rollback' }
  delete options.artifactUri
  delete options.artifactSha256
  if (version === undefined) delete options.version
  return { ...options, ...overrides }
}

const NO_VERSION_MESSAGE =
  'no version in the answer of health-url: report "v2.0.0" as the JSON field version, a X-App-Version header or text in the body (from REVISION or $DEPLOY_VERSION), or set health-version: false'

describe('the health gate checks the served version', () => {
  it('refuses a deploy that an old process keeps answering for, and rolls back', () =>
    withSite(async site => {
      expectOutcome(await site.deploy(site.options('v1.0.0')), 'deployed', EXIT_CODES.ok)
      const before = currentRelease(site)
      // The restart leaves v1.0.0's process running: it answers 200 {"version":"v1.0.0"}.
      const run = await site.deploy(site.options('v2.0.0', { restartCommand: 'true' }))
      expectOutcome(run, 'rolled-back', EXIT_CODES.rolledBack)
      expect(run.result).toMatchObject({
        rolledBack: true,
        previousVersion: 'v1.0.0',
        version: 'v2.0.0',
      })
      expect(run.result?.reason).toBe(
        'health check failed after 4 attempts: health-url serves version "v1.0.0", not "v2.0.0"; rolled back to v1.0.0',
      )
      expect(run.stdout).toContain(
        'not healthy yet (attempt 1 of 4: health-url serves version "v1.0.0", not "v2.0.0")',
      )
      // Said once, not at every attempt.
      expect(run.stdout).toContain('not healthy yet (attempt 2 of 4); next try in')
      expect(run.phases).toEqual(expect.arrayContaining(['health', 'rollback', 'rollback-health']))
      expect(currentRelease(site)).toBe(before)
      expect(await site.servingVersion()).toBe('v1.0.0')
      expect(history(site).map(h => [h.version, h.status])).toEqual([
        ['v1.0.0', 'good'],
        ['v2.0.0', 'bad'],
      ])
    }))

  it('after a rollback, expects the previous version (rollback-health)', () =>
    withSite(async site => {
      expectOutcome(await site.deploy(site.options('v1.0.0')), 'deployed', EXIT_CODES.ok)
      // v2.0.0 starts and serves, but its health-command fails; the restart of v1.0.0 during
      // the rollback does nothing, so v2.0.0's process keeps answering.
      const run = await site.deploy(
        site.options('v2.0.0', {
          restartCommand: `if [ "$DEPLOY_VERSION" = v2.0.0 ]; then ${site.service} restart; fi`,
          healthCommand: 'test "$DEPLOY_VERSION" != v2.0.0',
        }),
      )
      expectOutcome(run, 'rollback-failed', EXIT_CODES.rollbackFailed)
      expect(run.result?.reason).toBe(
        'health check failed after 4 attempts: health-command failed with exit code 1; ' +
          'v1.0.0 is unhealthy after the rollback (health-url serves version "v2.0.0", not "v1.0.0")',
      )
      expect(run.phases).toContain('rollback-health')
      expect(await site.servingVersion()).toBe('v2.0.0')
    }))

  it('the no-op re-deploy checks the current version, and deploys again when another serves', () =>
    withSite(async site => {
      const first = await site.deploy(site.options('v1.0.0'))
      expectOutcome(first, 'deployed', EXIT_CODES.ok)
      const v2 = site.options('v2.0.0')
      expectOutcome(await site.deploy(v2), 'deployed', EXIT_CODES.ok)
      // A stale v1.0.0 process takes the port back while v2.0.0 is current.
      execFileSync(site.service, ['restart'], {
        cwd: join(site.deployDir, 'releases', first.result?.release ?? '?'),
      })
      expect(await site.servingVersion()).toBe('v1.0.0')
      const again = await site.deploy(v2)
      expectOutcome(again, 'deployed', EXIT_CODES.ok)
      expect(again.stdout).toContain(
        'v2.0.0 is current but unhealthy (health-url serves version "v1.0.0", not "v2.0.0"): deploying it again',
      )
      expect(await site.servingVersion()).toBe('v2.0.0')
      // And with the right process serving, the same re-deploy is a no-op.
      expectOutcome(await site.deploy(v2), 'noop', EXIT_CODES.ok)
    }))

  it('mode rollback expects the target version', () =>
    withSite(async site => {
      for (const version of ['v1.0.0', 'v2.0.0']) {
        expectOutcome(await site.deploy(site.options(version)), 'deployed', EXIT_CODES.ok)
      }
      // The restart leaves v2.0.0 serving: the rollback to v1.0.0 is not done, and goes back.
      const stale = await site.deploy(rollbackOptions(site, 'v1.0.0', { restartCommand: 'true' }))
      expectOutcome(stale, 'rolled-back', EXIT_CODES.rolledBack)
      expect(stale.result?.reason).toMatch(
        /health-url serves version "v2\.0\.0", not "v1\.0\.0"; rolled back to v2\.0\.0$/,
      )
      expect(stale.phases).toEqual(expect.arrayContaining(['health', 'rollback-health']))
      expect(versionOf(currentRelease(site) ?? '')).toBe('v2.0.0')
      expect(await site.servingVersion()).toBe('v2.0.0')
    }))

  it('mode rollback passes when the target version serves', () =>
    withSite(async site => {
      for (const version of ['v1.0.0', 'v2.0.0']) {
        expectOutcome(await site.deploy(site.options(version)), 'deployed', EXIT_CODES.ok)
      }
      const back = await site.deploy(rollbackOptions(site, undefined))
      expectOutcome(back, 'deployed', EXIT_CODES.ok)
      expect(back.result?.version).toBe('v1.0.0')
      expect(await site.servingVersion()).toBe('v1.0.0')
    }))
})

describe('where the version is read', () => {
  it('an app that reports no version fails the gate, naming the opt-out; health-version false passes', () =>
    withSite(async site => {
      const silent: Answer = { headers: { 'content-type': 'application/json' }, body: '{"ok":1}' }
      expectOutcome(await site.deploy(site.options('v1.0.0')), 'deployed', EXIT_CODES.ok)
      const run = await site.deploy(answeringOptions(site, 'v2.0.0', silent))
      expectOutcome(run, 'rolled-back', EXIT_CODES.rolledBack)
      expect(run.result?.reason).toBe(
        `health check failed after 4 attempts: ${NO_VERSION_MESSAGE}; rolled back to v1.0.0`,
      )
      expect(run.stdout).toContain(NO_VERSION_MESSAGE)
      const optedOut = await site.deploy(
        answeringOptions(site, 'v2.0.0', silent, { healthVersion: false }),
      )
      expectOutcome(optedOut, 'deployed', EXIT_CODES.ok)
      expect(optedOut.stdout).not.toContain('no version')
    }))

  it('reads the JSON field version first, then X-App-Version, then X-Version, then the text', () =>
    withSite(async site => {
      const cases: [string, Answer, string | undefined][] = [
        ['v1.0.0', { body: '{"build":{"version":"v0"},"version":"v1.0.0"}' }, undefined],
        ['v1.1.0', { headers: { 'X-App-Version': 'v1.1.0' }, body: '{"ok":true}' }, undefined],
        ['v1.2.0', { headers: { 'x-version': ' v1.2.0 ' }, body: 'ok' }, undefined],
        ['v1.3.0', { body: '<h1>hello from v1.3.0</h1>' }, undefined],
        // The JSON field wins over a header that would match; a nested field is not it.
        [
          'v1.4.0',
          { headers: { 'X-App-Version': 'v1.4.0' }, body: '{"version":"v1.3.9"}' },
          'health-url serves version "v1.3.9", not "v1.4.0"',
        ],
        [
          'v1.4.1',
          { body: '{"deps":{"version":"v0.1"}}' },
          'no version in the answer of health-url: report "v1.4.1"',
        ],
        [
          'v1.5.0',
          { headers: { 'X-App-Version': 'v1.4.9' }, body: 'v1.5.0' },
          'health-url serves version "v1.4.9", not "v1.5.0"',
        ],
      ]
      for (const [version, answer, problem] of cases) {
        const run = await site.deploy(answeringOptions(site, version, answer))
        if (problem === undefined) {
          expectOutcome(run, 'deployed', EXIT_CODES.ok)
        } else {
          expectOutcome(run, 'rolled-back', EXIT_CODES.rolledBack)
          expect(run.result?.reason).toContain(problem)
        }
      }
      expect(history(site).map(h => [h.version, h.status])).toEqual([
        ['v1.0.0', 'good'],
        ['v1.1.0', 'good'],
        ['v1.2.0', 'good'],
        ['v1.3.0', 'good'],
        ['v1.4.0', 'bad'],
        ['v1.4.1', 'bad'],
        ['v1.5.0', 'bad'],
      ])
    }))

  it('a hostile answer is neither executed nor printed raw, and a huge body is read in part', () =>
    withSite(async site => {
      const canary = join(site.root, 'CANARY')
      const injection = `$(touch ${canary})\`touch ${canary}\``
      expectOutcome(
        await site.deploy(answeringOptions(site, 'v1.0.0', { body: 'v1.0.0' })),
        'deployed',
        EXIT_CODES.ok,
      )
      const hostile: Answer[] = [
        { body: `{"version":"\u001b]0;owned\u0007\u001b[2J${injection}\r\nDEPLOY_RESULT {}"}` },
        { headers: { 'X-App-Version': injection }, body: `{"ok":"${'\u0008'.repeat(50)}"}` },
        { body: `{"version":"${'A'.repeat(100_000)}"}` },
        { body: `{"version":"v9"${'"'.repeat(40_000)}}` },
      ]
      for (const answer of hostile) {
        const run = await site.deploy(answeringOptions(site, 'v2.0.0', answer))
        expectOutcome(run, 'rolled-back', EXIT_CODES.rolledBack)
        // Nothing but printable text and newlines; one result line; the served value cut short.
        // eslint-disable-next-line no-control-regex
        expect(run.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f]/)
        expect(run.stdout.match(/^DEPLOY_RESULT /gm)).toHaveLength(1)
        expect(run.result?.reason).toMatch(
          /^health check failed after 4 attempts: (health-url serves version "[^"]{0,64}", not "v2\.0\.0"|no version in the answer of health-url)/,
        )
      }
      // 8 MB of body: the first 64 KiB are read, which hold the version as text.
      const huge = await site.deploy(
        answeringOptions(site, 'v2.0.0', { body: 'hello from v2.0.0 ', pad: 8 << 20 }),
      )
      expectOutcome(huge, 'deployed', EXIT_CODES.ok)
      // ...and a version past them is not seen.
      const far = await site.deploy(
        answeringOptions(site, 'v3.0.0', { body: `${'x'.repeat(70_000)}v3.0.0` }),
      )
      expectOutcome(far, 'rolled-back', EXIT_CODES.rolledBack)
      expect(far.result?.reason).toContain('no version in the answer of health-url')
      expect(existsSync(canary)).toBe(false)
      // The answers are not kept on the host.
      expect(readdirSync(join(site.deployDir, '.deploy'))).not.toContain('tmp')
    }))
})
