// Scale-out and drift repair in the sandbox, with the real engine under bash, the real SDK and
// S3, hosts on private networks (each serves port 3000 on its own address, checked over HTTP
// from this machine as a runner in the VPC would):
//   two hosts get v1 then v2, and the deploy stores the engine and sets desired.json;
//   a third host launched with the bootstrap as user data serves v2 by itself;
//   a host switched back to v1 by hand is repaired by a State Manager association, while the
//   hosts already on v2 do nothing (their app keeps its pid);
//   a hostile desired.json is refused and changes nothing.
// The actions do not store the engine or write desired.json yet: this test does it with the
// release-store functions, exactly as the deploy will.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { EC2Client } from '@aws-sdk/client-ec2'
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import {
  CreateAssociationCommand,
  DescribeAssociationExecutionTargetsCommand,
  DescribeAssociationExecutionsCommand,
  StartAssociationsOnceCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm'
import {
  BOOTSTRAP_EXIT_REFUSED,
  bootstrapCommands,
  parseResultLine,
  renderBootstrap,
  renderCommands,
  type EngineResult,
  type RemoteOptions,
} from '../../packages/remote/src/index.js'
import {
  desiredReleaseKey,
  storeEngineScript,
  writeDeploymentRecord,
  writeDesiredRelease,
} from '../../packages/release-store/src/index.js'
import {
  CLOUD_INIT_PATHS,
  sandboxClients,
  startSandbox,
  type Sandbox,
  type SandboxInstance,
} from '../../dev/aws-sandbox/src/index.js'
import { writeZip, type ZipEntry } from '../remote/support/site.js'
import { launchTagged, sandboxS3, until } from '../sandbox/helpers.js'
import { invocationOf, runOnHosts, webProdRecord } from '../remote/support/host-commands.js'

const ROOT = '/srv/ec2d-scale-out-test'
const BUCKET = 'scale-out-artifacts'
const WHERE = { bucket: BUCKET, app: 'web', environment: 'prod' }
const TAGS = { DeployApp: 'web', DeployEnvironment: 'prod' }
const RUN_URL = 'https://github.com/acme/web/actions/runs/'

let sandbox: Sandbox
let ssm: SSMClient
let ec2: EC2Client
let s3: S3Client
let workDir: string
const artifacts = new Map<string, { uri: string; sha256: string; size: number }>()
let launched: SandboxInstance

/** The app: answers {version} on 0.0.0.0:3000, started in its own session with a pidfile. */
function release(version: string): ZipEntry[] {
  const server = `const http = require('node:http')
http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' })
  res.end(JSON.stringify({ version: ${JSON.stringify(version)}, pid: process.pid }))
}).listen(3000, '0.0.0.0')
`
  const service = `#!/bin/sh
PIDFILE=${ROOT}/app.pid
if [ -s "$PIDFILE" ]; then
  kill "$(cat "$PIDFILE")" 2>/dev/null
  while kill -0 "$(cat "$PIDFILE")" 2>/dev/null; do sleep 0.05; done
fi
setsid sh -c 'echo $$ > "$0" && exec "$@"' "$PIDFILE" ${process.execPath} "$PWD/server.cjs" \\
  >>${ROOT}/app.log 2>&1 </dev/null &
`
  return [
    { name: 'server.cjs', content: server },
    { name: 'service.sh', content: service, mode: 0o755 },
  ]
}

function engineOptions(version: string, overrides: Partial<RemoteOptions> = {}): RemoteOptions {
  const artifact = artifacts.get(version)!
  return {
    deployDir: `${ROOT}/app`,
    appName: 'web',
    environment: 'prod',
    version,
    artifactUri: artifact.uri,
    artifactSha256: artifact.sha256,
    download: 'instance-role',
    restartCommand: 'sh service.sh',
    healthUrl: 'http://127.0.0.1:3000/health',
    healthRetries: 20,
    healthIntervalMs: 100,
    runUrl: `${RUN_URL}${version === 'v1.0.0' ? 1 : 2}`,
    ...overrides,
  }
}

/** What a host's app answers at its private address: version and pid, or undefined. */
async function serving(host: SandboxInstance): Promise<{ version: string; pid: number }> {
  const response = await fetch(`http://${host.privateIpAddress}:3000/health`, {
    signal: AbortSignal.timeout(5000),
  })
  expect(response.status).toBe(200)
  return (await response.json()) as { version: string; pid: number }
}

const byName = (name: string) => sandbox.fleet.byName(name)!
const web = () => [byName('web-1'), byName('web-2')]

beforeAll(async () => {
  sandbox = await startSandbox({
    instances: [
      { name: 'web-1', tags: TAGS, network: 'private' },
      { name: 'web-2', tags: TAGS, network: 'private' },
    ],
    privateDirs: [ROOT],
    s3: { buckets: [BUCKET] },
    invocationVisibilityDelayMs: 0,
    launch: { runningAfterMs: 50, agentOnlineAfterMs: 100, spec: { network: 'private' } },
  })
  ;({ ssm, ec2 } = sandboxClients(sandbox))
  s3 = sandboxS3(sandbox)
  workDir = mkdtempSync(join(tmpdir(), 'scale-out-'))
  for (const version of ['v1.0.0', 'v2.0.0']) {
    const file = join(workDir, `${version}.zip`)
    const sha256 = writeZip(file, release(version))
    const key = `web/prod/${version}.zip`
    const body = readFileSync(file)
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }))
    artifacts.set(version, { uri: `s3://${BUCKET}/${key}`, sha256, size: body.length })
  }
})
afterAll(async () => {
  ssm?.destroy()
  ec2?.destroy()
  s3?.destroy()
  await sandbox?.close()
  if (workDir) rmSync(workDir, { recursive: true, force: true })
})

/** The engine's result line of a run, checked to be there. */
function resultOf(stdout: string): EngineResult {
  const result = parseResultLine(stdout)
  expect(result).toBeDefined()
  return result!
}

describe('scale-out and drift repair', () => {
  it('deploys v1 then v2 to two hosts, then stores the engine and sets desired.json as the deploy will', async () => {
    for (const version of ['v1.0.0', 'v2.0.0']) {
      const runs = await runOnHosts(
        sandbox,
        ssm,
        web().map(h => h.id),
        renderCommands(engineOptions(version)),
      )
      expect(runs.map(run => [run.code, resultOf(run.stdout).status])).toEqual([
        [0, 'deployed'],
        [0, 'deployed'],
      ])
    }
    for (const host of web()) expect((await serving(host)).version).toBe('v2.0.0')

    const engine = await storeEngineScript(s3, {
      ...WHERE,
      script: `${renderCommands(engineOptions('v2.0.0')).join('\n')}\n`,
    })
    const { key: recordKey, record } = await writeDeploymentRecord(s3, {
      bucket: BUCKET,
      record: webProdRecord(BUCKET, 'v2.0.0', artifacts.get('v2.0.0')!),
    })
    await writeDesiredRelease(s3, {
      bucket: BUCKET,
      desired: { record, recordKey, engine },
      previousEtag: null,
    })
  })

  it('launches a third host whose user data is the bootstrap: it serves v2 by itself', async () => {
    const id = await launchTagged(ec2, { Name: 'web-3', ...TAGS }, renderBootstrap(WHERE))
    launched = sandbox.fleet.require(id)
    const boot = sandbox.launcher.bootOf(launched.id)!
    await boot.finished
    const log = readFileSync(join(launched.dir, CLOUD_INIT_PATHS.outputLog), 'utf8')
    expect([boot.userDataExitCode, log]).toEqual([0, expect.stringContaining('DEPLOY_RESULT ')])
    expect(resultOf(log)).toMatchObject({ status: 'deployed', version: 'v2.0.0', exitCode: 0 })
    expect((await serving(launched)).version).toBe('v2.0.0')
    await boot.online
  })

  it('repairs a host switched back to v1 by hand with a State Manager association; the hosts on v2 do nothing', async () => {
    const [web1, web2] = web() as [SandboxInstance, SandboxInstance]
    const [back] = await runOnHosts(
      sandbox,
      ssm,
      [web1.id],
      renderCommands(engineOptions('v1.0.0', { mode: 'rollback' })),
    )
    expect([back!.code, resultOf(back!.stdout).version]).toEqual([0, 'v1.0.0'])
    expect((await serving(web1)).version).toBe('v1.0.0')
    const pids = {
      web2: (await serving(web2)).pid,
      web3: (await serving(launched)).pid,
    }

    const created = await ssm.send(
      new CreateAssociationCommand({
        Name: 'AWS-RunShellScript',
        AssociationName: 'web-prod-converge',
        Targets: Object.entries(TAGS).map(([key, value]) => ({
          Key: `tag:${key}`,
          Values: [value],
        })),
        Parameters: { commands: bootstrapCommands(WHERE) },
        ScheduleExpression: 'cron(0 2 ? * SUN *)',
        ApplyOnlyAtCronInterval: true,
      }),
    )
    const associationId = created.AssociationDescription!.AssociationId!
    await ssm.send(new StartAssociationsOnceCommand({ AssociationIds: [associationId] }))
    const execution = await until(async () => {
      const out = await ssm.send(
        new DescribeAssociationExecutionsCommand({ AssociationId: associationId }),
      )
      const [only] = out.AssociationExecutions ?? []
      return only && ['Success', 'Failed'].includes(only.Status ?? '') ? only : undefined
    }, 120_000)
    expect(execution.Status).toBe('Success')
    const targets = await ssm.send(
      new DescribeAssociationExecutionTargetsCommand({
        AssociationId: associationId,
        ExecutionId: execution.ExecutionId,
      }),
    )
    const results = new Map<string, EngineResult>()
    for (const target of targets.AssociationExecutionTargets ?? []) {
      const run = await invocationOf(ssm, target.OutputSource!.OutputSourceId!, target.ResourceId!)
      results.set(
        sandbox.fleet.get(target.ResourceId!)?.name ?? target.ResourceId!,
        resultOf(run.stdout),
      )
    }
    expect([...results.keys()].sort()).toEqual(['web-1', 'web-2', 'web-3'])
    expect(results.get('web-1')).toMatchObject({
      status: 'deployed',
      previousVersion: 'v1.0.0',
      version: 'v2.0.0',
    })
    expect(results.get('web-2')).toMatchObject({ status: 'noop', version: 'v2.0.0' })
    expect(results.get('web-3')).toMatchObject({ status: 'noop', version: 'v2.0.0' })
    expect(await serving(web1)).toMatchObject({ version: 'v2.0.0' })
    expect(await serving(web2)).toEqual({ version: 'v2.0.0', pid: pids.web2 })
    expect(await serving(launched)).toEqual({ version: 'v2.0.0', pid: pids.web3 })
  })

  it('refuses a hostile desired.json: nothing is run, the host serves what it served', async () => {
    const web2 = byName('web-2')
    const before = await serving(web2)
    const stored = await s3.send(
      new (await import('@aws-sdk/client-s3')).GetObjectCommand({
        Bucket: BUCKET,
        Key: desiredReleaseKey('web', 'prod'),
      }),
    )
    const good = JSON.parse(await stored.Body!.transformToString()) as Record<string, string>
    // An engine of v1 stored under the sha256 of v2's engine: a forged object.
    const forgedKey = good['engine-key']!.replace(good['engine-sha256']!, 'f'.repeat(64))
    await s3.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: forgedKey,
        Body: `${renderCommands(engineOptions('v1.0.0', { mode: 'rollback' })).join('\n')}\n`,
      }),
    )
    const hostile: [Record<string, string>, string][] = [
      [{ version: '$(reboot)' }, "field 'version' is not valid"],
      [{ version: "v2'\"; reboot; '" }, "field 'version'"],
      [
        { 'engine-key': 'web/prod/engine/../../dev/engine/x.sh' },
        "field 'engine-key' is not web/prod/engine/<engine-sha256>.sh",
      ],
      [
        { 'engine-key': forgedKey, 'engine-sha256': 'f'.repeat(64) },
        `${forgedKey} does not match its sha256`,
      ],
    ]
    for (const [fields, message] of hostile) {
      await s3.send(
        new PutObjectCommand({
          Bucket: BUCKET,
          Key: desiredReleaseKey('web', 'prod'),
          Body: `${JSON.stringify({ ...good, ...fields })}\n`,
        }),
      )
      const [run] = await runOnHosts(sandbox, ssm, [web2.id], bootstrapCommands(WHERE))
      expect([message, run!.code, parseResultLine(run!.stdout)]).toEqual([
        message,
        BOOTSTRAP_EXIT_REFUSED,
        undefined,
      ])
      expect(run!.stderr).toContain(message)
    }
    expect(await serving(web2)).toEqual(before)
  })
})
