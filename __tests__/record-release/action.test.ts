// The bundled record-release action (dist/record-release/index.js), run like the runner runs
// it, against s3rver; what it wrote is read back with the AWS CLI.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { S3RVER_CREDENTIALS, startS3, type S3Sandbox } from '../../dev/aws-sandbox/src/index.js'
import {
  runBundledAction,
  type ActionRun,
  type BundledActionOptions,
} from '../support/bundled-action.js'

const BUCKET = 'releases'
const SHA = 'b'.repeat(64)
const COMMIT = 'c0ffee0000000000000000000000000000000002'

let s3rver: S3Sandbox

beforeAll(async () => {
  s3rver = await startS3({ buckets: [BUCKET] })
})

afterAll(async () => {
  await s3rver.close()
})

const keys = {
  AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
}

function record(
  inputs: Record<string, string>,
  options: BundledActionOptions = {},
): Promise<ActionRun> {
  return runBundledAction('record-release', {
    timeoutMs: 60_000,
    ...options,
    inputs: {
      'deploy-status': 'success',
      bucket: BUCKET,
      key: 'web/prod/v1.0.0.zip',
      app: 'web',
      environment: 'prod',
      version: 'v1.0.0',
      sha256: SHA,
      size: '4096',
      ...inputs,
    },
    env: {
      AWS_REGION: 'eu-central-1',
      AWS_ENDPOINT_URL_S3: s3rver.url,
      GITHUB_SHA: COMMIT,
      ...keys,
      ...options.env,
    },
  })
}

/** The AWS CLI against s3rver (async: s3rver answers from this very process). */
async function cli(args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)('aws', args, {
    encoding: 'utf8',
    env: {
      ...process.env,
      ...keys,
      AWS_REGION: 'eu-central-1',
      AWS_ENDPOINT_URL: s3rver.url,
      AWS_PAGER: '',
    },
  })
  return stdout
}

async function listed(prefix: string): Promise<string[]> {
  const out = await cli(['s3api', 'list-objects-v2', '--bucket', BUCKET, '--prefix', prefix])
  if (out.trim() === '') return []
  return ((JSON.parse(out) as { Contents?: { Key: string }[] }).Contents ?? []).map(o => o.Key)
}

describe('record-release from its bundle', () => {
  it('writes one record of a successful deploy, with the run taken from the runner', async () => {
    const before = Date.now()
    const result = await record({ mode: 'rollback' })
    expect(result.errors).toEqual([])
    expect(result.exitCode).toBe(0)
    const key = result.outputs['record-key'] ?? ''
    expect(key).toMatch(/^web\/prod\/deployments\/\d{8}T\d{6}Z-v1\.0\.0\.json$/)
    expect(result.outputs.recorded).toBe('true')
    // The only version recorded is the one now live: there is nothing to roll back to.
    expect(result.outputs['rollback-versions']).toBe('[]')
    const body = JSON.parse(
      await cli(['s3', 'cp', '--only-show-errors', `s3://${BUCKET}/${key}`, '-']),
    )
    expect(body).toEqual({
      app: 'web',
      environment: 'prod',
      version: 'v1.0.0',
      bucket: BUCKET,
      key: 'web/prod/v1.0.0.zip',
      sha256: SHA,
      size: 4096,
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      'run-url': 'https://github.com/octo-org/octo-repo/actions/runs/1234567890',
      commit: COMMIT,
      actor: 'octocat',
      mode: 'rollback',
    })
    expect(Date.parse(body.time)).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000)
    // The name carries the same second as the body.
    expect(key).toContain(`/${String(body.time).replace(/[-:]/g, '')}-`)

    // A second deploy of the same version is a second record, never an overwrite.
    const again = await record({})
    expect(again.exitCode).toBe(0)
    expect(await listed('web/prod/deployments/')).toHaveLength(2)
  })

  it('lists the versions a rollback may use: each once, newest first, without the one just deployed', async () => {
    const earlier = [
      ['20261101T080000Z', 'v1.0.0'],
      ['20261101T080001Z', 'v1.1.0'],
      ['20261101T080002Z', 'v1.2.0'],
      ['20261101T080003Z', 'v1.0.0'],
    ]
    for (const [stamp, version] of earlier) {
      await cli([
        's3api',
        'put-object',
        '--bucket',
        BUCKET,
        '--key',
        `web/uat/deployments/${stamp}-${version}.json`,
      ])
    }
    // Another environment's records are not offered.
    const other = await record({ environment: 'uat2', version: 'v9.9.9' })
    expect(other.exitCode).toBe(0)
    const result = await record({ environment: 'uat', version: 'v1.1.0' })
    expect(result.errors).toEqual([])
    expect(result.outputs['rollback-versions']).toBe(
      JSON.stringify([
        { version: 'v1.0.0', 'deployed-at': '2026-11-01T08:00:03Z' },
        { version: 'v1.2.0', 'deployed-at': '2026-11-01T08:00:02Z' },
      ]),
    )
  })

  it.each(['failed', 'rolled-back', 'partial', 'success\n::add-mask::x'])(
    'records nothing when deploy-status is %j, and says so',
    async status => {
      // Not even AWS is asked: no credentials are needed.
      const result = await record(
        { 'deploy-status': status, environment: 'stage' },
        { env: { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined } },
      )
      expect(result.exitCode).toBe(0)
      expect(result.outputs).toEqual({
        'record-key': '',
        recorded: 'false',
        'desired-key': '',
        'rollback-versions': '',
      })
      expect(result.stdout).toContain(
        `deploy-status is ${JSON.stringify(status)}, not "success": nothing is recorded`,
      )
      expect(await listed('web/stage/')).toEqual([])
    },
  )

  it.each([
    [{ environment: '../prod' }, `input 'environment' "../prod" is not allowed`],
    [{ app: 'web/../x' }, `input 'app' "web/../x" is not allowed`],
    [{ version: 'v1;rm -rf /' }, `input 'version' "v1;rm -rf /" is not allowed`],
    [{ sha256: 'abc' }, `input 'sha256': "abc" is not valid: use 64 lowercase hex digits`],
    [{ size: '-1' }, `input 'size': "-1" is not valid`],
    [{ size: '' }, "input 'size' is required"],
    [
      { mode: 'redeploy' },
      `input 'mode': "redeploy" is not valid: use one of 'deploy', 'rollback'`,
    ],
    [{ key: '/etc/passwd' }, "an object key does not start with '/'"],
    [{ bucket: 'Bad_Bucket' }, `input 'bucket': "Bad_Bucket" is not valid`],
  ])('refuses bad input %j and writes nothing', async (inputs, message) => {
    const result = await record({ environment: 'qa', ...(inputs as Record<string, string>) })
    expect(result.exitCode).toBe(1)
    expect(result.errors.join('\n')).toContain(message)
    expect(await listed('web/qa/')).toEqual([])
  })

  it.each([
    [
      { GITHUB_ACTOR: 'octocat\n::add-mask::x' },
      'GITHUB_ACTOR "octocat\\n::add-mask::x" is not valid',
    ],
    [{ GITHUB_SHA: undefined }, 'GITHUB_SHA is not set'],
    [
      { GITHUB_SERVER_URL: 'http://evil.example' },
      'GITHUB_SERVER_URL "http://evil.example" is not valid',
    ],
  ])('refuses a runner variable %j that is not valid', async (env, message) => {
    const result = await record({ environment: 'qa' }, { env })
    expect(result.exitCode).toBe(1)
    expect(result.errors.join('\n')).toContain(message)
    expect(await listed('web/qa/')).toEqual([])
  })
})
