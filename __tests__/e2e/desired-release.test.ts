// The desired release written by the bundles, as the runner runs them against the sandbox:
// ssm-deploy's record-engine stores the engine (and refuses what a host could not run later),
// record-release makes the record desired.json, compare-and-swap, and the bootstrap on a host
// then runs exactly the stored engine.
import { createHash } from 'node:crypto'
import { createServer, request as httpRequest, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { ListCommandsCommand, type SSMClient } from '@aws-sdk/client-ssm'
import { sandboxClients, startSandbox, type Sandbox } from '../../dev/aws-sandbox/src/index.js'
import { bootstrapCommands, parseResultLine } from '../../packages/remote/src/index.js'
import {
  desiredReleaseKey,
  listDeploymentRecords,
  readDesiredRelease,
} from '../../packages/release-store/src/index.js'
import { Site, sampleEntries, writeZip } from '../remote/support/site.js'
import { runOnHosts } from '../remote/support/host-commands.js'
import { sandboxS3 } from '../sandbox/helpers.js'
import { runBundledAction, type ActionRun } from '../support/bundled-action.js'

const HOST = 'i-0000000000000d501'
const BUCKET = 'desired-artifacts'
const COMMON = { app: 'sample', environment: 'develop', bucket: BUCKET }
const WHERE = { bucket: BUCKET, app: 'sample', environment: 'develop' }

let sandbox: Sandbox
let site: Site
let s3: S3Client
let ssm: SSMClient

beforeAll(async () => {
  site = await Site.create()
  sandbox = await startSandbox({
    instances: [{ id: HOST, name: 'web-1' }],
    s3: { buckets: [BUCKET] },
    invocationVisibilityDelayMs: 0,
  })
  s3 = sandboxS3(sandbox)
  ssm = sandboxClients(sandbox).ssm
})
afterAll(async () => {
  s3?.destroy()
  ssm?.destroy()
  await sandbox?.close()
  await site?.close()
})

const env = (run = '7') =>
  ({
    ...sandbox.env,
    GITHUB_REPOSITORY: 'acme/app',
    GITHUB_SHA: 'c0ffee0000000000000000000000000000000007',
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_RUN_ID: run,
    GITHUB_ACTOR: 'octocat',
  }) as Record<string, string>

function succeeded(run: ActionRun): Record<string, string> {
  if (run.exitCode !== 0) throw new Error(`the action failed:\n${run.stdout}\n${run.stderr}`)
  return run.outputs
}

async function upload(version: string): Promise<Record<string, string>> {
  const zip = join(site.root, `${version}.zip`)
  writeZip(zip, sampleEntries(version))
  return succeeded(
    await runBundledAction('s3-upload', { env: env(), inputs: { ...COMMON, version, file: zip } }),
  )
}

function deploy(version: string, artifact: Record<string, string>, extra: Record<string, string>) {
  return runBundledAction('ssm-deploy', {
    timeoutMs: 180_000,
    env: env(),
    inputs: {
      'instance-ids': JSON.stringify([HOST]),
      version,
      environment: COMMON.environment,
      'app-name': COMMON.app,
      'deploy-dir': site.deployDir,
      'artifact-uri': artifact.uri ?? '',
      'artifact-sha256': artifact.sha256 ?? '',
      'restart-command': `${site.service} restart`,
      'health-url': site.healthUrl,
      'health-retries': '5',
      'health-interval': '100ms',
      timeout: '2m',
      ...extra,
    },
  })
}

function record(
  version: string,
  artifact: Record<string, string>,
  extra: Record<string, string>,
  options: { run?: string; s3Endpoint?: string } = {},
) {
  return runBundledAction('record-release', {
    env: {
      ...env(options.run),
      ...(options.s3Endpoint ? { AWS_ENDPOINT_URL_S3: options.s3Endpoint } : {}),
    },
    inputs: {
      ...COMMON,
      version,
      'deploy-status': 'success',
      key: artifact.key ?? '',
      sha256: artifact.sha256 ?? '',
      size: artifact.size ?? '',
      ...extra,
    },
  })
}

async function objectBytes(key: string): Promise<Buffer> {
  const object = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))
  return Buffer.from(await object.Body!.transformToByteArray())
}

const sha256Of = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex')

/** The bash the rendered command unpacks: its gzip + base64 lines, decoded. */
function unpacked(script: string): string {
  const lines = script.trimEnd().split('\n')
  const start = lines.findIndex(line => line.startsWith("base64 -d <<'EC2D_ENGINE_END'"))
  expect([start > 0, lines.at(-1)]).toEqual([true, 'EC2D_ENGINE_END'])
  return gunzipSync(Buffer.from(lines.slice(start + 1, -1).join(''), 'base64')).toString('utf8')
}

let v1: Record<string, string>
let deployed: Record<string, string>

describe('ssm-deploy record-engine', () => {
  it('refuses presigned downloads and a missing environment before sending anything', async () => {
    const artifact = { uri: 'https://example.com/x.zip', sha256: 'a'.repeat(64) }
    const presigned = await deploy('v1.0.0', artifact, {
      'record-engine': 'true',
      download: 'presigned',
    })
    expect(presigned.exitCode).toBe(1)
    expect(presigned.stdout).toContain("input 'record-engine' is true but input 'download'")
    expect(presigned.outputs['command-id']).toBe('')
    expect(presigned.outputs['engine-key']).toBe('')
    expect(presigned.outputs['engine-sha256']).toBe('')

    const noEnvironment = await deploy(
      'v1.0.0',
      { uri: `s3://${BUCKET}/sample/develop/v1.0.0.zip`, sha256: 'a'.repeat(64) },
      { 'record-engine': 'true', environment: '' },
    )
    expect(noEnvironment.exitCode).toBe(1)
    expect(noEnvironment.stdout).toContain(
      "input 'record-engine' is true but input 'environment' is empty",
    )
    expect((await ssm.send(new ListCommandsCommand({}))).Commands).toEqual([])
  }, 120_000)

  it('stores the engine under the environment, named by its sha256, and deploys', async () => {
    v1 = await upload('v1.0.0')
    deployed = succeeded(await deploy('v1.0.0', v1, { 'record-engine': 'true' }))
    expect(deployed.status).toBe('success')
    expect(deployed['engine-sha256']).toMatch(/^[0-9a-f]{64}$/)
    expect(deployed['engine-key']).toBe(`sample/develop/engine/${deployed['engine-sha256']}.sh`)
    const stored = await objectBytes(deployed['engine-key']!)
    expect(sha256Of(stored)).toBe(deployed['engine-sha256'])
    const engine = unpacked(stored.toString('utf8'))
    expect(engine).toContain("EC2D_MODE='deploy'")
    expect(engine).toContain(`EC2D_ARTIFACT_URI='${v1.uri}'`)
    expect(engine).toContain("EC2D_VERSION='v1.0.0'")
    expect(engine).toContain("EC2D_ALLOW_DOWNGRADE='true'")
    expect(engine).toContain(`EC2D_RESTART_COMMAND='${site.service} restart'`)
  }, 300_000)

  it('without record-engine stores nothing and outputs empty engine fields', async () => {
    const again = succeeded(await deploy('v1.0.0', v1, {}))
    expect([again['engine-key'], again['engine-sha256']]).toEqual(['', ''])
  }, 300_000)
})

describe('record-release with the engine', () => {
  it('without engine inputs writes the record and no desired.json', async () => {
    const out = succeeded(await record('v1.0.0', v1, {}))
    expect(out.recorded).toBe('true')
    expect(out['desired-key']).toBe('')
    expect(await readDesiredRelease(s3, BUCKET, 'sample', 'develop')).toBeUndefined()
  }, 120_000)

  it('refuses an engine key outside the environment, naming the input', async () => {
    const out = await record('v1.0.0', v1, {
      'engine-key': `sample/prod/engine/${deployed['engine-sha256']}.sh`,
      'engine-sha256': deployed['engine-sha256']!,
    })
    expect(out.exitCode).toBe(1)
    expect(out.stdout).toContain("input 'engine-key'")
    expect(out.stdout).toContain('sample/develop/engine/')
  }, 120_000)

  it('sets desired.json from the record it writes; the bootstrap then runs exactly that engine', async () => {
    const out = succeeded(
      await record('v1.0.0', v1, {
        'engine-key': deployed['engine-key']!,
        'engine-sha256': deployed['engine-sha256']!,
      }),
    )
    expect(out['desired-key']).toBe(desiredReleaseKey('sample', 'develop'))
    const desired = await readDesiredRelease(s3, BUCKET, 'sample', 'develop')
    expect(desired).toMatchObject({
      recordKey: out['record-key'],
      engine: { key: deployed['engine-key'], sha256: deployed['engine-sha256'] },
      record: { version: 'v1.0.0', sha256: v1.sha256, mode: 'deploy' },
    })

    const [run] = await runOnHosts(sandbox, ssm, [HOST], bootstrapCommands(WHERE))
    expect(run!.stdout).toContain(
      `desired release of sample/develop is v1.0.0 (engine ${deployed['engine-sha256']})`,
    )
    expect([run!.code, parseResultLine(run!.stdout)?.status]).toEqual([0, 'noop'])
    expect(await site.servingVersion()).toBe('v1.0.0')
  }, 300_000)

  it('fails a lost race naming the winner; its deployment record stays written', async () => {
    // A proxy in front of the sandbox's S3: when this run writes desired.json, another run's
    // write lands first, between this run's read and its compare-and-swap write.
    const target = new URL(sandbox.env.AWS_ENDPOINT_URL_S3!)
    const current = await objectBytes(desiredReleaseKey('sample', 'develop'))
    const winner = {
      ...(JSON.parse(current.toString('utf8')) as Record<string, unknown>),
      'run-url': 'https://github.com/acme/app/actions/runs/99',
    }
    const recordsBefore = await listDeploymentRecords(s3, BUCKET, 'sample', 'develop')
    let raced = false
    const proxy: Server = createServer((incoming, outgoing) => {
      const forward = () => {
        const upstream = httpRequest(
          {
            host: target.hostname,
            port: target.port,
            method: incoming.method,
            path: incoming.url,
            headers: incoming.headers,
          },
          answer => {
            outgoing.writeHead(answer.statusCode ?? 502, answer.headers)
            answer.pipe(outgoing)
          },
        )
        incoming.pipe(upstream)
      }
      const isDesiredWrite =
        incoming.method === 'PUT' &&
        (incoming.url ?? '').split('?')[0]!.endsWith('/sample/develop/desired.json')
      if (!isDesiredWrite || raced) return forward()
      raced = true
      // The winner rewrites desired.json with another run's URL (same release otherwise).
      s3.send(
        new PutObjectCommand({
          Bucket: BUCKET,
          Key: desiredReleaseKey('sample', 'develop'),
          Body: `${JSON.stringify(winner)}\n`,
        }),
      ).then(forward, forward)
    })
    await new Promise<void>(resolve => proxy.listen(0, '127.0.0.1', resolve))
    try {
      const endpoint = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`
      const out = await record(
        'v1.0.0',
        v1,
        { 'engine-key': deployed['engine-key']!, 'engine-sha256': deployed['engine-sha256']! },
        { run: '8', s3Endpoint: endpoint },
      )
      expect(raced).toBe(true)
      expect(out.exitCode).toBe(1)
      expect(out.stdout).toContain(
        'was changed by https://github.com/acme/app/actions/runs/99 (deploy of v1.0.0',
      )
      expect(out.stdout).toContain('stays written')
      expect(out.outputs['record-key']).toBeUndefined()
    } finally {
      await new Promise(resolve => proxy.close(resolve))
    }
    const desired = await readDesiredRelease(s3, BUCKET, 'sample', 'develop')
    expect(desired?.record.runUrl).toBe('https://github.com/acme/app/actions/runs/99')
    const recordsAfter = await listDeploymentRecords(s3, BUCKET, 'sample', 'develop')
    expect(recordsAfter).toHaveLength(recordsBefore.length + 1)
  }, 120_000)
})
