import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { startSandbox, type Sandbox } from '../../dev/aws-sandbox/src/index.js'
import { Site } from '../remote/support/site.js'
import { runBundledAction } from '../support/bundled-action.js'

// verify-health, bundled: HTTP checks against real loopback servers, SSM checks and the
// rollback against the sandbox with the real host engine.
let server: Server
let base: string
const hits = new Map<string, number>()
let sandbox: Sandbox
let site: Site
const HOST = 'i-0000000000000e001'
const SICK = 'i-0000000000000e002'

beforeAll(async () => {
  server = createServer((request, response) => {
    const path = request.url ?? '/'
    const count = (hits.get(path) ?? 0) + 1
    hits.set(path, count)
    if (path === '/flaky' && count < 3) return response.writeHead(503).end('warming up')
    if (path === '/json')
      return response
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ build: { version: 'v2.0.0' } }))
    if (path === '/header') return response.writeHead(200, { 'x-app-version': 'v2.0.0' }).end('ok')
    if (path === '/slow') return void setTimeout(() => response.writeHead(200).end('late'), 2000)
    if (path === '/down') return response.writeHead(500).end('boom')
    if (path === '/plain')
      return response.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}')
    response.writeHead(200, { 'content-type': 'text/plain' }).end('status: ok, build v2.0.0')
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  site = await Site.create()
  sandbox = await startSandbox({
    instances: [
      { id: HOST, name: 'web-1' },
      { id: SICK, name: 'web-2', env: { SICK: '1' } },
    ],
  })
})
afterAll(async () => {
  server.close()
  await sandbox?.close()
  await site?.close()
})

const fast = { retries: '4', interval: '50ms', 'attempt-timeout': '1s' }
const env = () => sandbox.env as unknown as Record<string, string>
const parsed = (value: string | undefined) =>
  JSON.parse(value ?? 'null') as Record<string, unknown>[]

describe('verify-health over HTTP', () => {
  it('passes a healthy URL, logging each attempt', async () => {
    const run = await runBundledAction('verify-health', { inputs: { urls: `${base}/ok`, ...fast } })
    expect(run.exitCode).toBe(0)
    expect(run.outputs).toMatchObject({ healthy: 'true', attempts: '1', 'rolled-back': 'false' })
    expect(run.stdout).toMatch(new RegExp(`${base}/ok attempt 1/4: healthy \\(200\\), \\d+ ms`))
  })

  it('retries until a warming service answers', async () => {
    const run = await runBundledAction('verify-health', {
      inputs: { urls: `${base}/flaky`, ...fast },
    })
    expect(run.outputs).toMatchObject({ healthy: 'true', attempts: '3' })
    expect(run.stdout).toContain('attempt 1/4: unhealthy (status 503)')
  })

  it.each([
    ['json:build.version', '/json'],
    ['header:x-app-version', '/header'],
    ['auto', '/header'],
    ['body', '/ok'],
  ])('checks the served version from %s', async (source, path) => {
    const good = await runBundledAction('verify-health', {
      inputs: {
        urls: `${base}${path}`,
        'expect-version': 'v2.0.0',
        'version-source': source,
        ...fast,
      },
    })
    expect(good.outputs.healthy).toBe('true')
    const stale = await runBundledAction('verify-health', {
      inputs: {
        urls: `${base}${path}`,
        'expect-version': 'v3.0.0',
        'version-source': source,
        ...fast,
        retries: '1',
      },
    })
    expect(stale.exitCode).toBe(1)
    expect(parsed(stale.outputs.results)[0]?.detail).toMatch(
      /serves version "v2.0.0", not "v3.0.0"|no version found/,
    )
  })

  it('says in one line what an endpoint without the version must return, and how to opt out', async () => {
    const run = await runBundledAction('verify-health', {
      inputs: { urls: `${base}/plain`, 'expect-version': 'v2.0.0', ...fast, retries: '1' },
    })
    expect(run.exitCode).toBe(1)
    const detail = String(parsed(run.outputs.results)[0]?.detail)
    expect(detail).toBe(
      'no version found (auto): the endpoint must return "v2.0.0" as the JSON field version, ' +
        "the header X-App-Version, or text in the body, e.g. read from the release's REVISION " +
        "file or $DEPLOY_VERSION; to skip this check, leave input 'expect-version' empty " +
        "(deploy.yml: 'verify-version: false')",
    )
    expect(detail).not.toContain('\n')
    const unchecked = await runBundledAction('verify-health', {
      inputs: { urls: `${base}/plain`, ...fast, retries: '1' },
    })
    expect(unchecked.outputs.healthy).toBe('true')
  })

  it('matches the body by substring or /regex/', async () => {
    const ok = await runBundledAction('verify-health', {
      inputs: { urls: `${base}/ok`, 'expect-body': '/build v\\d+\\.\\d+/', ...fast },
    })
    expect(ok.outputs.healthy).toBe('true')
    const bad = await runBundledAction('verify-health', {
      inputs: { urls: `${base}/ok`, 'expect-body': 'maintenance', ...fast, retries: '1' },
    })
    expect(parsed(bad.outputs.results)[0]?.detail).toBe('body does not match maintenance')
  })

  it('fails an unhealthy URL with its last status, without rolling back by default', async () => {
    const run = await runBundledAction('verify-health', {
      inputs: { urls: `${base}/ok, ${base}/down`, ...fast },
    })
    expect(run.exitCode).toBe(1)
    expect(run.outputs).toMatchObject({
      healthy: 'false',
      'rolled-back': 'false',
      'rollback-status': '',
    })
    expect(parsed(run.outputs.results)).toEqual([
      expect.objectContaining({ target: `${base}/ok`, healthy: true, status: '200' }),
      expect.objectContaining({
        target: `${base}/down`,
        healthy: false,
        status: '500',
        attempts: 4,
        detail: 'status 500',
      }),
    ])
    expect(run.errors.join('\n')).toContain(`unhealthy: ${base}/down: status 500`)
  })

  it('gives up on an attempt after attempt-timeout and on the check after timeout', async () => {
    const run = await runBundledAction('verify-health', {
      inputs: {
        urls: `${base}/slow`,
        retries: '50',
        interval: '100ms',
        'attempt-timeout': '300ms',
        timeout: '2s',
      },
    })
    expect(run.exitCode).toBe(1)
    const result = parsed(run.outputs.results)[0]
    expect(result?.detail).toBe('no answer within 300 ms')
    expect(Number(result?.attempts)).toBeLessThan(50)
    expect(Number(run.outputs['duration-ms'])).toBeLessThan(6000)
  })

  it.each([
    [{ urls: '' }, "input 'urls' is required with via: http"],
    [
      { urls: 'ftp://x/y' },
      `input 'urls': "ftp://x/y" is not valid: use http(s) URLs without credentials`,
    ],
    [{ urls: 'https://user:pw@x/' }, 'without credentials'],
    [{ urls: 'http://x/', 'expect-status': 'ok' }, `input 'expect-status': "ok" is not valid`],
    [
      { urls: 'http://x/', 'expect-body': '/(/' },
      `input 'expect-body': "/(/" is not a valid regular expression`,
    ],
    [
      { urls: 'http://x/', 'version-source': 'cookie:v' },
      `input 'version-source': "cookie:v" is not valid`,
    ],
    [
      { urls: 'http://x/', via: 'ping' },
      `input 'via': "ping" is not valid: use one of 'http', 'ssm'`,
    ],
    [{ via: 'ssm', 'instance-ids': HOST }, "input 'command' is required"],
  ])('fails clearly on %j', async (inputs, message) => {
    const run = await runBundledAction('verify-health', {
      inputs: { ...fast, ...inputs },
      env: env(),
    })
    expect(run.exitCode).toBe(1)
    expect(run.errors.join('\n')).toContain(message)
    // Later steps still find every output.
    expect(run.outputs).toEqual({
      healthy: 'false',
      attempts: '0',
      'duration-ms': '0',
      results: '[]',
      'rolled-back': 'false',
      'rollback-status': '',
      'rollback-results': '',
    })
  })
})

describe('verify-health through SSM', () => {
  it('runs the command on each host and judges each one', async () => {
    const run = await runBundledAction('verify-health', {
      inputs: {
        via: 'ssm',
        'instance-ids': JSON.stringify([HOST, SICK]),
        command: 'test -z "$SICK"',
        ...fast,
        retries: '2',
      },
      env: env(),
    })
    expect(run.exitCode).toBe(1)
    const results = parsed(run.outputs.results)
    expect(results).toEqual([
      expect.objectContaining({ target: HOST, healthy: true, attempts: 1 }),
      expect.objectContaining({
        target: SICK,
        healthy: false,
        attempts: 2,
        status: '1',
        detail: 'the command exited with code 1',
      }),
    ])
  })
})

describe('verify-health with rollback-on-failure', () => {
  it('rolls the hosts back to the previous version and says so', async () => {
    const deployInputs = (version: string) => {
      const artifact = site.artifact(version)
      return {
        'instance-ids': HOST,
        version,
        'deploy-dir': site.deployDir,
        'artifact-uri': artifact.artifactUri,
        'artifact-sha256': artifact.artifactSha256,
        download: 'presigned',
        'restart-command': `${site.service} restart`,
        'health-url': site.healthUrl,
        'health-interval': '100ms',
      }
    }
    for (const version of ['v1.0.0', 'v2.0.0']) {
      const deployed = await runBundledAction('ssm-deploy', {
        inputs: deployInputs(version),
        env: env(),
      })
      expect(deployed.outputs.status).toBe('success')
    }
    expect(await site.servingVersion()).toBe('v2.0.0')
    // v2 is up, but the check wants something it does not serve: roll back to v1.
    const run = await runBundledAction('verify-health', {
      inputs: {
        urls: site.healthUrl,
        'expect-body': 'feature-flag-x',
        ...fast,
        'rollback-on-failure': 'true',
        'instance-ids': HOST,
        'previous-version': 'v1.0.0',
        'deploy-dir': site.deployDir,
        'restart-command': `${site.service} restart`,
        'health-url': site.healthUrl,
        'health-interval': '100ms',
      },
      env: env(),
    })
    expect(run.exitCode).toBe(1)
    expect(run.outputs).toMatchObject({
      healthy: 'false',
      'rolled-back': 'true',
      'rollback-status': 'success',
    })
    expect(run.errors.join('\n')).toContain(
      'unhealthy, rolled back: every instance serves its previous release again',
    )
    expect(await site.servingVersion()).toBe('v1.0.0')
  })

  it('says "rollback failed" when the way back fails too', async () => {
    const run = await runBundledAction('verify-health', {
      inputs: {
        urls: `${base}/down`,
        ...fast,
        retries: '1',
        'rollback-on-failure': 'true',
        'instance-ids': HOST,
        'previous-version': 'v0.0.1',
        'deploy-dir': site.deployDir,
        'restart-command': `${site.service} restart`,
      },
      env: env(),
    })
    expect(run.exitCode).toBe(1)
    expect(run.outputs).toMatchObject({
      healthy: 'false',
      'rolled-back': 'false',
      'rollback-status': 'failed',
    })
    expect(run.errors.join('\n')).toContain(
      'unhealthy, rollback failed (failed): a human is needed',
    )
    // Nothing was switched: the release serving before is still serving.
    expect(await site.servingVersion()).toBe('v1.0.0')
  })
})
