import { describe, expect, it } from '@jest/globals'
import { ConfigurationError, Inputs } from '../../packages/kit/src/index.js'
import { readFleetDeployOptions, readRemoteOptions } from '../../actions/shared/deploy-inputs.js'
import {
  BLUE_GREEN_DEFAULTS,
  ENGINE_OPTIONS,
  ENGINE_SCRIPT,
  engineVariables,
} from '../../packages/remote/src/index.js'

// The inputs ssm-deploy and verify-health's rollback share, read into the engine's options.
const inputsOf = (values: Record<string, string>) => new Inputs(name => values[name] ?? '')
const base = { 'deploy-dir': '/srv/app', version: 'v1.0.0', 'artifact-uri': 's3://bkt/a.zip' }

describe('health-version', () => {
  it('defaults to true and reaches the engine as EC2D_HEALTH_VERSION', () => {
    const options = readRemoteOptions(inputsOf(base))
    expect(options.healthVersion).toBe(true)
    const variables = engineVariables({ ...options, artifactSha256: 'a'.repeat(64) })
    expect(variables['EC2D_HEALTH_VERSION']).toBe('true')
  })

  it("is false with 'false', in deploy and rollback mode", () => {
    const inputs = inputsOf({ ...base, 'health-version': 'false' })
    expect(readRemoteOptions(inputs).healthVersion).toBe(false)
    expect(readRemoteOptions(inputs, 'rollback').healthVersion).toBe(false)
  })

  it('refuses anything else, naming the input, the value and the rule', () => {
    let error: unknown
    try {
      readRemoteOptions(inputsOf({ ...base, 'health-version': 'no' }))
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(ConfigurationError)
    expect((error as Error).message).toBe(
      `input 'health-version': "no" is not valid: use 'true' or 'false'`,
    )
  })
})

// Each engine option has one range and one default (ENGINE_OPTIONS): the reader of the
// inputs and the renderer of the engine's variables both apply it.
describe('the engine options table', () => {
  const counts = [ENGINE_OPTIONS.healthRetries, ENGINE_OPTIONS.keepReleases]
  const durations = [ENGINE_OPTIONS.healthInterval, ENGINE_OPTIONS.lockTimeout]
  const key = {
    'health-retries': 'healthRetries',
    'keep-releases': 'keepReleases',
    'health-interval': 'healthIntervalMs',
    'lock-timeout': 'lockTimeoutMs',
  } as const
  const read = (input: string, value: string) =>
    readRemoteOptions(inputsOf({ ...base, [input]: value }))[key[input as keyof typeof key]]
  const render = (input: string, value: number) => () =>
    engineVariables({
      ...readRemoteOptions(inputsOf(base)),
      [key[input as keyof typeof key]]: value,
      artifactSha256: 'a'.repeat(64),
    })

  it.each(counts)(
    '$input: the reader and the renderer accept $min to $max, nothing beyond',
    option => {
      const rule = `use a whole number from ${option.min} to ${option.max}`
      expect(read(option.input, String(option.min))).toBe(option.min)
      expect(read(option.input, String(option.max))).toBe(option.max)
      expect(render(option.input, option.max)).not.toThrow()
      for (const bad of [option.min - 1, option.max + 1]) {
        expect(() => read(option.input, String(bad))).toThrow(
          `input '${option.input}': "${bad}" is not valid: ${rule}`,
        )
        expect(render(option.input, bad)).toThrow(
          `input '${option.input}': "${bad}" is not valid: ${rule}`,
        )
      }
    },
  )

  it.each(durations)(
    '$input: the reader and the renderer accept $minMs to $maxMs ms, nothing beyond',
    option => {
      expect(read(option.input, `${option.minMs}ms`)).toBe(option.minMs)
      expect(read(option.input, `${option.maxMs}ms`)).toBe(option.maxMs)
      expect(render(option.input, option.minMs)).not.toThrow()
      expect(render(option.input, option.maxMs)).not.toThrow()
      for (const bad of [option.minMs - 1, option.maxMs + 1]) {
        expect(() => read(option.input, `${bad}ms`)).toThrow(`input '${option.input}'`)
        expect(render(option.input, bad)).toThrow(`input '${option.input}'`)
      }
    },
  )

  it('health-retries stops at 100 on both sides (the reader used to let 1000 through)', () => {
    expect(() => read('health-retries', '101')).toThrow(
      `input 'health-retries': "101" is not valid: use a whole number from 1 to 100`,
    )
    expect(read('health-retries', '100')).toBe(100)
  })

  it('applies the defaults of the table, which are the engine script’s own', () => {
    const options = readRemoteOptions(inputsOf(base))
    expect(options).toMatchObject({
      healthRetries: ENGINE_OPTIONS.healthRetries.default,
      healthIntervalMs: ENGINE_OPTIONS.healthInterval.defaultMs,
      keepReleases: ENGINE_OPTIONS.keepReleases.default,
      lockTimeoutMs: ENGINE_OPTIONS.lockTimeout.defaultMs,
    })
    for (const [variable, value] of [
      ['HEALTH_RETRIES', ENGINE_OPTIONS.healthRetries.default],
      ['HEALTH_INTERVAL_MS', ENGINE_OPTIONS.healthInterval.defaultMs],
      ['KEEP_RELEASES', ENGINE_OPTIONS.keepReleases.default],
      ['LOCK_TIMEOUT_MS', ENGINE_OPTIONS.lockTimeout.defaultMs],
    ] as const) {
      expect(ENGINE_SCRIPT).toContain(`: "\${EC2D_${variable}:=${value}}"`)
    }
    const fleet = readFleetDeployOptions(
      inputsOf({ ...base, 'instance-ids': 'i-0123456789abcdef0' }),
    )
    expect(fleet.executionTimeoutSeconds).toBe(ENGINE_OPTIONS.executionTimeout.defaultMs / 1000)
  })
})

describe('the run URL and commit the engine records', () => {
  const env = {
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_REPOSITORY: 'octo-org/octo-repo',
    GITHUB_RUN_ID: '42',
    GITHUB_SHA: 'c0ffee0000000000000000000000000000000001',
  }
  it('come from the runner through the one run URL builder', () => {
    const options = readRemoteOptions(inputsOf(base), undefined, env)
    expect(options.runUrl).toBe('https://github.com/octo-org/octo-repo/actions/runs/42')
    expect(options.commit).toBe(env.GITHUB_SHA)
    expect(readRemoteOptions(inputsOf(base), 'rollback', env).commit).toBeUndefined()
  })
  it('refuse a malformed GITHUB_SERVER_URL, naming it', () => {
    expect(() =>
      readRemoteOptions(inputsOf(base), undefined, { ...env, GITHUB_SERVER_URL: 'http://x y' }),
    ).toThrow('GITHUB_SERVER_URL "http://x y" is not valid')
  })
})

// strategy blue-green: its inputs reach the engine in deploy and in rollback mode (verify-health
// switches back the same way), by the renderer's own rules, and fail the step while reading.
describe('strategy and the blue-green inputs', () => {
  const blueGreen = {
    ...base,
    strategy: 'blue-green',
    'proxy-upstream-file': '/etc/nginx/upstreams/app.conf',
    'restart-command': './bin/app-ctl restart "app-$DEPLOY_SLOT"',
    'health-url': 'http://127.0.0.1:{port}/health',
  }
  const message = (values: Record<string, string>, mode?: 'rollback') => {
    try {
      readRemoteOptions(inputsOf(values), mode)
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigurationError)
      return (error as Error).message
    }
    throw new Error(`accepted ${JSON.stringify(values)}`)
  }

  it('in-place (the default) reads none of them: its options are what they were', () => {
    const options = readRemoteOptions(inputsOf({ ...base, 'slot-ports': '1,1', 'drain-time': 'x' }))
    expect(Object.keys(options).filter(key => /strategy|slot|proxy|drain/i.test(key))).toEqual([])
  })

  it("blue-green takes the engine's defaults, keeps {port} in health-url, in both modes", () => {
    for (const mode of [undefined, 'rollback'] as const) {
      const options = readRemoteOptions(inputsOf(blueGreen), mode)
      expect(options).toMatchObject({
        strategy: 'blue-green',
        slotPorts: [...BLUE_GREEN_DEFAULTS.slotPorts],
        proxyUpstreamFile: '/etc/nginx/upstreams/app.conf',
        proxyReloadCommand: BLUE_GREEN_DEFAULTS.proxyReloadCommand,
        drainTimeMs: ENGINE_OPTIONS.drainTime.defaultMs,
        keepOldSlot: false,
        healthUrl: 'http://127.0.0.1:{port}/health',
      })
      expect(engineVariables({ ...options, artifactSha256: 'a'.repeat(64) })).toMatchObject({
        EC2D_STRATEGY: 'blue-green',
        EC2D_SLOT_PORTS: '8081,8082',
        EC2D_HEALTH_URL: 'http://127.0.0.1:{port}/health',
        EC2D_DRAIN_TIME_MS: '10000',
        EC2D_KEEP_OLD_SLOT: 'false',
      })
    }
    // The table's defaults are the engine script's own.
    expect(ENGINE_SCRIPT).toContain(`: "\${EC2D_SLOT_PORTS:=${BLUE_GREEN_DEFAULTS.slotPorts}}"`)
    expect(ENGINE_SCRIPT).toContain(
      `: "\${EC2D_DRAIN_TIME_MS:=${ENGINE_OPTIONS.drainTime.defaultMs}}"`,
    )
    expect(ENGINE_SCRIPT).toContain(
      `: "\${EC2D_PROXY_RELOAD_COMMAND:=${BLUE_GREEN_DEFAULTS.proxyReloadCommand}}"`,
    )
  })

  it('reads every blue-green input as written', () => {
    const options = readRemoteOptions(
      inputsOf({
        ...blueGreen,
        'slot-ports': ' 9001, 9002 ',
        'proxy-reload-command': 'systemctl reload nginx',
        'drain-time': '1m30s',
        'keep-old-slot': 'true',
      }),
      'rollback',
    )
    expect(options).toMatchObject({
      slotPorts: [9001, 9002],
      proxyReloadCommand: 'systemctl reload nginx',
      drainTimeMs: 90_000,
      keepOldSlot: true,
    })
  })

  it.each(['8081', '8081,8081', '0,8082', '8081,65536', '8081;id', '8081,8082,8083', 'blue,green'])(
    'slot-ports %j: the error names the input, the value as written and the rule',
    ports => {
      expect(message({ ...blueGreen, 'slot-ports': ports })).toBe(
        `input 'slot-ports': ${JSON.stringify(ports)} is not valid: ` +
          'use two distinct ports from 1 to 65535, blue first, such as 8081,8082',
      )
    },
  )

  it.each([
    [
      { strategy: 'canary' },
      `input 'strategy': "canary" is not valid: use one of 'in-place', 'blue-green'`,
    ],
    [
      { 'proxy-upstream-file': '' },
      "input 'proxy-upstream-file' is required when strategy is 'blue-green'",
    ],
    [
      { 'proxy-upstream-file': 'upstreams/app.conf' },
      `input 'proxy-upstream-file': "upstreams/app.conf" is not valid: use an absolute, normalised path`,
    ],
    [
      { 'proxy-upstream-file': '/etc/nginx/../app.conf' },
      `input 'proxy-upstream-file': "/etc/nginx/../app.conf" is not valid`,
    ],
    [
      { 'restart-command': '' },
      "input 'restart-command' is required when strategy is 'blue-green'",
    ],
    [
      { 'health-url': 'http://127.0.0.1:8081/health' },
      `input 'health-url': "http://127.0.0.1:8081/health" is not valid: with blue-green, write the slot's port as {port}`,
    ],
    [{ 'drain-time': '2h' }, `input 'drain-time': "2h" is not valid: use a duration from 0s to 1h`],
    [
      { 'keep-old-slot': 'yes' },
      `input 'keep-old-slot': "yes" is not valid: use 'true' or 'false'`,
    ],
    [
      { 'proxy-reload-command': 'nginx -s reload\u0007' },
      `input 'proxy-reload-command': "nginx -s reload\\u0007" is not valid: use printable text`,
    ],
  ])('refuses %j while reading the inputs, in both modes', (bad, expected) => {
    expect(message({ ...blueGreen, ...bad })).toContain(expected)
    expect(message({ ...blueGreen, ...bad }, 'rollback')).toContain(expected)
  })

  it('drain-time: the reader and the renderer take the one range of ENGINE_OPTIONS, nothing beyond', () => {
    const option = ENGINE_OPTIONS.drainTime
    const read = (value: string) =>
      readRemoteOptions(inputsOf({ ...blueGreen, 'drain-time': value })).drainTimeMs
    const render = (drainTimeMs: number) => () =>
      engineVariables({
        ...readRemoteOptions(inputsOf(blueGreen)),
        drainTimeMs,
        artifactSha256: 'a'.repeat(64),
      })
    expect(read(`${option.minMs}ms`)).toBe(option.minMs)
    expect(read(`${option.maxMs}ms`)).toBe(option.maxMs)
    expect(render(option.maxMs)).not.toThrow()
    expect(() => read(`${option.maxMs + 1}ms`)).toThrow(`input 'drain-time'`)
    for (const bad of [option.minMs - 1, option.maxMs + 1]) {
      expect(render(bad)).toThrow(`input 'drain-time': "${bad}" is not valid`)
    }
  })

  it('refuses {port} in health-url with in-place, where no slot gives it a value', () => {
    expect(message({ ...base, 'health-url': 'http://127.0.0.1:{port}/health' })).toContain(
      `input 'health-url': "http://127.0.0.1:{port}/health" is not valid: {port} is for strategy 'blue-green' only`,
    )
  })
})
