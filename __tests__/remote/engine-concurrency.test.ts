// The deploy-dir lock: 100 deploys started at once run one at a time or time out naming the
// holder, never interleaved; a holder killed with SIGKILL frees the lock.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { EXIT_CODES, type RemoteOptions } from '../../packages/remote/src/index.js'
import { Site, currentRelease, releaseDirs, sampleEntries, versionOf } from './support/site.js'

let site: Site
let artifact: { artifactUri: string; artifactSha256: string; download: 'presigned' }

beforeAll(async () => {
  site = await Site.create()
  artifact = site.artifact('shared', sampleEntries('any'))
})

afterAll(async () => {
  await site?.close()
})

const runUrl = (n: number) => `https://github.com/acme/app/actions/runs/${n}`

/** A light deploy (no service): the journal shows when each run's critical section starts and ends. */
function lightOptions(
  n: number,
  journal: string,
  extra: Partial<RemoteOptions> = {},
): RemoteOptions {
  return {
    deployDir: site.deployDir,
    version: `v1.0.${n}`,
    ...artifact,
    runUrl: runUrl(n),
    allowDowngrade: true,
    keepReleases: 2,
    beforeSwitch: `echo "start $DEPLOY_VERSION" >> ${journal}`,
    restartCommand: `echo "end $DEPLOY_VERSION" >> ${journal}`,
    ...extra,
  }
}

describe('the deploy-dir lock', () => {
  it('100 deploys at once: one at a time, or a timeout that names the holder', async () => {
    const journal = join(site.root, 'journal')
    writeFileSync(journal, '')
    const runs = await Promise.all(
      Array.from({ length: 100 }, (_, n) =>
        site.deploy(lightOptions(n, journal, { lockTimeoutMs: 6000 })),
      ),
    )
    const deployed: string[] = []
    for (const run of runs) {
      expect(run.result).toBeDefined()
      if (run.code === EXIT_CODES.ok) {
        expect(run.result?.status).toBe('deployed')
        deployed.push(run.result?.version ?? '')
      } else {
        expect({ code: run.code, status: run.result?.status }).toEqual({
          code: EXIT_CODES.lockTimeout,
          status: 'failed',
        })
        const holder = /holder: run (\S+) version (v1\.0\.\d+) started \S+ pid \d+/.exec(
          run.result?.reason ?? '',
        )
        expect(holder).not.toBeNull()
        // The holder is another of these runs, named by its run URL and version.
        expect(holder?.[1]).toBe(runUrl(Number(holder?.[2]?.split('.')[2])))
        expect(holder?.[2]).not.toBe(run.result?.version)
      }
    }
    expect(deployed.length).toBeGreaterThan(0)
    for (const version of runs
      .map(r => r.result?.reason ?? '')
      .flatMap(r => /version (\S+)/.exec(r)?.[1] ?? [])) {
      expect(deployed).toContain(version)
    }
    // Never interleaved: every start is followed by the end of the same deploy.
    const lines = readFileSync(journal, 'utf8').trim().split('\n')
    expect(lines).toHaveLength(2 * deployed.length)
    for (let i = 0; i < lines.length; i += 2) {
      const version = lines[i]?.replace(/^start /, '')
      expect(lines[i + 1]).toBe(`end ${version}`)
    }
    expect(releaseDirs(site)).toHaveLength(2)
    expect(deployed).toContain(versionOf(currentRelease(site) ?? ''))
  })

  it('a holder killed with SIGKILL frees the lock for the next deploy', async () => {
    const journal = join(site.root, 'journal-kill')
    writeFileSync(journal, '')
    let release: () => void = () => undefined
    const atHook = new Promise<void>(resolve => (release = resolve))
    let killHolder: () => void = () => undefined
    const holder = site.deploy(lightOptions(500, journal, { beforeSwitch: 'sleep 60' }), {
      onPhase: (phase, kill) => {
        if (phase === 'before-switch') {
          killHolder = kill
          release()
        }
      },
    })
    await atHook
    // While the holder lives, a short wait times out and names it.
    const blocked = await site.deploy(lightOptions(501, journal, { lockTimeoutMs: 300 }))
    expect(blocked.code).toBe(EXIT_CODES.lockTimeout)
    expect(blocked.result?.reason).toContain(`holder: run ${runUrl(500)} version v1.0.500`)
    killHolder()
    const killed = await holder
    expect(killed.signal).toBe('SIGKILL')
    const next = await site.deploy(lightOptions(502, journal, { lockTimeoutMs: 5000 }))
    expect(next.code).toBe(EXIT_CODES.ok)
    expect(versionOf(currentRelease(site) ?? '')).toBe('v1.0.502')
  })
})
