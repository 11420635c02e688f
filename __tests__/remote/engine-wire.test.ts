// What crosses SSM's limits: the command (packed, and refused when too large) and the output
// (the result line always within the first 24,000 characters SSM keeps).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { createHash, randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import {
  COMMANDS_BUDGET_BYTES,
  EXIT_CODES,
  commandsSize,
  renderCommands,
  type RemoteOptions,
} from '../../packages/remote/src/index.js'
import { Site, acceptedByRenderer, runCommands } from './support/site.js'

const SSM_OUTPUT_LIMIT = 24_000
let site: Site

beforeAll(async () => {
  site = await Site.create()
})
afterAll(async () => {
  await site?.close()
})

/** `length` characters of base64 noise, always the same for one seed: gzip cannot shrink it much. */
function noise(seed: string, length: number): string {
  let text = ''
  for (let i = 0; text.length < length; i++) {
    text += createHash('sha256').update(`${seed}/${i}`).digest('base64').replace(/=+$/, '')
  }
  return text.slice(0, length)
}

/** Hooks of `size` characters each that do real work and pad with incompressible comments. */
function largeHooks(size: number, marker: string): Partial<RemoteOptions> {
  const hook = (name: string) => {
    const code = `echo ${name} >> ${marker}\n#`
    return `${code}${noise(name, size - code.length)}`
  }
  return {
    beforeSwitch: hook('before-switch'),
    stopCommand: hook('stop-command'),
    restartCommand: `${site.service} restart\n${hook('restart-command')}`.slice(0, size),
    healthCommand: hook('health-command'),
  }
}

describe('the command fits SSM', () => {
  it('runs the largest hooks that fit under sh, dash and bash, and refuses a little more', async () => {
    const marker = join(site.root, 'hooks-ran')
    let version = 0
    const options = (size: number) =>
      site.options(`v2.0.${version}`, largeHooks(size, marker), 'good')
    // The largest size that fits for four incompressible hooks (binary search).
    let low = 1000
    let high = 16_384
    while (high - low > 64) {
      const middle = Math.floor((low + high) / 2)
      if (acceptedByRenderer(options(middle))) low = middle
      else high = middle
    }
    expect(low).toBeGreaterThan(8000)
    expect(acceptedByRenderer(options(high + 200))).toBe(false)
    for (const shell of ['sh', 'dash', 'bash']) {
      version++
      // A little below the limit found: the versions of later runs differ by a character.
      const largest = options(low - 100)
      const commands = renderCommands(largest)
      expect(commandsSize(commands)).toBeLessThanOrEqual(COMMANDS_BUDGET_BYTES)
      const run = await runCommands(commands, site.root, { shell })
      if (run.result?.status !== 'deployed') throw new Error(`${shell}: ${run.stdout}${run.stderr}`)
      expect(run.stderr).toBe('')
    }
    const ran = readFileSync(marker, 'utf8').split('\n')
    expect(ran.filter(line => line === 'restart-command')).toHaveLength(3)
    expect(ran.filter(line => line === 'before-switch')).toHaveLength(3)
  })

  it('names a missing unpacking tool in a result line, without starting the engine', async () => {
    // A PATH with sh and bash but neither base64 nor gunzip.
    const bin = join(site.root, 'bare-bin')
    mkdirSync(bin, { recursive: true })
    for (const tool of ['sh', 'bash']) symlinkSync(`/bin/${tool}`, join(bin, tool))
    const run = await runCommands(renderCommands(site.options('v1.0.0')), site.root, {
      shell: '/bin/sh',
      env: { PATH: bin },
    })
    expect(run.code).toBe(EXIT_CODES.failed)
    expect(run.result).toMatchObject({
      status: 'failed',
      exitCode: EXIT_CODES.failed,
      reason: "required tool 'base64' is not installed on the host",
    })
    expect(run.phases).toEqual([])
  })
})

describe("the result line survives SSM's output cut", () => {
  it('with 200 long shared paths, everything before the result line stays within the budget', async () => {
    // Long names that do not exist yet: each one is linked with a warning.
    const sharedPaths = Array.from(
      { length: 200 },
      (_, i) => `${String(i).padStart(3, '0')}-${randomBytes(90).toString('hex').slice(0, 150)}`,
    )
    const options = site.options('v3.0.0', { sharedPaths: ['.env', ...sharedPaths] })
    const run = await site.deploy(options)
    if (run.result?.status !== 'deployed') throw new Error(run.stdout.slice(-3000))
    expect(run.stdout.length).toBeLessThan(SSM_OUTPUT_LIMIT - 4000)
    const lines = run.stdout.trimEnd().split('\n')
    expect(lines.at(-1)).toMatch(/^DEPLOY_RESULT /)
    expect(run.result?.status).toBe('deployed')
    expect(run.result?.warnings).toHaveLength(5)
    // What did not fit is in the host's log, and the output says so.
    expect(run.stdout).toMatch(/\n\(\d+ more lines in \S+\.log\)\n/)
    expect(await site.servingVersion()).toBe('v3.0.0')
  })
})
