// The rollback evidence end to end, with the bundles against the sandbox: s3-upload,
// ssm-deploy and record-release deploy two versions; then the first version's object is
// replaced in S3 with another release. The rollback's s3-upload hands the host the recorded
// sha256, so the host refuses the replaced bytes and keeps serving. And after a deploy that
// fails (so nothing is recorded), the summary's picker still offers the versions to go back to,
// as s3-upload listed them.
import { execFile } from 'node:child_process'
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, expect, it } from '@jest/globals'
import { startSandbox, type Sandbox } from '../../dev/aws-sandbox/src/index.js'
import { Site, sampleEntries, writeZip, type Variant } from '../remote/support/site.js'
import { runBundledAction, type ActionRun } from '../support/bundled-action.js'

const HOST = 'i-0000000000000e001'
const BUCKET = 'artifacts'
const COMMON = { app: 'sample', environment: 'develop', bucket: BUCKET }
const WORKFLOW = 'acme/app/.github/workflows/deploy.yml@refs/heads/main'
/** The exact line the summary gives to roll `environment` back to `version`. */
const ghLine = (environment: string, version: string) =>
  `gh workflow run deploy.yml --repo acme/app --ref main -f environment=${environment} -f version=${version}`

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

function deploy(
  version: string,
  mode: string,
  upload: Record<string, string>,
  environment = COMMON.environment,
) {
  return runBundledAction('ssm-deploy', {
    timeoutMs: 180_000,
    env: env(),
    inputs: {
      'instance-ids': JSON.stringify([HOST]),
      mode,
      version,
      environment,
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

/** The summary step as deploy.yml runs it, given what the deploy step output (if it ran). */
async function summarize(
  version: string,
  environment: string,
  deployed: Record<string, string>,
  rollbackVersions: string,
): Promise<string> {
  const summary = await runBundledAction('summary', {
    env: env(),
    inputs: {
      status: deployed.status || 'failed',
      environment,
      version,
      'previous-version': deployed['previous-version'] ?? '',
      'deploy-results': deployed.results ?? '',
      'rollback-workflow': WORKFLOW,
      'rollback-versions': rollbackVersions,
    },
  })
  expect(summary.warnings).toEqual([])
  return summary.summary
}

/**
 * The deploy job of the pipeline for a fresh build: upload, deploy, then (after a success)
 * record, and the summary with record-release's versions, else s3-upload's, as deploy.yml has it.
 */
async function release(
  version: string,
  { environment = COMMON.environment, variant = 'good' as Variant } = {},
) {
  const zip = join(site.root, `${version}.zip`)
  const sha256 = writeZip(zip, sampleEntries(version, variant))
  const inputs = { ...COMMON, environment, version, file: zip }
  const upload = succeeded(await runBundledAction('s3-upload', { env: env(), inputs }))
  const deployed = await deploy(version, 'deploy', upload, environment)
  let recorded: Record<string, string> = {}
  if (deployed.exitCode === 0) {
    recorded = succeeded(
      await runBundledAction('record-release', {
        env: env(),
        inputs: {
          ...COMMON,
          environment,
          version,
          'deploy-status': deployed.outputs.status ?? '',
          key: upload.key ?? '',
          sha256: upload.sha256 ?? '',
          size: upload.size ?? '',
        },
      }),
    )
  }
  const versions = recorded['rollback-versions'] || upload['rollback-versions'] || ''
  const summary = await summarize(version, environment, deployed.outputs, versions)
  return { sha256, summary, upload, deployed }
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
  expect(v3.summary).toContain(ghLine('develop', 'v1.0.0'))

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

it('after a failed deploy, the summary offers the versions s3-upload listed before it', async () => {
  const staging = { environment: 'staging' }
  await release('v2.0.0', staging)
  await release('v2.1.0', staging)
  const failed = await release('v2.2.0', { ...staging, variant: 'unhealthy' })
  expect(failed.deployed.exitCode).toBe(1)
  expect(failed.deployed.outputs.status).toBe('rolled-back')
  expect(await site.servingVersion()).toBe('v2.1.0')
  // Nothing was recorded: the list is s3-upload's, of the versions recorded before this run.
  expect(
    (JSON.parse(failed.upload['rollback-versions'] ?? '') as { version: string }[]).map(
      v => v.version,
    ),
  ).toEqual(['v2.1.0', 'v2.0.0'])
  // The host went back to v2.1.0, so only v2.0.0 is offered, with its line; never v2.1.0,
  // which serves, nor v2.2.0, which failed.
  expect(failed.summary).toContain('### Roll back')
  expect(failed.summary).toContain('1 version deployed to staging before, newest first')
  expect(failed.summary).toMatch(
    new RegExp(
      `<code>v2\\.0\\.0</code>, deployed \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d UTC\n\n\`\`\`sh\n${ghLine(
        'staging',
        'v2.0.0',
      ).replace(/[.]/g, '\\.')}\n\`\`\`\n`,
    ),
  )
  expect(failed.summary).not.toContain('version=v2.1.0')
  expect(failed.summary).not.toContain('version=v2.2.0')

  // Had the deploy step never reached the hosts (find-instance failed), the summary knows no
  // version that serves: it offers both, newest first, each with its line.
  const unreached = await summarize(
    'v2.2.0',
    'staging',
    {},
    failed.upload['rollback-versions'] ?? '',
  )
  expect(unreached).toContain('2 versions deployed to staging before, newest first')
  const v21 = unreached.indexOf(ghLine('staging', 'v2.1.0'))
  expect(v21).toBeGreaterThan(0)
  expect(unreached.indexOf(ghLine('staging', 'v2.0.0'))).toBeGreaterThan(v21)
  expect(unreached).not.toContain('version=v2.2.0')
}, 600_000)
