// Scale-out and drift repair in the sandbox, through the pipeline: deploy.yml itself runs with
// the bundled actions (as `npm run demo` and the examples run it), with the real engine under
// bash, the real SDK and S3, and hosts on private networks (each serves port 3000 on its own
// address, checked over HTTP from this machine as a runner in the VPC would):
//   two pushes deploy v1 then v2 to two hosts; the deploy stores the engine and sets desired.json;
//   a third host launched with the bootstrap as user data serves v2 by itself;
//   a host switched back to v1 by hand is repaired by a State Manager association, while the
//   hosts already on v2 do nothing (their app keeps its pid);
//   a hostile desired.json is refused and changes nothing;
//   a rollback to v1 (workflow_dispatch with `version`) makes v1 desired: a host launched then
//   serves v1.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { EC2Client } from '@aws-sdk/client-ec2'
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import {
  CreateAssociationCommand,
  DeleteAssociationCommand,
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
} from '../../packages/remote/src/index.js'
import { desiredReleaseKey, readDesiredRelease } from '../../packages/release-store/src/index.js'
import {
  CLOUD_INIT_PATHS,
  sandboxClients,
  type SandboxInstance,
} from '../../dev/aws-sandbox/src/index.js'
import { runPipeline, type PipelineResult } from '../../dev/github-runner/src/index.js'
import { launchTagged, sandboxS3, until } from '../sandbox/helpers.js'
import { invocationOf, runOnHosts } from '../remote/support/host-commands.js'
import { startSandboxWithOidc, type SandboxWithOidc } from '../support/sandbox-with-oidc.js'

const ROOT = '/srv/ec2d-scale-out-test'
const BUCKET = 'scale-out-artifacts'
const WHERE = { bucket: BUCKET, app: 'web', environment: 'prod' }
const TAGS = { DeployApp: 'web', DeployEnvironment: 'prod' }
const REPOSITORY = 'acme/web'
const ROLE = 'arn:aws:iam::123456789012:role/web-deploy-prod'

let sandbox: SandboxWithOidc
let ssm: SSMClient
let ec2: EC2Client
let s3: S3Client
let workDir: string
let checkout: string
/** The versions the pipeline named, v1 and v2 (`v1.0.0-master-<sha7>`…). */
const versions: string[] = []
let launched: SandboxInstance

/** The app: answers the version of its REVISION file on 0.0.0.0:3000, started with a pidfile. */
const SERVER = `const fs = require('node:fs')
const http = require('node:http')
const path = require('node:path')
const revision = fs.readFileSync(path.join(__dirname, 'REVISION'), 'utf8')
const version = /^version=(.*)$/m.exec(revision)[1]
http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' })
  res.end(JSON.stringify({ version, pid: process.pid }))
}).listen(3000, '0.0.0.0')
`
const SERVICE = `#!/bin/sh
PIDFILE=${ROOT}/app.pid
if [ -s "$PIDFILE" ]; then
  kill "$(cat "$PIDFILE")" 2>/dev/null
  while kill -0 "$(cat "$PIDFILE")" 2>/dev/null; do sleep 0.05; done
fi
setsid sh -c 'echo $$ > "$0" && exec "$@"' "$PIDFILE" ${process.execPath} "$PWD/server.cjs" \\
  >>${ROOT}/app.log 2>&1 </dev/null &
`

/** The caller's `with:` of deploy.yml. */
const INPUTS = {
  'app-name': 'web',
  rules: 'master => prod',
  bucket: BUCKET,
  'role-to-assume': ROLE,
  'instance-tags': 'DeployApp={app}\nDeployEnvironment={environment}',
  'deploy-dir': `${ROOT}/app`,
  'restart-command': 'sh service.sh',
  'health-url': 'http://127.0.0.1:3000/health',
  'health-retries': '20',
  'health-interval': '100ms',
  'max-concurrency': '100%',
}

const git = (...args: string[]) =>
  execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.invalid', ...args], {
    cwd: checkout,
    encoding: 'utf8',
  }).trim()

/** deploy.yml for a push to master, or a rollback to `version` (workflow_dispatch). */
async function pipeline(version?: string): Promise<PipelineResult> {
  const result = await runPipeline({
    inputs: {
      ...INPUTS,
      'aws-region': sandbox.region,
      ...(version ? { version, environment: 'prod' } : {}),
    },
    ref: 'refs/heads/master',
    sha: git('rev-parse', 'HEAD'),
    checkout,
    eventName: version ? 'workflow_dispatch' : 'push',
    workflowRef: `${REPOSITORY}/.github/workflows/deploy.yml@refs/heads/master`,
    env: {
      ...(sandbox.env as unknown as Record<string, string>),
      GITHUB_REPOSITORY: REPOSITORY,
      RUNNER_TEMP: workDir,
    },
  })
  if (result.status !== 'success') {
    const failed = result.runs.filter(({ run }) => run.exitCode !== 0)
    throw new Error(
      `the pipeline ended ${result.status}:\n${failed.map(({ run }) => `${run.stdout}\n${run.stderr}`).join('\n')}`,
    )
  }
  return result
}

/** What a host's app answers at its private address: version and pid. */
async function serving(host: SandboxInstance): Promise<{ version: string; pid: number }> {
  const response = await fetch(`http://${host.privateIpAddress}:3000/health`, {
    signal: AbortSignal.timeout(5000),
  })
  expect(response.status).toBe(200)
  return (await response.json()) as { version: string; pid: number }
}

/** The engine's command that switches a host back to `version` by hand (it is still on disk). */
function handRollback(version: string): string[] {
  return renderCommands({
    mode: 'rollback',
    deployDir: `${ROOT}/app`,
    appName: 'web',
    environment: 'prod',
    version,
    restartCommand: INPUTS['restart-command'],
    healthUrl: INPUTS['health-url'],
    healthRetries: 20,
    healthIntervalMs: 100,
  })
}

/** desired.json as stored, its fields as they are. */
async function desiredFields(): Promise<Record<string, string>> {
  const stored = await s3.send(
    new GetObjectCommand({ Bucket: BUCKET, Key: desiredReleaseKey('web', 'prod') }),
  )
  return JSON.parse(await stored.Body!.transformToString()) as Record<string, string>
}

/** Launches a tagged host with the bootstrap as user data; checks its boot converged. */
async function launchConverged(name: string): Promise<SandboxInstance> {
  const id = await launchTagged(ec2, { Name: name, ...TAGS }, renderBootstrap(WHERE))
  const host = sandbox.fleet.require(id)
  const boot = sandbox.launcher.bootOf(host.id)!
  await boot.finished
  const log = readFileSync(join(host.dir, CLOUD_INIT_PATHS.outputLog), 'utf8')
  expect([boot.userDataExitCode, log]).toEqual([0, expect.stringContaining('DEPLOY_RESULT ')])
  await boot.online
  return host
}

const byName = (name: string) => sandbox.fleet.byName(name)!
const web = () => [byName('web-1'), byName('web-2')]

beforeAll(async () => {
  sandbox = await startSandboxWithOidc({
    instances: [
      { name: 'web-1', tags: TAGS, network: 'private' },
      { name: 'web-2', tags: TAGS, network: 'private' },
    ],
    privateDirs: [ROOT],
    s3: { buckets: [BUCKET] },
    invocationVisibilityDelayMs: 0,
    launch: { runningAfterMs: 50, agentOnlineAfterMs: 100, spec: { network: 'private' } },
    oidc: {
      subject: `repo:${REPOSITORY}:environment:prod`,
      claims: { repository: REPOSITORY },
    },
    sts: {
      roles: [
        {
          arn: ROLE,
          audience: 'sts.amazonaws.com',
          subject: `repo:${REPOSITORY}:environment:prod`,
        },
      ],
    },
  })
  ;({ ssm, ec2 } = sandboxClients(sandbox))
  s3 = sandboxS3(sandbox)
  workDir = mkdtempSync(join(tmpdir(), 'scale-out-'))
  checkout = join(workDir, 'web')
  execFileSync('mkdir', ['-p', checkout])
  writeFileSync(join(checkout, 'server.cjs'), SERVER)
  writeFileSync(join(checkout, 'service.sh'), SERVICE, { mode: 0o755 })
  git('init', '-q', '-b', 'master')
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
  it('deploys v1 then v2 to two hosts through the pipeline, which stores the engine and sets desired.json', async () => {
    for (const [release, tag] of [
      [1, 'v1.0.0'],
      [2, 'v2.0.0'],
    ] as const) {
      writeFileSync(join(checkout, 'CHANGES'), `release ${release}\n`)
      git('add', '-A')
      git('commit', '-q', '-m', `release ${release}`)
      git('tag', tag)
      const result = await pipeline()
      const version = result.outputs.version!
      expect(version).toMatch(new RegExp(`^${tag.replace(/\./g, '\\.')}-master-`))
      versions.push(version)
      const deployed = result.context.steps.deploy!
      expect(deployed['engine-key']).toBe(`web/prod/engine/${deployed['engine-sha256']}.sh`)
      expect(result.context.steps.record!['desired-key']).toBe(desiredReleaseKey('web', 'prod'))
      const desired = await readDesiredRelease(s3, BUCKET, 'web', 'prod')
      expect(desired).toMatchObject({
        record: { version, mode: 'deploy' },
        recordKey: result.context.steps.record!['record-key'],
        engine: { key: deployed['engine-key'], sha256: deployed['engine-sha256'] },
      })
    }
    for (const host of web()) expect((await serving(host)).version).toBe(versions[1])
  })

  it('launches a third host whose user data is the bootstrap: it serves v2 by itself', async () => {
    launched = await launchConverged('web-3')
    const log = readFileSync(join(launched.dir, CLOUD_INIT_PATHS.outputLog), 'utf8')
    expect(resultOf(log)).toMatchObject({ status: 'deployed', version: versions[1], exitCode: 0 })
    expect((await serving(launched)).version).toBe(versions[1])
  })

  it('repairs a host switched back to v1 by hand with a State Manager association; the hosts on v2 do nothing', async () => {
    const [web1, web2] = web() as [SandboxInstance, SandboxInstance]
    const [back] = await runOnHosts(sandbox, ssm, [web1.id], handRollback(versions[0]!))
    expect([back!.code, resultOf(back!.stdout).version]).toEqual([0, versions[0]])
    expect((await serving(web1)).version).toBe(versions[0])
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
      previousVersion: versions[0],
      version: versions[1],
    })
    expect(results.get('web-2')).toMatchObject({ status: 'noop', version: versions[1] })
    expect(results.get('web-3')).toMatchObject({ status: 'noop', version: versions[1] })
    expect(await serving(web1)).toMatchObject({ version: versions[1] })
    expect(await serving(web2)).toEqual({ version: versions[1], pid: pids.web2 })
    expect(await serving(launched)).toEqual({ version: versions[1], pid: pids.web3 })
    // Gone, so that the hosts launched below converge by their user data alone (with both, the
    // engine's lock lets one deploy and the other find nothing to do, in either order).
    await ssm.send(new DeleteAssociationCommand({ AssociationId: associationId }))
  })

  it('refuses a hostile desired.json: nothing is run, the host serves what it served', async () => {
    const web2 = byName('web-2')
    const before = await serving(web2)
    const good = await desiredFields()
    // An engine of v1 stored under the sha256 of v2's engine: a forged object.
    const forgedKey = good['engine-key']!.replace(good['engine-sha256']!, 'f'.repeat(64))
    await s3.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: forgedKey,
        Body: `${handRollback(versions[0]!).join('\n')}\n`,
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
    // desired.json as the deploy left it, for the rollback below.
    await s3.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: desiredReleaseKey('web', 'prod'),
        Body: `${JSON.stringify(good)}\n`,
      }),
    )
  })

  it('a rollback to v1 through the pipeline makes v1 desired: a host launched then serves v1', async () => {
    const result = await pipeline(versions[0])
    expect(result.context.steps.deploy!.status).toBe('success')
    for (const host of web()) expect((await serving(host)).version).toBe(versions[0])
    const desired = await readDesiredRelease(s3, BUCKET, 'web', 'prod')
    expect(desired?.record).toMatchObject({ version: versions[0], mode: 'rollback' })
    expect(desired?.engine.key).toBe(result.context.steps.deploy!['engine-key'])

    const fourth = await launchConverged('web-4')
    const log = readFileSync(join(fourth.dir, CLOUD_INIT_PATHS.outputLog), 'utf8')
    expect(resultOf(log)).toMatchObject({ status: 'deployed', version: versions[0], exitCode: 0 })
    expect((await serving(fourth)).version).toBe(versions[0])

    // A host switched up to v2 by hand goes back down to the desired v1: not a downgrade to refuse.
    const web1 = byName('web-1')
    const [up] = await runOnHosts(sandbox, ssm, [web1.id], handRollback(versions[1]!))
    expect([up!.code, (await serving(web1)).version]).toEqual([0, versions[1]])
    const [converged] = await runOnHosts(sandbox, ssm, [web1.id], bootstrapCommands(WHERE))
    expect(resultOf(converged!.stdout)).toMatchObject({
      status: 'deployed',
      previousVersion: versions[1],
      version: versions[0],
    })
    expect((await serving(web1)).version).toBe(versions[0])
  })
})
