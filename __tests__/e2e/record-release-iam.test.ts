// record-release and s3-upload, bundled and run like the runner runs them, as the dev deploy
// role of the shipped IAM templates: the role may list the environment's records, so the
// rollback picker gets its versions; a role that may not list them still records (and uploads),
// and the picker is left out with a warning.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import type { PolicyStatement } from '../../dev/aws-sandbox/src/index.js'
import {
  roleOnlyEnv,
  startSandboxWithOidc,
  type SandboxWithOidc,
} from '../support/sandbox-with-oidc.js'
import { APP, BUCKET, IAM_SANDBOX, REGION, deployRole, deployRoleArn } from '../iam/templates.js'
import { runBundledAction, type ActionRun } from '../support/bundled-action.js'

const NO_LIST_ROLE = deployRoleArn('dev').replace(/-dev$/, '-dev-nolist')
let sandbox: SandboxWithOidc
let work: string

/** The dev deploy role without the statement that lets it list the environment's prefix. */
function roleWithoutList() {
  const role = deployRole('dev')
  const statements = ([] as PolicyStatement[]).concat(role.policy?.Statement ?? [])
  return {
    ...role,
    arn: NO_LIST_ROLE,
    policy: {
      ...role.policy,
      Statement: statements.filter(s => s.Sid !== 'ListThisEnvironmentOnly'),
    },
  }
}

beforeAll(async () => {
  sandbox = await startSandboxWithOidc({
    ...IAM_SANDBOX,
    s3: { buckets: [BUCKET] },
    sts: { roles: [deployRole('dev'), roleWithoutList()] },
  })
  work = mkdtempSync(join(tmpdir(), 'record-release-iam-'))
})
afterAll(async () => {
  await sandbox?.close()
  rmSync(work, { recursive: true, force: true })
})

const recordAs = (role: string, version: string) =>
  runBundledAction('record-release', {
    timeoutMs: 60_000,
    inputs: {
      'deploy-status': 'success',
      bucket: BUCKET,
      key: `${APP}/dev/${version}.zip`,
      app: APP,
      environment: 'dev',
      version,
      sha256: 'a'.repeat(64),
      size: '10',
      'role-to-assume': role,
      'aws-region': REGION,
    },
    env: { ...roleOnlyEnv(sandbox), GITHUB_SHA: 'c0ffee0000000000000000000000000000000004' },
  })

/** s3-upload of a small release of `version` to dev, as `role`. */
function uploadAs(role: string, version: string) {
  const file = join(work, `${version}.zip`)
  writeFileSync(file, `release ${version}`)
  return runBundledAction('s3-upload', {
    timeoutMs: 60_000,
    inputs: {
      file,
      bucket: BUCKET,
      app: APP,
      environment: 'dev',
      version,
      'role-to-assume': role,
      'aws-region': REGION,
    },
    env: { ...roleOnlyEnv(sandbox), GITHUB_SHA: 'c0ffee0000000000000000000000000000000004' },
  })
}

/** The step succeeded, with no versions and a warning that says why. */
function expectUnlisted(run: ActionRun): void {
  expect(run.exitCode).toBe(0)
  expect(run.outputs['rollback-versions']).toBe('')
  expect(run.warnings.join('\n')).toMatch(
    /the versions to roll back to were not listed \(.*s3:ListBucket.*\); the summary shows none/,
  )
}

describe('record-release as a deploy role', () => {
  it('lists the versions to roll back to with the permissions of the shipped template', async () => {
    expect((await recordAs(deployRoleArn('dev'), 'v1.0.0')).exitCode).toBe(0)
    const run = await recordAs(deployRoleArn('dev'), 'v1.1.0')
    expect(run.errors).toEqual([])
    expect(run.warnings).toEqual([])
    const versions = JSON.parse(run.outputs['rollback-versions'] ?? '') as unknown[]
    expect(versions).toEqual([
      {
        version: 'v1.0.0',
        'deployed-at': expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      },
    ])
  })

  it('still records when it may not list, and leaves the versions out with a warning', async () => {
    const run = await recordAs(NO_LIST_ROLE, 'v1.2.0')
    expectUnlisted(run)
    expect(run.outputs.recorded).toBe('true')
  })

  it('s3-upload lists them too, before its deploy; without the permission it uploads and warns', async () => {
    expect((await recordAs(deployRoleArn('dev'), 'v2.0.0')).exitCode).toBe(0)
    const run = await uploadAs(deployRoleArn('dev'), 'v2.1.0')
    expect(run.errors).toEqual([])
    expect(run.warnings).toEqual([])
    const versions = JSON.parse(run.outputs['rollback-versions'] ?? '') as { version: string }[]
    const listed = versions.map(v => v.version)
    expect(listed).toContain('v2.0.0')
    expect(listed).not.toContain('v2.1.0')

    const unlisted = await uploadAs(NO_LIST_ROLE, 'v2.2.0')
    expectUnlisted(unlisted)
    expect(unlisted.outputs.uploaded).toBe('true')
  })
})
