// The rollback evidence end to end, with the bundles against the sandbox: s3-upload,
// ssm-deploy and record-release deploy two versions; then the first version's object is
// replaced in S3 with another release. The rollback's s3-upload hands the host the recorded
// sha256, so the host refuses the replaced bytes and keeps serving.
import { execFile } from 'node:child_process'
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, expect, it } from '@jest/globals'
import { startSandbox, type Sandbox } from '../../dev/aws-sandbox/src/index.js'
import { Site, sampleEntries, writeZip } from '../remote/support/site.js'
import { runBundledAction, type ActionRun } from '../support/bundled-action.js'

const HOST = 'i-0000000000000e001'
const BUCKET = 'artifacts'
const COMMON = { app: 'sample', environment: 'develop', bucket: BUCKET }

let sandbox: Sandbox
let site: Site

beforeAll(async () => {
  site = await Site.create()
  sandbox = await startSandbox({
    instances: [{ id: HOST, name: 'web-1' }],
    s3: { buckets: [BUCKET] },
  })
})
afterAll(async () => {
  await sandbox?.close()
  await site?.close()
})

const env = () =>
  ({
    ...sandbox.env,
    GITHUB_REPOSITORY: 'acme/app',
    GITHUB_SHA: 'c0ffee0000000000000000000000000000000003',
  }) as Record<string, string>

function succeeded(run: ActionRun): Record<string, string> {
  if (run.exitCode !== 0) throw new Error(`the action failed:\n${run.stdout}\n${run.stderr}`)
  return run.outputs
}

function deploy(version: string, mode: string, upload: Record<string, string>) {
  return runBundledAction('ssm-deploy', {
    timeoutMs: 180_000,
    env: env(),
    inputs: {
      'instance-ids': JSON.stringify([HOST]),
      mode,
      version,
      environment: COMMON.environment,
      'app-name': COMMON.app,
      'deploy-dir': site.deployDir,
      'artifact-uri': upload.uri ?? '',
      'artifact-sha256': upload.sha256 ?? '',
      // Only the current release stays on the host: a rollback must download.
      'keep-releases': '1',
      'restart-command': `${site.service} restart`,
      'health-url': site.healthUrl,
      'health-retries': '3',
      'health-interval': '100ms',
      timeout: '2m',
    },
  })
}

/** The deploy job of the pipeline for a fresh build: upload, deploy, record, summary. */
async function release(version: string): Promise<{ sha256: string; summary: string }> {
  const zip = join(site.root, `${version}.zip`)
  const sha256 = writeZip(zip, sampleEntries(version))
  const upload = succeeded(
    await runBundledAction('s3-upload', { env: env(), inputs: { ...COMMON, version, file: zip } }),
  )
  const deployed = await deploy(version, 'deploy', upload)
  succeeded(deployed)
  const recorded = succeeded(
    await runBundledAction('record-release', {
      env: env(),
      inputs: {
        ...COMMON,
        version,
        'deploy-status': deployed.outputs.status ?? '',
        key: upload.key ?? '',
        sha256: upload.sha256 ?? '',
        size: upload.size ?? '',
      },
    }),
  )
  const summary = await runBundledAction('summary', {
    env: env(),
    inputs: {
      status: deployed.outputs.status ?? '',
      environment: COMMON.environment,
      version,
      'previous-version': deployed.outputs['previous-version'] ?? '',
      'deploy-results': deployed.outputs.results ?? '',
      'rollback-workflow': 'acme/app/.github/workflows/deploy.yml@refs/heads/main',
      'rollback-versions': recorded['rollback-versions'] ?? '',
    },
  })
  expect(summary.warnings).toEqual([])
  return { sha256, summary: summary.summary }
}

it('a rollback to an overwritten object fails on the host, which keeps serving', async () => {
  const v1 = await release('v1.0.0')
  expect(v1.summary).not.toContain('Roll back')
  const v1Sha = v1.sha256
  await release('v1.1.0')
  const v3 = await release('v1.2.0')
  expect(await site.servingVersion()).toBe('v1.2.0')
  // v1.1.0 has the roll back line; the picker below it offers v1.0.0, as record-release listed it.
  expect(v3.summary).toContain('-f environment=develop -f version=v1.1.0')
  expect(v3.summary).toContain('1 other version deployed to develop before')
  expect(v3.summary).toMatch(
    /<code>v1\.0\.0<\/code>, deployed \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\n\n```sh\n/,
  )
  expect(v3.summary).toContain(
    'gh workflow run deploy.yml --repo acme/app --ref main -f environment=develop -f version=v1.0.0',
  )

  // The attacker replaces v1.0.0's object with a release of their own, of the same size and
  // with no sha256 metadata (before records, the lookup then hashed whatever was stored).
  const evil = join(site.root, 'evil.zip')
  const evilSha = writeZip(evil, sampleEntries('v6.6.6'))
  expect(statSync(evil).size).toBe(statSync(join(site.root, 'v1.0.0.zip')).size)
  await promisify(execFile)('aws', ['s3', 'cp', evil, `s3://${BUCKET}/sample/develop/v1.0.0.zip`], {
    env: { ...process.env, ...env() },
    timeout: 60_000,
  })

  const lookup = succeeded(
    await runBundledAction('s3-upload', { env: env(), inputs: { ...COMMON, version: 'v1.0.0' } }),
  )
  expect(lookup.sha256).toBe(v1Sha)
  const rollback = await deploy('v1.0.0', 'rollback', lookup)
  expect(rollback.exitCode).toBe(1)
  expect(rollback.outputs.status).toBe('failed')
  expect(rollback.stdout).toContain(`artifact sha256 mismatch: expected ${v1Sha}, got ${evilSha}`)
  expect(await site.servingVersion()).toBe('v1.2.0')
}, 600_000)
