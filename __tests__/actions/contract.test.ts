// The action contract: for every action, the inputs its getInputs reads are exactly those its
// action.yml declares, and its TypeScript defaults (INPUT_DEFAULTS, which getInputs applies)
// are action.yml's `default:` values.
import { describe, expect, it } from '@jest/globals'
import { readFileSync, readdirSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import { parseDuration, parseList, type InputSource } from '../../packages/kit/src/index.js'
import { repoRoot } from '../support/bundled-action.js'

interface InputsModule {
  getInputs: (source: InputSource, env: NodeJS.ProcessEnv) => unknown
  INPUT_DEFAULTS: Record<string, unknown>
}

/** The runner's variables every scenario runs with (record-release needs them all). */
const ENV: NodeJS.ProcessEnv = {
  GITHUB_SERVER_URL: 'https://github.com',
  GITHUB_REPOSITORY: 'octo-org/octo-repo',
  GITHUB_RUN_ID: '42',
  GITHUB_SHA: 'c0ffee0000000000000000000000000000000001',
  GITHUB_ACTOR: 'octocat',
  GITHUB_REF: 'refs/heads/main',
  RUNNER_TEMP: '/tmp/runner-temp',
}
const INSTANCE = 'i-0123456789abcdef0'
const SHA256 = 'a'.repeat(64)
/** Strategy blue-green with what it requires: the branch that reads its own inputs. */
const BLUE_GREEN = {
  strategy: 'blue-green',
  'proxy-upstream-file': '/etc/nginx/upstreams/web.conf',
  'restart-command': './bin/app-ctl restart',
  'health-url': 'http://127.0.0.1:{port}/health',
}

/**
 * Per action, the input values of scenarios that between them take every branch of its
 * getInputs (minimal required values, and the switches that make it read more).
 */
const SCENARIOS: Record<string, Record<string, string>[]> = {
  'find-instance': [{}],
  'package-zip': [{ app: 'web', version: 'v1.0.0' }],
  'record-release': [
    { 'deploy-status': 'failed' },
    {
      'deploy-status': 'success',
      app: 'web',
      environment: 'dev',
      version: 'v1.0.0',
      bucket: 'my-bucket',
      key: 'web/dev/v1.0.0.zip',
      sha256: SHA256,
      size: '10',
    },
  ],
  'resolve-environment': [{ rules: 'main => dev' }],
  's3-upload': [
    { file: 'web.zip', bucket: 'my-bucket', app: 'web', environment: 'dev', version: 'v1' },
  ],
  'ssm-deploy': [
    { 'instance-ids': INSTANCE, 'app-name': 'web' },
    {
      'instance-ids': INSTANCE,
      'app-name': 'web',
      waves: '1, 25%, 100%',
      'bake-time': '5m',
      'on-failure': 'stop',
      'target-group-arns':
        'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef',
    },
    { 'instance-ids': INSTANCE, 'app-name': 'web', ...BLUE_GREEN },
  ],
  summary: [{}, { 'create-deployment': 'true', token: 'ghs_x', environment: 'dev' }],
  'verify-health': [
    { urls: 'https://example.com/health' },
    { via: 'ssm', 'instance-ids': INSTANCE, command: 'true' },
    {
      urls: 'https://example.com/health',
      'rollback-on-failure': 'true',
      'instance-ids': INSTANCE,
      'app-name': 'web',
    },
    {
      urls: 'https://example.com/health',
      'rollback-on-failure': 'true',
      'instance-ids': INSTANCE,
      'app-name': 'web',
      ...BLUE_GREEN,
    },
  ],
  'version-tag': [{ sha: ENV.GITHUB_SHA as string }, { 'push-tag': 'true', token: 'ghs_x' }],
}

interface ActionYml {
  inputs?: Record<string, { default?: string }>
}

const actions = readdirSync(join(repoRoot, 'actions')).filter(name =>
  existsSync(join(repoRoot, 'actions', name, 'action.yml')),
)

function declared(name: string): Record<string, { default?: string }> {
  const yml = parse(
    readFileSync(join(repoRoot, 'actions', name, 'action.yml'), 'utf8'),
  ) as ActionYml
  return yml.inputs ?? {}
}

/** action.yml's defaults the action applies itself: not empty, not a runner expression. */
function ownDefaults(name: string): Record<string, string> {
  return Object.fromEntries(
    Object.entries(declared(name))
      .map(([input, spec]) => [input, spec.default ?? ''] as const)
      .filter(([, value]) => value !== '' && !value.includes('${{')),
  )
}

/** An input source that records every name read. */
function recording(values: Record<string, string>): { source: InputSource; read: Set<string> } {
  const read = new Set<string>()
  return { read, source: name => (read.add(name), values[name] ?? '') }
}

async function load(name: string): Promise<InputsModule> {
  return (await import(`../../actions/${name}/inputs.js`)) as InputsModule
}

/** Whether action.yml's default text means the TypeScript default (ms for durations). */
function sameDefault(yml: string, ts: unknown): boolean {
  if (typeof ts === 'string') return yml === ts
  if (typeof ts === 'boolean') return yml === String(ts)
  if (Array.isArray(ts)) return JSON.stringify(parseList(yml)) === JSON.stringify(ts)
  if (typeof ts === 'number') {
    if (/^\d+$/.test(yml) && Number(yml) === ts) return true
    try {
      return parseDuration('default', yml) === ts
    } catch {
      return false
    }
  }
  return false
}

describe('the action contract', () => {
  it('covers every action', () => {
    expect(Object.keys(SCENARIOS).sort()).toEqual([...actions].sort())
  })

  it.each(actions)('%s: getInputs reads exactly the inputs action.yml declares', async name => {
    const { getInputs } = await load(name)
    const read = new Set<string>()
    for (const values of SCENARIOS[name] ?? []) {
      // Once as the runner calls it (action.yml's defaults filled in), once with only the values.
      for (const withDefaults of [{ ...ownDefaults(name), ...values }, values]) {
        const recorder = recording(withDefaults)
        getInputs(recorder.source, ENV)
        for (const input of recorder.read) read.add(input)
      }
    }
    expect([...read].sort()).toEqual(Object.keys(declared(name)).sort())
  })

  it.each(actions)("%s: INPUT_DEFAULTS holds action.yml's defaults", async name => {
    const { INPUT_DEFAULTS } = await load(name)
    const yml = ownDefaults(name)
    expect(Object.keys(INPUT_DEFAULTS).sort()).toEqual(Object.keys(yml).sort())
    for (const [input, value] of Object.entries(yml)) {
      expect({
        input,
        yml: value,
        ts: INPUT_DEFAULTS[input],
        same: sameDefault(value, INPUT_DEFAULTS[input]),
      }).toEqual({
        input,
        yml: value,
        ts: INPUT_DEFAULTS[input],
        same: true,
      })
    }
  })

  it.each(actions)("%s: an unset input reads as action.yml's default would", async name => {
    const { getInputs } = await load(name)
    for (const values of SCENARIOS[name] ?? []) {
      const asRunner = getInputs(recording({ ...ownDefaults(name), ...values }).source, ENV)
      expect(getInputs(recording(values).source, ENV)).toEqual(asRunner)
    }
  })
})
