// SIGKILL the engine's whole process group at every step boundary (and at random points):
// afterwards `current` is always a complete release, shared/ is intact, and a re-run succeeds.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { existsSync, lstatSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { EXIT_CODES, type RemoteOptions } from '../../packages/remote/src/index.js'
import { Site, currentRelease, versionOf, type EngineRun } from './support/site.js'

const USER_ENV = Buffer.from('DATABASE_URL=postgres://u@h/db\nTOKEN=ŧøķęñ\n', 'utf8')

let site: Site
let counter = 0

beforeAll(async () => {
  site = await Site.create()
  const first = await site.deploy(options('v1.0.0'))
  expect(first.code).toBe(EXIT_CODES.ok)
  writeFileSync(join(site.deployDir, 'shared', '.env'), USER_ENV)
})

afterAll(async () => {
  await site?.close()
})

function options(version: string, variant: 'good' | 'unhealthy' = 'good'): RemoteOptions {
  return site.options(
    version,
    {
      stopCommand: `${site.service} stop`,
      restartCommand: `${site.service} start`,
      beforeSwitch: 'test -f server.cjs && sleep 0.05',
      keepReleases: 4,
    },
    variant,
  )
}

/** The invariants that must hold whatever moment the engine died at. */
function expectConsistent(): void {
  const link = join(site.deployDir, 'current')
  expect(lstatSync(link).isSymbolicLink()).toBe(true)
  const target = readlinkSync(link)
  expect(target).toMatch(/^releases\/\d{8}T\d{9}Z-v[0-9.]+$/)
  const release = join(site.deployDir, target)
  for (const file of ['VERSION', 'server.cjs', '.deploy-release.json', 'public/index.html']) {
    expect(existsSync(join(release, file))).toBe(true)
  }
  expect(readlinkSync(join(release, '.env'))).toBe(join(site.deployDir, 'shared', '.env'))
  expect(readFileSync(join(site.deployDir, 'shared', '.env')).equals(USER_ENV)).toBe(true)
  expect(lstatSync(join(site.deployDir, 'shared', 'logs')).isDirectory()).toBe(true)
}

/** Kills a deploy (as `kill` decides), checks the invariants, then re-runs it to success. */
async function killThenRerun(
  version: string,
  variant: 'good' | 'unhealthy',
  kill: (run: { onPhase?: (p: string, k: () => void) => void; killAfterMs?: number }) => void,
): Promise<EngineRun> {
  const deploy = options(version, variant)
  const runOptions: { onPhase?: (p: string, k: () => void) => void; killAfterMs?: number } = {}
  kill(runOptions)
  const killed = await site.deploy(deploy, runOptions)
  expectConsistent()
  // Re-run the same command (a rollback release re-runs as a good one).
  const rerun = await site.deploy(variant === 'good' ? deploy : options(version))
  if (rerun.code !== EXIT_CODES.ok) throw new Error(`re-run failed:\n${rerun.stdout}`)
  expect(['deployed', 'noop']).toContain(rerun.result?.status)
  expectConsistent()
  expect(versionOf(currentRelease(site) ?? '')).toBe(version)
  expect(await site.servingVersion()).toBe(version)
  return killed
}

describe('SIGKILL at every phase boundary', () => {
  const deployPhases = [
    'lock',
    'preflight',
    'fetch',
    'verify',
    'extract',
    'link-shared',
    'before-switch',
    'stop',
    'switch',
    'restart',
    'health',
    'record',
    'prune',
  ]
  for (const phase of deployPhases) {
    it(`at '${phase}'`, async () => {
      const killed = await killThenRerun(`v2.${++counter}.0`, 'good', run => {
        run.onPhase = (seen, kill) => {
          if (seen === phase) kill()
        }
      })
      expect(killed.phases).toContain(phase)
      // Killed, or (for the last, tiny phases) finished before the signal landed.
      expect(killed.signal === 'SIGKILL' || killed.code === EXIT_CODES.ok).toBe(true)
    })
  }

  for (const phase of ['rollback', 'rollback-health']) {
    it(`at '${phase}' while rolling back a bad release`, async () => {
      const killed = await killThenRerun(`v2.${++counter}.0`, 'unhealthy', run => {
        run.onPhase = (seen, kill) => {
          if (seen === phase) kill()
        }
      })
      expect(killed.phases).toContain(phase)
    })
  }
})

describe('SIGKILL at random points', () => {
  // A fixed list of pseudo-random delays keeps failures reproducible.
  const delays = [17, 260, 45, 390, 120, 530, 75, 310, 205, 150]
  it.each(delays)('after %i ms', async delay => {
    await killThenRerun(`v3.${++counter}.0`, 'good', run => {
      run.killAfterMs = delay
    })
  })
})
