// The bundled s3-upload action (dist/s3-upload/index.js), run like the runner runs it, against
// s3rver, the sandbox STS and the sandbox OIDC token service.
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFile, execFileSync } from 'node:child_process'
import { promisify } from 'node:util'
import { ID_TOKEN_PERMISSIONS_BLOCK } from '../../packages/aws/src/index.js'
import {
  ArtifactServiceStandIn,
  startOidcServer,
  type OidcServer,
} from '../../dev/github-runner/src/index.js'
import {
  S3RVER_CREDENTIALS,
  startS3,
  startSts,
  type S3Sandbox,
  type StsServer,
} from '../../dev/aws-sandbox/src/index.js'
import {
  runBundledAction,
  type ActionRun,
  type BundledActionOptions,
} from '../support/bundled-action.js'

const BUCKET = 'releases'
const ROLE = 'arn:aws:iam::123456789012:role/deploy'
const UNTRUSTING_ROLE = 'arn:aws:iam::123456789012:role/someone-else'
const SUBJECT = 'repo:octo-org/octo-repo:environment:prod'
const MiB = 1024 * 1024
const execFileAsync = promisify(execFile)

let s3rver: S3Sandbox
let oidc: OidcServer
let sts: StsServer
let work: string

beforeAll(async () => {
  s3rver = await startS3({ buckets: [BUCKET] })
  oidc = await startOidcServer({ requestToken: 'runtime-request-token', subject: SUBJECT })
  sts = await startSts({
    identityProvider: oidc,
    roles: [
      {
        arn: ROLE,
        audience: 'sts.amazonaws.com',
        subject: 'repo:octo-org/octo-repo:environment:*',
      },
      { arn: UNTRUSTING_ROLE, audience: 'sts.amazonaws.com', subject: 'repo:octo-org/elsewhere:*' },
    ],
    // s3rver accepts only key ids it knows: the assumed role's keys become known to it.
    onIssue: credentials =>
      s3rver.allowAccessKey(credentials.accessKeyId, credentials.secretAccessKey),
  })
  work = mkdtempSync(join(tmpdir(), 's3-upload-e2e-'))
})

afterAll(async () => {
  await Promise.all([s3rver.close(), oidc.close(), sts.close()])
  rmSync(work, { recursive: true, force: true })
})

let counter = 0
function release(bytes: number): { path: string; sha256: string } {
  const path = join(work, `release-${counter++}.zip`)
  const content = randomBytes(bytes)
  writeFileSync(path, content)
  return { path, sha256: createHash('sha256').update(content).digest('hex') }
}

/** Static keys through the default provider chain (what configure-aws-credentials leaves). */
const staticKeys = {
  AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
}

function upload(
  inputs: Record<string, string>,
  options: BundledActionOptions = {},
): Promise<ActionRun> {
  return runBundledAction('s3-upload', {
    timeoutMs: 120_000,
    ...options,
    inputs: { bucket: BUCKET, app: 'web', environment: 'prod', ...inputs },
    env: {
      AWS_REGION: 'eu-central-1',
      AWS_ENDPOINT_URL_S3: s3rver.url,
      GITHUB_SHA: 'c0ffee0000000000000000000000000000000001',
      ...staticKeys,
      ...options.env,
    },
  })
}

function expectSuccess(result: ActionRun): void {
  if (result.exitCode !== 0)
    throw new Error(`the action failed:\n${result.stdout}\n${result.stderr}`)
}

/** Runs the bundled record-release for what an upload step output, as deploy.yml does. */
async function recordRelease(
  uploaded: Record<string, string>,
  inputs: Record<string, string>,
): Promise<ActionRun> {
  const result = await runBundledAction('record-release', {
    timeoutMs: 60_000,
    inputs: {
      'deploy-status': 'success',
      app: 'web',
      bucket: uploaded.bucket ?? '',
      key: uploaded.key ?? '',
      sha256: uploaded.sha256 ?? '',
      size: uploaded.size ?? '',
      ...inputs,
    },
    env: {
      AWS_REGION: 'eu-central-1',
      AWS_ENDPOINT_URL_S3: s3rver.url,
      GITHUB_SHA: 'c0ffee0000000000000000000000000000000001',
      ...staticKeys,
    },
  })
  expectSuccess(result)
  return result
}

/** The AWS CLI against s3rver (async: s3rver answers from this very process). */
async function s3Cli(args: string[]): Promise<string> {
  const { stdout } = await execFileAsync('aws', args, {
    encoding: 'utf8',
    env: {
      ...process.env,
      ...staticKeys,
      AWS_REGION: 'eu-central-1',
      AWS_ENDPOINT_URL: s3rver.url,
      AWS_PAGER: '',
    },
  })
  return stdout
}

function writeTemp(bytes: Buffer): string {
  const path = join(work, `bytes-${counter++}`)
  writeFileSync(path, bytes)
  return path
}

describe('s3-upload from its bundle', () => {
  it('uploads, then skips the same bytes, then refuses different ones', async () => {
    const zip = release(7 * MiB)
    const first = await upload({ file: zip.path, version: 'v1.0.0', 'part-size': '5MiB' })
    expectSuccess(first)
    expect(first.outputs).toEqual({
      bucket: BUCKET,
      key: 'web/prod/v1.0.0.zip',
      uri: 's3://releases/web/prod/v1.0.0.zip',
      sha256: zip.sha256,
      size: String(7 * MiB),
      etag: expect.stringMatching(/^"[0-9a-f]{32}(-\d+)?"$/),
      uploaded: 'true',
      'version-id': '',
      'presigned-url': '',
      // Nothing was recorded in prod yet.
      'rollback-versions': '[]',
    })

    const again = await upload({ file: zip.path, version: 'v1.0.0' })
    expectSuccess(again)
    expect(again.outputs).toMatchObject({
      uploaded: 'false',
      sha256: zip.sha256,
      etag: first.outputs.etag,
    })

    const other = release(1000)
    const conflict = await upload({ file: other.path, version: 'v1.0.0' })
    expect(conflict.exitCode).toBe(1)
    expect(conflict.errors.join('\n')).toMatch(
      /s3:\/\/releases\/web\/prod\/v1\.0\.0\.zip already exists with different content .* Versions are immutable: build a new version/,
    )
    expect(conflict.outputs).toEqual({})
  })

  it('puts each environment under its own prefix, and says so when the environment is empty', async () => {
    const zip = release(500)
    const dev = await upload({ file: zip.path, version: 'v1.0.1', environment: 'dev' })
    expectSuccess(dev)
    expect(dev.outputs.uri).toBe('s3://releases/web/dev/v1.0.1.zip')
    const none = await upload({ file: zip.path, version: 'v1.0.1', environment: '' })
    expect(none.exitCode).toBe(1)
    expect(none.errors.join('\n')).toContain(
      `input 'key': "{app}/{environment}/{version}.zip" uses {environment}, but input ` +
        "'environment' (resolve-environment's 'environment' output) is empty",
    )
  })

  describe('a rollback (version only)', () => {
    /** Deploys `version` to `environment` as the pipeline does: upload, then record-release. */
    async function deployed(version: string, environment: string, bytes = 2000) {
      const zip = release(bytes)
      const uploaded = await upload({ file: zip.path, version, environment })
      expectSuccess(uploaded)
      await recordRelease(uploaded.outputs, { version, environment })
      return { zip, uploaded }
    }

    it('lists the versions recorded before this run, newest first, but the one it deploys', async () => {
      // The records' names are what is listed: written here with the times in them.
      await deployed('v0.4.0', 'uat')
      // One a second from 2026-11-01T08:00:00Z.
      for (const [second, version] of ['v0.4.0', 'v0.4.1', 'v0.4.2', 'v0.4.1'].entries()) {
        const key = `web/uat/deployments/20261101T08000${second}Z-${version}.json`
        await s3Cli(['s3api', 'put-object', '--bucket', BUCKET, '--key', key])
      }
      // Another environment's records are not listed.
      await deployed('v0.9.0', 'uat2')
      const zip = release(900)
      const next = await upload({ file: zip.path, version: 'v0.4.2', environment: 'uat' })
      expectSuccess(next)
      expect(next.warnings).toEqual([])
      const listed = JSON.parse(next.outputs['rollback-versions'] ?? '') as unknown[]
      // v0.4.0's newest record is the one record-release just wrote; v0.4.2 is left out.
      expect(listed).toEqual([
        { version: 'v0.4.0', 'deployed-at': expect.stringMatching(/^20\d\d-.*Z$/) },
        { version: 'v0.4.1', 'deployed-at': '2026-11-01T08:00:03Z' },
      ])
      // A rollback to v0.4.0 lists the others, not v0.4.0 itself.
      const back = await upload({ version: 'v0.4.0', environment: 'uat' })
      expectSuccess(back)
      expect(back.outputs['rollback-versions']).toBe(
        JSON.stringify([
          { version: 'v0.4.1', 'deployed-at': '2026-11-01T08:00:03Z' },
          { version: 'v0.4.2', 'deployed-at': '2026-11-01T08:00:02Z' },
        ]),
      )
      // Without an app there are no records to list: the output is empty, and nothing warns.
      const noApp = await upload({
        file: zip.path,
        app: '',
        version: 'v0.4.3',
        environment: 'uat',
        key: 'web/{environment}/{version}.zip',
      })
      expectSuccess(noApp)
      expect(noApp.warnings).toEqual([])
      expect(noApp.outputs['rollback-versions']).toBe('')
    })

    it("returns a version deployed to the environment, with the record's sha256", async () => {
      const { zip } = await deployed('v0.0.7', 'prod')
      const found = await upload({ version: 'v0.0.7', environment: 'prod' })
      expectSuccess(found)
      expect(found.outputs).toMatchObject({
        uri: 's3://releases/web/prod/v0.0.7.zip',
        sha256: zip.sha256,
        size: '2000',
        uploaded: 'false',
      })
      expect(found.stdout).toContain('s3://releases/web/prod/v0.0.7.zip was deployed to prod at 20')
      const other = 'f'.repeat(64)
      const mismatch = await upload({
        version: 'v0.0.7',
        environment: 'prod',
        'expected-sha256': other,
      })
      expect(mismatch.exitCode).toBe(1)
      expect(mismatch.errors.join('\n')).toContain(
        `input 'expected-sha256': s3://releases/web/prod/v0.0.7.zip has sha256 ${zip.sha256}, not ${other}`,
      )
    })

    it('refuses a version never deployed to that environment, listing the ones it may use', async () => {
      await deployed('v0.1.0', 'stage')
      await deployed('v0.1.1', 'stage')
      // Stored, but never deployed to stage.
      expectSuccess(
        await upload({ file: release(10).path, version: 'v0.1.2', environment: 'stage' }),
      )
      const refused = await upload({ version: 'v0.1.2', environment: 'stage' })
      expect(refused.exitCode).toBe(1)
      expect(refused.errors.join('\n')).toContain(
        'version "v0.1.2" was never deployed successfully to environment "stage", so it cannot ' +
          'be rolled back to; versions deployed to stage (newest first, from ' +
          's3://releases/web/stage/deployments/): v0.1.1, v0.1.0.',
      )
      expect(refused.outputs).toEqual({})
      // A version deployed to another environment is no evidence for this one.
      const elsewhere = await upload({ version: 'v0.1.0', environment: 'qa' })
      expect(elsewhere.errors.join('\n')).toContain(
        'no deployment to qa has been recorded yet (under s3://releases/web/qa/deployments/)',
      )
    })

    it('hands on the recorded sha256, not what an overwritten object claims', async () => {
      const { zip } = await deployed('v0.2.0', 'prod', 3000)
      // The attack: same key, same size, other bytes.
      const evil = randomBytes(3000)
      const evilSha = createHash('sha256').update(evil).digest('hex')
      const overwrite = (metadata: string[]) =>
        s3Cli([
          's3api',
          'put-object',
          '--bucket',
          BUCKET,
          '--key',
          'web/prod/v0.2.0.zip',
          '--body',
          writeTemp(evil),
          ...metadata,
        ])
      // Metadata consistent with the new bytes: refused outright.
      await overwrite(['--metadata', `sha256=${evilSha}`])
      const consistent = await upload({ version: 'v0.2.0', environment: 'prod' })
      expect(consistent.exitCode).toBe(1)
      expect(consistent.errors.join('\n')).toContain(
        `s3://releases/web/prod/v0.2.0.zip now says sha256 "${evilSha}", not the recorded one`,
      )
      // Whatever the object says (here: nothing, or the old sha256), the output is the
      // recorded sha256, which the host then checks the downloaded bytes against.
      for (const metadata of [[], ['--metadata', `sha256=${zip.sha256}`]]) {
        await overwrite(metadata)
        const found = await upload({ version: 'v0.2.0', environment: 'prod' })
        expectSuccess(found)
        expect(found.outputs.sha256).toBe(zip.sha256)
      }
      // What the lookup did before records (still there behind its explicit input): it
      // reads the sha256 of whatever is stored, so the host would accept the new bytes.
      await overwrite([])
      const trusting = await upload({
        version: 'v0.2.0',
        environment: 'prod',
        'allow-any-stored-version': 'true',
      })
      expect(trusting.outputs.sha256).toBe(evilSha)
    })

    it('needs the environment, unless any stored version is explicitly allowed', async () => {
      const zip = release(700)
      expectSuccess(await upload({ file: zip.path, version: 'v0.3.0', environment: 'prod' }))
      const noEnvironment = await upload({
        version: 'v0.3.0',
        environment: '',
        key: 'web/prod/{version}.zip',
      })
      expect(noEnvironment.exitCode).toBe(1)
      expect(noEnvironment.errors.join('\n')).toContain(
        "input 'environment' is empty: a rollback (input 'version' without 'file' or " +
          "'artifact-name') may only use a version that was deployed to that environment",
      )
      const any = await upload({
        version: 'v0.3.0',
        environment: 'prod',
        'allow-any-stored-version': 'true',
      })
      expectSuccess(any)
      expect(any.outputs.sha256).toBe(zip.sha256)
      expect(any.warnings.join('\n')).toContain(
        "allow-any-stored-version: the version's sha256 comes from the object's own metadata",
      )
      const missing = await upload({
        version: 'v0.3.9',
        environment: 'prod',
        'allow-any-stored-version': 'true',
      })
      expect(missing.errors.join('\n')).toContain(
        's3://releases/web/prod/v0.3.9.zip does not exist, so this version cannot be deployed; ' +
          'the newest under s3://releases/web/prod/:',
      )
    })
  })

  it('uploads only the bytes the build job reported (expected-sha256)', async () => {
    const zip = release(1500)
    const other = release(1500)
    const refused = await upload({
      file: zip.path,
      version: 'v6.0.0',
      'expected-sha256': other.sha256,
    })
    expect(refused.exitCode).toBe(1)
    expect(refused.errors.join('\n')).toContain(
      `input 'expected-sha256': the release has sha256 ${zip.sha256}, but the build reported ` +
        `${other.sha256}: it was changed on the way from the build job, so nothing was uploaded`,
    )
    await expect(
      s3Cli(['s3api', 'head-object', '--bucket', BUCKET, '--key', 'web/prod/v6.0.0.zip']),
    ).rejects.toThrow(/Not Found|404/)
    const accepted = await upload({
      file: zip.path,
      version: 'v6.0.0',
      'expected-sha256': zip.sha256.toUpperCase(),
    })
    expectSuccess(accepted)
    expect(accepted.outputs).toMatchObject({ uploaded: 'true', sha256: zip.sha256 })
  })

  it('masks the presigned URL before anything else prints it', async () => {
    const zip = release(3000)
    const result = await upload({ file: zip.path, version: 'v2.0.0', 'presign-expires': '15m' })
    expectSuccess(result)
    const url = result.outputs['presigned-url'] ?? ''
    expect(url).toMatch(
      /^http:\/\/127\.0\.0\.1:\d+\/releases\/web\/prod\/v2\.0\.0\.zip\?.*X-Amz-Expires=900/,
    )
    const lines = result.stdout.split('\n')
    const maskLine = lines.findIndex(line => line.startsWith('::add-mask::'))
    expect(maskLine).toBeGreaterThanOrEqual(0)
    // Nothing but the mask command ever carries the URL's signature.
    const signature = /X-Amz-Signature=([0-9a-f]+)/.exec(url)?.[1] ?? 'missing'
    expect(lines.filter(line => line.includes(signature))).toEqual([lines[maskLine]])
    const response = await fetch(url)
    expect(Buffer.from(await response.arrayBuffer()).equals(readFileSync(zip.path))).toBe(true)

    expect(result.warnings).toEqual([])
    const tooLong = await upload({ file: zip.path, version: 'v2.0.0', 'presign-expires': '13h' })
    expect(tooLong.errors.join('\n')).toMatch(
      /input 'presign-expires': "13h" is not valid: use a duration from 0s to 12h/,
    )
  })

  it.each([
    [
      { bucket: 'My_Bucket' },
      `input 'bucket': "My_Bucket" is not valid: a bucket name uses only lowercase letters, digits, '.' and '-'`,
    ],
    [
      { bucket: 'ab' },
      `input 'bucket': "ab" is not valid: a bucket name is 3 to 63 characters long`,
    ],
    [
      { key: '/web/{version}.zip' },
      `input 'key': "/web/v1.zip" is not valid: an object key does not start with '/'`,
    ],
    [
      { key: '{app}/../{version}.zip' },
      `input 'key': "web/../v1.zip" is not valid: an object key has no '.' or '..' segments`,
    ],
    [
      { key: 'web/\u0007{version}.zip' },
      `input 'key': "web/\\u0007v1.zip" is not valid: an object key has no control characters`,
    ],
    [{ file: 'missing.zip' }, `input 'file': "missing.zip" is not valid: the file does not exist`],
    [{ version: 'v1;rm -rf /' }, `input 'version' "v1;rm -rf /" is not allowed`],
    [
      { 'if-exists': 'maybe' },
      `input 'if-exists': "maybe" is not valid: use one of 'skip-same', 'fail', 'overwrite'`,
    ],
    [{ 'kms-key-id': 'alias/x' }, `input 'kms-key-id' is set, but input 'sse' is not 'aws:kms'`],
    [{ 'storage-class': 'GLACIER' }, 'archived objects need a restore'],
    [{ 'artifact-name': 'release' }, "set either input 'file' or input 'artifact-name', not both"],
    [{ file: '', version: '' }, "nothing to do: set input 'file' or 'artifact-name'"],
    [
      { 'expected-sha256': 'abc' },
      `input 'expected-sha256': "abc" is not valid: use 64 hex digits`,
    ],
    [
      { 'artifact-digest': `sha256:${'a'.repeat(64)}` },
      "input 'artifact-digest' is set, but input 'artifact-name' is not",
    ],
    [{ 'allow-any-stored-version': 'yes' }, `input 'allow-any-stored-version': "yes" is not valid`],
  ])('refuses bad input %j with the rule', async (inputs, message) => {
    const zip = release(10)
    const result = await upload({ file: zip.path, version: 'v1', ...inputs }, { cwd: work })
    expect(result.exitCode).toBe(1)
    expect(result.errors.join('\n')).toContain(message)
  })

  it('uploads the one file of a workflow artifact (the build job → deploy job hand-off)', async () => {
    const service = await new ArtifactServiceStandIn().start()
    try {
      const zip = release(4000)
      const name = 'web-v5.0.0.zip'
      const staged = join(work, `staged-${counter++}`)
      execFileSync('mkdir', ['-p', staged])
      execFileSync('cp', [zip.path, join(staged, name)])
      // The artifact service stores what it was given wrapped in a zip of its own.
      execFileSync('zip', ['-q', '-0', join(staged, 'wrapper.zip'), name], { cwd: staged })
      service.artifacts.set('release', {
        id: 4242,
        name: 'release',
        createRequest: {},
        blocks: new Map(),
        content: readFileSync(join(staged, 'wrapper.zip')),
        finalized: true,
      })
      const result = await upload(
        { 'artifact-name': 'release', version: 'v5.0.0' },
        { env: service.env() },
      )
      expectSuccess(result)
      expect(result.outputs).toMatchObject({
        uri: 's3://releases/web/prod/v5.0.0.zip',
        sha256: zip.sha256,
        uploaded: 'true',
      })

      // The hand-off check: the digest package-zip reported for the artifact.
      const digest = `sha256:${createHash('sha256')
        .update(readFileSync(join(staged, 'wrapper.zip')))
        .digest('hex')}`
      const checked = await upload(
        { 'artifact-name': 'release', version: 'v5.0.2', 'artifact-digest': digest },
        { env: service.env() },
      )
      expectSuccess(checked)
      expect(checked.outputs.sha256).toBe(zip.sha256)
      const forged = `sha256:${'0'.repeat(64)}`
      const refused = await upload(
        { 'artifact-name': 'release', version: 'v5.0.3', 'artifact-digest': forged },
        { env: service.env() },
      )
      expect(refused.exitCode).toBe(1)
      expect(refused.errors.join('\n')).toContain(
        `input 'artifact-digest': workflow artifact "release" (id 4242) does not have the digest ${forged}`,
      )
      await expect(
        s3Cli(['s3api', 'head-object', '--bucket', BUCKET, '--key', 'web/prod/v5.0.3.zip']),
      ).rejects.toThrow(/Not Found|404/)

      const missing = await upload(
        { 'artifact-name': 'nope', version: 'v5.0.1' },
        { env: service.env() },
      )
      expect(missing.exitCode).toBe(1)
      expect(missing.errors.join('\n')).toContain(
        'workflow artifact "nope" was not found in this run',
      )
    } finally {
      await service.stop()
    }
  })

  it('says how to get credentials when there are none, or they are unknown', async () => {
    const none = await upload(
      { file: release(10).path, version: 'v1' },
      {
        env: {
          AWS_ACCESS_KEY_ID: undefined,
          AWS_SECRET_ACCESS_KEY: undefined,
          // No instance metadata service here: the chain ends at once.
          AWS_EC2_METADATA_DISABLED: 'true',
          HOME: work,
        },
      },
    )
    expect(none.exitCode).toBe(1)
    expect(none.errors.join('\n')).toContain(
      "no AWS credentials were found: set input 'role-to-assume' (GitHub OIDC), or run aws-actions/configure-aws-credentials",
    )
    const unknown = await upload(
      { file: release(10).path, version: 'v1' },
      { env: { AWS_ACCESS_KEY_ID: 'AKIAUNKNOWN', AWS_SECRET_ACCESS_KEY: 'x' } },
    )
    expect(unknown.exitCode).toBe(1)
    // Every path starts with a HEAD, whose 403 has no body to tell why.
    expect(unknown.errors.join('\n')).toContain(
      'access denied: HeadObject on "s3://releases/web/prod/v1.zip" (HTTP 403). The role needs s3:GetObject',
    )
    expect(unknown.errors.join('\n')).toContain('the credentials themselves may also be invalid')
  })

  it('says how to set a region when there is none', async () => {
    const result = await upload(
      { file: release(10).path, version: 'v1' },
      { env: { AWS_REGION: undefined } },
    )
    expect(result.exitCode).toBe(1)
    expect(result.errors.join('\n')).toContain("no AWS region: set input 'aws-region'")
  })
})

describe('s3-upload with role-to-assume (GitHub OIDC)', () => {
  const oidcEnv = () => ({
    ACTIONS_ID_TOKEN_REQUEST_URL: oidc.url,
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: oidc.requestToken,
    AWS_ENDPOINT_URL_STS: sts.url,
    // No static keys: only the assumed role's credentials can reach s3rver.
    AWS_ACCESS_KEY_ID: undefined,
    AWS_SECRET_ACCESS_KEY: undefined,
  })

  it('assumes the role and uploads with its credentials, which never leave the step', async () => {
    const zip = release(3000)
    const calls = sts.calls.length
    const result = await upload(
      { file: zip.path, version: 'v3.0.0', 'role-to-assume': ROLE, 'aws-region': 'eu-west-1' },
      { env: oidcEnv() },
    )
    expectSuccess(result)
    expect(result.outputs).toMatchObject({ uploaded: 'true', sha256: zip.sha256 })
    expect(sts.calls.slice(calls)).toEqual([
      expect.objectContaining({
        roleArn: ROLE,
        roleSessionName: 'gha-1234567890-1-octo-org-octo-repo',
        durationSeconds: 3600,
        status: 200,
        subject: SUBJECT,
      }),
    ])
    expect(sts.calls.at(-1)?.userAgent).toMatch(/ec2-deploy-actions\/0\.1\.0.*action\/s3-upload/)
    expect(oidc.requests.at(-1)).toMatchObject({
      audience: 'sts.amazonaws.com',
      authorized: true,
      status: 200,
    })
    const issued = sts.issued.at(-1)!
    const secrets = [issued.accessKeyId, issued.secretAccessKey, issued.sessionToken]
    const masked = result.stdout.split('\n').filter(line => line.startsWith('::add-mask::'))
    for (const secret of secrets) {
      expect(masked).toContain(`::add-mask::${secret}`)
      const elsewhere = result.stdout
        .split('\n')
        .filter(l => l.includes(secret) && !l.startsWith('::add-mask::'))
      expect(elsewhere).toEqual([])
      expect(result.stderr).not.toContain(secret)
      expect(result.envFile).not.toContain(secret)
      expect(result.summary).not.toContain(secret)
      expect(JSON.stringify(result.outputs)).not.toContain(secret)
    }
    // The masks come before the first use of the credentials (the upload's log lines).
    const firstMask = result.stdout.indexOf(`::add-mask::${issued.secretAccessKey}`)
    expect(firstMask).toBeLessThan(result.stdout.indexOf('uploading to'))
  })

  it('warns when the presigned URL would outlive the role session', async () => {
    const result = await upload(
      {
        file: release(100).path,
        version: 'v3.1.0',
        'role-to-assume': ROLE,
        'role-duration-seconds': '900',
        'presign-expires': '1h',
      },
      { env: oidcEnv() },
    )
    expectSuccess(result)
    expect(sts.calls.at(-1)?.durationSeconds).toBe(900)
    expect(result.warnings.join('\n')).toContain(
      'the presigned URL stops working when the role session ends, after 900s, not after 3600s',
    )
    expect(result.warnings.join('\n')).toContain(
      "the presigned URL stays valid for 3600s: until then anyone who can read this deploy's " +
        'SSM command (ssm:ListCommands, ssm:GetCommandInvocation) can download the release',
    )
  })

  it("explains a trust policy that does not match the token's sub", async () => {
    const result = await upload(
      { file: release(10).path, version: 'v3.0.1', 'role-to-assume': UNTRUSTING_ROLE },
      { env: oidcEnv() },
    )
    expect(result.exitCode).toBe(1)
    const message = result.errors.join('\n')
    expect(message).toContain(
      `AWS refused to let this workflow assume role "${UNTRUSTING_ROLE}" (AccessDenied`,
    )
    expect(message).toContain(`(StringEquals) must equal this token's sub "${SUBJECT}"`)
    expect(message).toContain(`must allow this token's aud "sts.amazonaws.com"`)
  })

  it('shows the permissions block when the job has no id-token permission', async () => {
    const result = await upload(
      { file: release(10).path, version: 'v3.0.2', 'role-to-assume': ROLE },
      {
        env: {
          ...oidcEnv(),
          ACTIONS_ID_TOKEN_REQUEST_URL: undefined,
          ACTIONS_ID_TOKEN_REQUEST_TOKEN: undefined,
        },
      },
    )
    expect(result.exitCode).toBe(1)
    expect(result.errors.join('\n')).toContain(ID_TOKEN_PERMISSIONS_BLOCK)
  })

  it('refuses a role name that is not an ARN, and a session name STS would refuse', async () => {
    const byName = await upload(
      { file: release(10).path, version: 'v1', 'role-to-assume': 'deploy' },
      { env: oidcEnv() },
    )
    expect(byName.errors.join('\n')).toContain(
      `input 'role-to-assume': "deploy" is not valid: use the full role ARN`,
    )
    const session = await upload(
      { file: release(10).path, version: 'v1', 'role-to-assume': ROLE, 'role-session-name': 'a b' },
      { env: oidcEnv() },
    )
    expect(session.errors.join('\n')).toContain(`input 'role-session-name': "a b" is not valid`)
  })
})
