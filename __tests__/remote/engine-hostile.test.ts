// Hostile values in every option: rejected by the renderer (naming the option), or passed
// literally; the engine refuses them again when the renderer is bypassed. The canary file
// that a successful injection would create never appears.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigurationError } from '../../packages/kit/src/index.js'
import {
  EXIT_CODES,
  engineVariables,
  renderCommands,
  wrapCommands,
  type DeployMode,
  type DownloadMethod,
  type RemoteOptions,
} from '../../packages/remote/src/index.js'
import { hostileValues } from '../support/hostile.js'
import { Site, acceptedByRenderer, runCommands } from './support/site.js'

let site: Site
let canary: string
let hostile: string[]
/** Valid options of a first deploy (built once: each artifact costs a zip). */
let base: RemoteOptions

beforeAll(async () => {
  site = await Site.create()
  canary = join(site.root, 'CANARY')
  hostile = [...hostileValues(canary), `a\0b`, `x\0$(touch ${canary})`]
  base = site.options('v1.0.0')
})

afterAll(async () => {
  expect(existsSync(canary)).toBe(false)
  await site?.close()
})

/** Input name → how to put a hostile string into the options. */
const VALUE_OPTIONS: Record<string, (options: RemoteOptions, value: string) => RemoteOptions> = {
  mode: (o, v) => ({ ...o, mode: v as DeployMode }),
  'deploy-dir': (o, v) => ({ ...o, deployDir: v }),
  'app-name': (o, v) => ({ ...o, appName: v }),
  version: (o, v) => ({ ...o, version: v }),
  environment: (o, v) => ({ ...o, environment: v }),
  'artifact-uri': (o, v) => ({ ...o, artifactUri: v }),
  'artifact-sha256': (o, v) => ({ ...o, artifactSha256: v }),
  download: (o, v) => ({ ...o, download: v as DownloadMethod }),
  'run-as': (o, v) => ({ ...o, runAs: v }),
  'shared-paths': (o, v) => ({ ...o, sharedPaths: ['.env', v] }),
  'health-url': (o, v) => ({ ...o, healthUrl: v }),
  'run-url': (o, v) => ({ ...o, runUrl: v }),
}

const HOOKS = ['before-switch', 'stop-command', 'restart-command', 'health-command'] as const
const HOOK_FIELD = {
  'before-switch': 'beforeSwitch',
  'stop-command': 'stopCommand',
  'restart-command': 'restartCommand',
  'health-command': 'healthCommand',
} as const

function expectRejectedNaming(input: string, render: () => unknown): void {
  let error: unknown
  try {
    render()
  } catch (caught) {
    error = caught
  }
  expect(error).toBeInstanceOf(ConfigurationError)
  expect((error as Error).message).toContain(`'${input}'`)
}

describe('hostile values', () => {
  it('every value option: rejected naming the option, or rendered and run harmlessly', async () => {
    const accepted: RemoteOptions[] = []
    for (const [input, put] of Object.entries(VALUE_OPTIONS)) {
      for (const value of hostile) {
        const options = put(base, value)
        try {
          renderCommands(options)
          accepted.push(options)
        } catch {
          expectRejectedNaming(input, () => renderCommands(options))
        }
      }
    }
    // What the renderer let through (only '' for optional options) must run harmlessly.
    for (const options of accepted) {
      const run = await site.deploy(options)
      expect([EXIT_CODES.ok, EXIT_CODES.failed]).toContain(run.code)
      expect(run.result).toBeDefined()
    }
    expect(accepted.length).toBeLessThan(Object.keys(VALUE_OPTIONS).length * 2)
    for (const bad of [-1, 1.5, Number.NaN, 1e20]) {
      expectRejectedNaming('health-retries', () => renderCommands({ ...base, healthRetries: bad }))
      expectRejectedNaming('keep-releases', () => renderCommands({ ...base, keepReleases: bad }))
      expectRejectedNaming('lock-timeout', () => renderCommands({ ...base, lockTimeoutMs: bad }))
      expectRejectedNaming('health-interval', () =>
        renderCommands({ ...base, healthIntervalMs: bad }),
      )
    }
    expect(existsSync(canary)).toBe(false)
  })

  it('hook commands reach bash byte for byte (or are rejected naming the hook)', async () => {
    const literal = hostile.filter(value => {
      try {
        engineVariables({ ...base, beforeSwitch: value })
        return true
      } catch {
        for (const hook of HOOKS) {
          expectRejectedNaming(hook, () => renderCommands({ ...base, [HOOK_FIELD[hook]]: value }))
        }
        return false
      }
    })
    expect(literal.length).toBeGreaterThan(hostile.length - 6)
    // Each hook writes every value through a quoted heredoc: only a byte-exact delivery of
    // the hook to bash reproduces the values, and none of them is ever executed.
    const hookFor = (hook: string) =>
      literal
        .map((value, i) => {
          const out = join(site.root, `seen-${hook}-${i}`)
          return `cat > ${out} <<'HOSTILE_END_${i}'\n${value}\nHOSTILE_END_${i}`
        })
        .join('\n')
    // Something must be current for stop-command to run.
    expect((await site.deploy(site.options('v0.9.0', { allowDowngrade: true }))).code).toBe(0)
    const options = {
      ...site.options('v1.0.1'),
      beforeSwitch: hookFor('before-switch'),
      stopCommand: hookFor('stop-command'),
      restartCommand: `${hookFor('restart-command')}\n${site.service} restart`,
      healthCommand: hookFor('health-command'),
    }
    const run = await site.deploy(options)
    if (run.code !== EXIT_CODES.ok) throw new Error(run.stdout)
    for (const hook of HOOKS) {
      literal.forEach((value, i) => {
        expect(readFileSync(join(site.root, `seen-${hook}-${i}`), 'utf8')).toBe(`${value}\n`)
      })
    }
    expect(existsSync(canary)).toBe(false)
  })

  it("the engine refuses hostile values itself when the renderer's checks are bypassed", async () => {
    const fresh = join(site.root, 'never', 'created')
    const valid = engineVariables({ ...base, deployDir: fresh })
    const optionOf = (name: string) =>
      name
        .replace(/^EC2D_/, '')
        .replace(/_MS$/, '')
        .toLowerCase()
        .replaceAll('_', '-')
    // Injection attempts for every value variable; a few for the enums and numbers.
    const injections = hostile.filter(value => value.includes(canary) && !value.includes('\0'))
    const few = [`$(touch ${canary})`, `1; touch ${canary}`, '-1']
    const jobs: { name: string; value: string }[] = []
    for (const name of Object.keys(valid)) {
      if (/BEFORE_SWITCH|STOP_COMMAND|RESTART_COMMAND|HEALTH_COMMAND/.test(name)) continue
      const put = VALUE_OPTIONS[optionOf(name)]
      for (const value of put ? injections : few) {
        // Skip values the renderer itself accepts for this option: not hostile there.
        if (put && acceptedByRenderer(put(base, value))) continue
        jobs.push({ name, value })
      }
    }
    expect(jobs.length).toBeGreaterThan(100)
    const failures: string[] = []
    const worker = async () => {
      for (let job = jobs.shift(); job; job = jobs.shift()) {
        const run = await runCommands(wrapCommands({ ...valid, [job.name]: job.value }), site.root)
        const expectedOption = optionOf(job.name)
        if (
          run.code !== EXIT_CODES.failed ||
          !run.result?.reason.includes(`option ${expectedOption} `)
        ) {
          failures.push(`${job.name}=${JSON.stringify(job.value)}: ${run.stdout}`)
        }
      }
    }
    await Promise.all([worker(), worker(), worker()])
    expect(failures).toEqual([])
    expect(existsSync(fresh)).toBe(false)
    expect(existsSync(canary)).toBe(false)
  })
})
