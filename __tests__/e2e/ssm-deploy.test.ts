import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { promisify } from 'node:util'
import { join } from 'node:path'
import { startSandbox, type Sandbox } from '../../dev/aws-sandbox/src/index.js'
import { Site, sampleEntries, writeZip } from '../remote/support/site.js'
import { runBundledAction, startBundledAction } from '../support/bundled-action.js'

// ssm-deploy, bundled, against the sandbox: real SSM protocol, the real host engine under sh,
// a real service on loopback. One host here; several hosts are covered by the demo.
let sandbox: Sandbox
let site: Site
const HOST = 'i-0000000000000d001'
const OFFLINE = 'i-0000000000000d002'

beforeAll(async () => {
  site = await Site.create()
  sandbox = await startSandbox({
    instances: [
      { id: HOST, name: 'web-1' },
      { id: OFFLINE, name: 'web-2', faults: { agentOffline: true } },
    ],
    s3: { buckets: ['artifacts'] },
  })
})
afterAll(async () => {
  await sandbox?.close()
  await site?.close()
})

const COMMIT = 'abc1234def5678abc1234def5678abc1234def56'
const env = () =>
  ({ ...sandbox.env, GITHUB_REPOSITORY: 'acme/app', GITHUB_SHA: COMMIT }) as Record<string, string>
const hostInputs = (version: string, variant?: 'unhealthy') => {
  const artifact = site.artifact(
    version,
    variant ? sampleEntries(version, variant) : sampleEntries(version),
  )
  return {
    'instance-ids': JSON.stringify([HOST]),
    version,
    environment: 'develop',
    'app-name': 'sample',
    'deploy-dir': site.deployDir,
    'artifact-uri': artifact.artifactUri,
    'artifact-sha256': artifact.artifactSha256,
    download: 'presigned',
    'shared-paths': '.env, logs/',
    'restart-command': `${site.service} restart`,
    'health-url': site.healthUrl,
    'health-retries': '3',
    'health-interval': '100ms',
    timeout: '2m',
  }
}
const results = (outputs: Record<string, string>) =>
  JSON.parse(outputs.results ?? '[]') as Record<string, unknown>[]

describe('ssm-deploy, bundled, against the sandbox', () => {
  it('deploys a first release and reports it per instance', async () => {
    const run = await runBundledAction('ssm-deploy', { inputs: hostInputs('v1.0.0'), env: env() })
    expect(run.errors).toEqual([])
    expect(run.outputs).toMatchObject({
      status: 'success',
      succeeded: '1',
      failed: '0',
      'rolled-back': '0',
      'previous-version': '',
    })
    expect(run.outputs['command-id']).toMatch(/^[0-9a-f-]{36}$/)
    expect(results(run.outputs)[0]).toMatchObject({
      'instance-id': HOST,
      name: 'web-1',
      status: 'success',
      'exit-code': 0,
      'previous-version': '',
      version: 'v1.0.0',
      'rolled-back': false,
    })
    // No run-as: the host warns that hooks run as root, and the step repeats it as a warning.
    const rootHooks =
      'hooks run as root because run-as is empty: set run-as to the app user, or to root to say so'
    expect(results(run.outputs)[0]?.warnings).toEqual([rootHooks])
    expect(run.warnings).toContain(`${HOST}: ${rootHooks}`)
    expect(await site.servingVersion()).toBe('v1.0.0')
    // The release knows itself: its REVISION names the version and the workflow's commit.
    expect(readFileSync(join(site.deployDir, 'current', 'REVISION'), 'utf8')).toMatch(
      new RegExp(`^version=v1\\.0\\.0\\ncommit=${COMMIT}\\ntime=\\S+Z\\nenvironment=develop\\n$`),
    )
    // The host's output is in a log group, fenced so it cannot run workflow commands.
    expect(run.stdout).toMatch(
      new RegExp(
        `::group::${HOST} \\(web-1\\): Success, exit 0\\n::stop-commands::([0-9a-f-]{36})\\n[\\s\\S]*DEPLOY_RESULT [\\s\\S]*::\\1::\\n::endgroup::`,
      ),
    )
  })

  it('deploys the next release from S3 with the instance role, naming the previous version', async () => {
    const zip = join(site.root, 'v1.1.0.zip')
    const sha256 = writeZip(zip, sampleEntries('v1.1.0'))
    // Asynchronous: s3rver runs in this process and must keep answering while the CLI uploads.
    await promisify(execFile)('aws', ['s3', 'cp', zip, 's3://artifacts/sample/v1.1.0.zip'], {
      env: { ...process.env, ...env() },
      timeout: 60_000,
    })
    const run = await runBundledAction('ssm-deploy', {
      inputs: {
        ...hostInputs('v1.1.0'),
        download: 'instance-role',
        'artifact-uri': 's3://artifacts/sample/v1.1.0.zip',
        'artifact-sha256': sha256,
      },
      env: env(),
    })
    expect(run.errors).toEqual([])
    expect(run.outputs).toMatchObject({ status: 'success', 'previous-version': 'v1.0.0' })
    expect(await site.servingVersion()).toBe('v1.1.0')
  })

  it('rolls a host back when the new release fails its health gate, and fails the step', async () => {
    const run = await runBundledAction('ssm-deploy', {
      inputs: hostInputs('v1.2.0', 'unhealthy'),
      env: env(),
    })
    expect(run.exitCode).toBe(1)
    expect(run.outputs).toMatchObject({
      status: 'rolled-back',
      'rolled-back': '1',
      'previous-version': 'v1.1.0',
    })
    expect(results(run.outputs)[0]).toMatchObject({
      status: 'rolled-back',
      'rolled-back': true,
      'exit-code': 20,
    })
    expect(run.errors.join('\n')).toContain('deploy rolled-back: 1 of 1 instance(s) did not deploy')
    expect(await site.servingVersion()).toBe('v1.1.0')
  })

  it('rolls back to a named version that is still on the host', async () => {
    const run = await runBundledAction('ssm-deploy', {
      inputs: {
        'instance-ids': HOST,
        mode: 'rollback',
        version: 'v1.0.0',
        'deploy-dir': site.deployDir,
        'restart-command': `${site.service} restart`,
        'health-url': site.healthUrl,
      },
      env: env(),
    })
    expect(run.errors).toEqual([])
    expect(run.outputs).toMatchObject({ status: 'success', 'previous-version': 'v1.1.0' })
    expect(await site.servingVersion()).toBe('v1.0.0')
  })

  it('counts an instance whose agent is offline as failed, never as deployed', async () => {
    const run = await runBundledAction('ssm-deploy', {
      inputs: { ...hostInputs('v1.3.0'), 'instance-ids': OFFLINE },
      env: env(),
    })
    expect(run.exitCode).toBe(1)
    expect(run.outputs.status).toBe('failed')
    expect(results(run.outputs)[0]).toMatchObject({ 'instance-id': OFFLINE, status: 'failed' })
    expect(String(results(run.outputs)[0]?.reason)).toMatch(/could not be delivered/)
  })

  it('gives up on an offline agent within the timeout it was given, not a quarter of an hour', async () => {
    const offline = sandbox.instances.find(i => i.id === OFFLINE)
    // The agent never picks the command up: SSM holds it Pending until the delivery timeout.
    offline?.setAgentOffline('delivery-timeout')
    try {
      const started = Date.now()
      const run = await runBundledAction('ssm-deploy', {
        inputs: { ...hostInputs('v1.3.1'), 'instance-ids': OFFLINE, timeout: '5s' },
        env: env(),
      })
      expect(run.exitCode).toBe(1)
      expect(results(run.outputs)[0]).toMatchObject({ 'instance-id': OFFLINE, status: 'failed' })
      expect(String(results(run.outputs)[0]?.reason)).toMatch(/did not pick the command up/)
      // SSM was given 30 s (its minimum) to deliver, not timeout + 10 minutes.
      expect(sandbox.ssm.command(run.outputs['command-id'] ?? '')?.timeoutSeconds).toBe(30)
      expect(Date.now() - started).toBeLessThan(75_000)
    } finally {
      offline?.setAgentOffline(true)
    }
  }, 120_000)

  it('explains an instance SSM does not know, and still sets every output', async () => {
    const unknown = 'i-0000000000000dead'
    const run = await runBundledAction('ssm-deploy', {
      inputs: { ...hostInputs('v1.3.2'), 'instance-ids': unknown },
      env: env(),
    })
    expect(run.exitCode).toBe(1)
    const message = run.errors.join('\n')
    expect(message).toContain(
      `SSM refused the instances of SendCommand (instances ${unknown}) in region us-east-1 (InvalidInstanceId`,
    )
    expect(message).toContain('managed by SSM (agent running, instance profile')
    expect(run.outputs).toEqual({
      'command-id': '',
      'command-ids': '[]',
      status: 'failed',
      results: '[]',
      succeeded: '0',
      failed: '0',
      'rolled-back': '0',
      untouched: '0',
      'previous-version': '',
      waves: '[]',
      'engine-key': '',
      'engine-sha256': '',
    })
  })

  it('cancels its command when the workflow is cancelled (SIGTERM)', async () => {
    const before = sandbox.faults.calls.CancelCommand ?? 0
    const started = startBundledAction('ssm-deploy', {
      inputs: { ...hostInputs('v1.4.0'), 'before-switch': 'sleep 30' },
      env: env(),
    })
    let seen = ''
    started.child.stdout?.on('data', chunk => (seen += String(chunk)))
    await new Promise<void>(resolve => {
      const timer = setInterval(() => {
        if (/Sent command/.test(seen)) {
          clearInterval(timer)
          resolve()
        }
      }, 50)
    })
    started.child.kill('SIGTERM')
    const run = await started.result
    expect(run.exitCode).toBe(1)
    expect((sandbox.faults.calls.CancelCommand ?? 0) - before).toBeGreaterThanOrEqual(1)
    expect(run.errors.join('\n')).toMatch(/cancelled: the SSM command was cancelled/)
    expect(run.errors.join('\n')).toContain(`mid-deploy on ${HOST}`)
    expect(await site.servingVersion()).toBe('v1.0.0')
  })

  it("reports 200 long shared paths as deployed: the result line survives SSM's output cut", async () => {
    const paths = Array.from({ length: 200 }, (_, i) => `${i}-${'p'.repeat(150)}`)
    const run = await runBundledAction('ssm-deploy', {
      inputs: { ...hostInputs('v1.5.0'), 'shared-paths': ['.env', ...paths].join('\n') },
      env: env(),
    })
    expect(run.errors).toEqual([])
    expect(run.outputs.status).toBe('success')
    expect(results(run.outputs)[0]?.warnings).toHaveLength(5)
    expect(await site.servingVersion()).toBe('v1.5.0')
  })

  it('refuses hooks too large for an SSM command, naming the largest, before sending anything', async () => {
    const sends = sandbox.faults.calls.SendCommand ?? 0
    const noise = (n: number) => randomBytes(n).toString('base64').slice(0, n)
    const run = await runBundledAction('ssm-deploy', {
      inputs: {
        ...hostInputs('v9.9.9'),
        'before-switch': noise(16_000),
        'stop-command': noise(16_384),
        'health-command': noise(15_000),
      },
      env: env(),
    })
    expect(run.exitCode).toBe(1)
    expect(run.errors.join('\n')).toMatch(
      /input 'stop-command' is too large: the SSM command would be \d+ bytes compressed/,
    )
    expect(sandbox.faults.calls.SendCommand ?? 0).toBe(sends)
  })

  it.each([
    [{ 'instance-ids': '["i-123; reboot"]' }, `input 'instance-ids': "i-123; reboot" is not valid`],
    [{ 'deploy-dir': 'opt/app' }, `input 'deploy-dir': "opt/app" is not valid`],
    [{ 'deploy-dir': '/opt/{app}', 'app-name': '' }, 'uses {app}, which has no value here'],
    [{ 'max-concurrency': '0' }, `input 'max-concurrency': "0" is not valid`],
    [{ 'max-errors': 'all' }, `input 'max-errors': "all" is not valid`],
    [{ version: 'v1;reboot' }, `"v1;reboot"`],
    [{ 'artifact-sha256': 'abc' }, `input 'artifact-sha256'`],
    [{ 'health-interval': 'often' }, `input 'health-interval': "often" is not valid`],
    [{ mode: 'undo' }, `input 'mode': "undo" is not valid: use one of 'deploy', 'rollback'`],
  ])('fails clearly on %j, before sending anything', async (inputs, message) => {
    const sends = sandbox.faults.calls.SendCommand ?? 0
    const run = await runBundledAction('ssm-deploy', {
      inputs: { ...hostInputs('v9.9.9'), ...inputs },
      env: env(),
    })
    expect(run.exitCode).toBe(1)
    expect(run.errors.join('\n')).toContain(message)
    expect(sandbox.faults.calls.SendCommand ?? 0).toBe(sends)
  })
})
