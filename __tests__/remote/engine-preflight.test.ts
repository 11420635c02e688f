import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EXIT_CODES } from '../../packages/remote/src/index.js'
import { Site, currentRelease, releaseDirs } from './support/site.js'

// Preflight refuses a host that cannot take a release, before anything changes: a missing
// tool, a deploy-dir that cannot be written, too little disk. Each runs the engine in a
// private mount namespace (root): a tool hidden, or the deploy-dir a small or read-only tmpfs.
let site: Site
let scratch: string
beforeAll(async () => {
  site = await Site.create()
  scratch = mkdtempSync(join(tmpdir(), 'preflight-'))
})
afterAll(async () => {
  await site?.close()
  rmSync(scratch, { recursive: true, force: true })
})

/** An entry shell that first mounts a tmpfs with `options` over the deploy-dir. */
function shellWithTmpfs(options: string): string {
  const wrapper = join(scratch, `sh-${options.replace(/\W/g, '-')}`)
  writeFileSync(
    wrapper,
    `#!/bin/sh\nexec unshare --mount --propagation private sh -c 'mount -t tmpfs -o ${options} tmpfs "$0" && exec sh "$1"' "${site.deployDir}" "$@"\n`,
    { mode: 0o755 },
  )
  return wrapper
}

describe('preflight', () => {
  it('refuses a host without a required tool, naming it', async () => {
    // The engine adds the standard directories to PATH itself, so hide the tool instead:
    // /dev/null over /usr/bin/unzip (a device is not an executable).
    const hiding = join(scratch, 'sh-without-unzip')
    writeFileSync(
      hiding,
      `#!/bin/sh\nexec unshare --mount --propagation private sh -c 'mount --bind /dev/null /usr/bin/unzip && exec sh "$0"' "$@"\n`,
      { mode: 0o755 },
    )
    const run = await site.deploy(site.options('v1.0.0'), { shell: hiding })
    expect(run.code).toBe(EXIT_CODES.failed)
    expect(run.result?.reason).toMatch(/required tool 'unzip' is not installed/)
    expect(releaseDirs(site)).toEqual([])
  })

  it('refuses a deploy-dir with too little free disk', async () => {
    mkdirSync(site.deployDir, { recursive: true })
    const run = await site.deploy(site.options('v1.0.0'), {
      shell: shellWithTmpfs('size=1m,mode=755'),
    })
    expect(run.code).toBe(EXIT_CODES.failed)
    expect(run.result?.reason).toMatch(/only \d+ bytes free under .* \(need at least \d+\)/)
  })

  it('refuses a deploy-dir it cannot write', async () => {
    mkdirSync(site.deployDir, { recursive: true })
    const run = await site.deploy(site.options('v1.0.0'), { shell: shellWithTmpfs('ro,mode=755') })
    expect(run.code).toBe(EXIT_CODES.failed)
    expect(run.result?.reason).toMatch(/not writable|cannot (open|write|create)/)
  })

  it('then deploys on the same host once it is fit', async () => {
    const run = await site.deploy(site.options('v1.0.0'))
    expect(run.result?.status).toBe('deployed')
    expect(currentRelease(site)).toMatch(/-v1\.0\.0$/)
  })
})
