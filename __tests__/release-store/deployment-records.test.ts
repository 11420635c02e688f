// Deployment records against the sandbox S3 through the real SDK (read back with the AWS CLI),
// and the 412 path of the name clash with a mocked client, to control which names are taken.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { beforeAll, describe, expect, it } from '@jest/globals'
import { DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { mockClient } from 'aws-sdk-client-mock'
import {
  deploymentRecordKey,
  findDeploymentRecord,
  findRecordedArtifact,
  listRollbackVersions,
  writeDeploymentRecord,
  type DeploymentRecord,
} from '../../packages/release-store/src/index.js'
import { ConfigurationError } from '../../packages/kit/src/index.js'
import { offlineS3Client, preconditionFailed, useSandboxS3 } from './s3-support.js'

const run = promisify(execFile)
const BUCKET = 'records'
const RUN = {
  runUrl: 'https://github.com/octo-org/octo-repo/actions/runs/1234567890',
  commit: 'c0ffee0000000000000000000000000000000001',
  actor: 'octocat',
}
const SHA_A = 'a'.repeat(64)

const store = useSandboxS3(BUCKET)
let s3: S3Client
beforeAll(() => {
  s3 = store.s3
})

/** A clock that reads `iso` and then moves on one second per call. */
function clock(iso: string): () => Date {
  let at = Date.parse(iso)
  return () => new Date((at += 1000) - 1000)
}

function record(
  app: string,
  environment: string,
  version: string,
  extra: Partial<DeploymentRecord> = {},
): Omit<DeploymentRecord, 'time'> {
  return {
    app,
    environment,
    version,
    bucket: BUCKET,
    key: `${app}/${environment}/${version}.zip`,
    sha256: SHA_A,
    size: 5,
    mode: 'deploy',
    ...RUN,
    ...extra,
  }
}

async function put(key: string, body: string, metadata: Record<string, string> = {}) {
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body, Metadata: metadata }))
}

describe('writing a record', () => {
  it('stores the shared JSON shape under {app}/{environment}/deployments/<time>-<version>.json', async () => {
    const { key } = await writeDeploymentRecord(s3, {
      bucket: BUCKET,
      record: record('web', 'prod', 'v1.2.3', { mode: 'rollback', size: 1234 }),
      now: () => new Date('2026-12-01T10:50:03.789Z'),
    })
    expect(key).toBe('web/prod/deployments/20261201T105003Z-v1.2.3.json')
    // An independent reader: the AWS CLI.
    const env = { ...process.env, AWS_ENDPOINT_URL: store.url, AWS_PAGER: '' }
    const { stdout } = await run(
      'aws',
      ['s3', 'cp', '--only-show-errors', `s3://${BUCKET}/${key}`, '-'],
      {
        env,
      },
    )
    expect(Object.keys(JSON.parse(stdout) as object)).toEqual([
      'app',
      'environment',
      'version',
      'bucket',
      'key',
      'sha256',
      'size',
      'time',
      'run-url',
      'commit',
      'actor',
      'mode',
    ])
    expect(JSON.parse(stdout)).toEqual({
      app: 'web',
      environment: 'prod',
      version: 'v1.2.3',
      bucket: BUCKET,
      key: 'web/prod/v1.2.3.zip',
      sha256: SHA_A,
      size: 1234,
      time: '2026-12-01T10:50:03Z',
      'run-url': RUN.runUrl,
      commit: RUN.commit,
      actor: 'octocat',
      mode: 'rollback',
    })
  })

  it('refuses a field that is not valid before anything reaches S3', async () => {
    const client = offlineS3Client()
    const mock = mockClient(client)
    await expect(
      writeDeploymentRecord(client, {
        bucket: BUCKET,
        record: record('web', 'prod', 'v1', { actor: 'octocat\n::add-mask::x' }),
      }),
    ).rejects.toThrow(`field 'actor' "octocat\\n::add-mask::x" is not allowed`)
    expect(mock.calls()).toHaveLength(0)
    mock.restore()
  })
})

describe('a record name that is taken (412)', () => {
  it('writes create-only and, when the name exists, takes the next second', async () => {
    const client = offlineS3Client()
    const mock = mockClient(client)
    mock.on(PutObjectCommand).rejectsOnce(preconditionFailed()).resolves({ ETag: '"e"' })
    // The clock stands still: the retry must still move to a new name.
    const { key, record: written } = await writeDeploymentRecord(client, {
      bucket: BUCKET,
      record: record('web', 'prod', 'v2'),
      now: () => new Date('2026-12-01T10:50:03Z'),
    })
    const inputs = mock.commandCalls(PutObjectCommand).map(call => call.args[0].input)
    expect(inputs.map(input => [input.Key, input.IfNoneMatch])).toEqual([
      ['web/prod/deployments/20261201T105003Z-v2.json', '*'],
      ['web/prod/deployments/20261201T105004Z-v2.json', '*'],
    ])
    expect(key).toBe('web/prod/deployments/20261201T105004Z-v2.json')
    expect(written.time).toBe('2026-12-01T10:50:04Z')
    expect(JSON.parse(String(inputs[1]?.Body)).time).toBe('2026-12-01T10:50:04Z')
    mock.restore()
  })

  it('fails clearly when every name tried is taken, overwriting nothing', async () => {
    const client = offlineS3Client()
    const mock = mockClient(client)
    mock.on(PutObjectCommand).rejects(preconditionFailed())
    const failure = writeDeploymentRecord(client, {
      bucket: BUCKET,
      record: record('web', 'prod', 'v3'),
      now: clock('2026-12-01T10:50:03Z'),
      attempts: 3,
    })
    await expect(failure).rejects.toBeInstanceOf(ConfigurationError)
    await expect(failure).rejects.toThrow(
      'no deployment record was written: S3 refused (412 Precondition Failed) every name tried',
    )
    expect(mock.commandCalls(PutObjectCommand)).toHaveLength(3)
    mock.restore()
  })
})

describe('finding the record a rollback needs', () => {
  beforeAll(async () => {
    const at = clock('2026-11-01T08:00:00Z')
    for (const version of ['v1.0.0', 'v1.1.0', 'v1.0.0', 'v1.2.0']) {
      await writeDeploymentRecord(s3, {
        bucket: BUCKET,
        record: record('shop', 'prod', version, { sha256: version.at(-3)!.repeat(64) }),
        now: at,
      })
    }
    // Another environment's record is no evidence for prod.
    await writeDeploymentRecord(s3, {
      bucket: BUCKET,
      record: record('shop', 'dev', 'v9.9.9'),
      now: at,
    })
  })

  it('returns the newest record of the version', async () => {
    const found = await findDeploymentRecord(s3, {
      bucket: BUCKET,
      app: 'shop',
      environment: 'prod',
      version: 'v1.0.0',
    })
    expect(found.time).toBe('2026-11-01T08:00:02Z')
  })

  it("lists the environment's versions, newest first, when the version has no record", async () => {
    const failure = findDeploymentRecord(s3, {
      bucket: BUCKET,
      app: 'shop',
      environment: 'prod',
      version: 'v9.9.9',
    })
    await expect(failure).rejects.toThrow(
      'version "v9.9.9" was never deployed successfully to environment "prod", so it cannot be ' +
        'rolled back to; versions deployed to prod (newest first, from ' +
        's3://records/shop/prod/deployments/): v1.2.0, v1.0.0, v1.1.0. ' +
        "Set 'allow-any-stored-version: true'",
    )
    await expect(
      findDeploymentRecord(s3, { bucket: BUCKET, app: 'shop', environment: 'qa', version: 'v1' }),
    ).rejects.toThrow(
      'no deployment to qa has been recorded yet (under s3://records/shop/qa/deployments/)',
    )
  })

  it('lists the versions a rollback may use: each once, newest first, not the live one', async () => {
    const options = { bucket: BUCKET, app: 'shop', environment: 'prod' }
    expect(await listRollbackVersions(s3, { ...options, live: 'v1.2.0' })).toEqual([
      { version: 'v1.0.0', deployedAt: '2026-11-01T08:00:02Z' },
      { version: 'v1.1.0', deployedAt: '2026-11-01T08:00:01Z' },
    ])
    expect(await listRollbackVersions(s3, { ...options, live: 'v0', limit: 2 })).toEqual([
      { version: 'v1.2.0', deployedAt: '2026-11-01T08:00:03Z' },
      { version: 'v1.0.0', deployedAt: '2026-11-01T08:00:02Z' },
    ])
    expect(await listRollbackVersions(s3, { ...options, environment: 'qa', live: 'v1' })).toEqual(
      [],
    )
  })

  it('lists no version whose record name is one the version rule refuses', async () => {
    const long = `v${'1'.repeat(128)}`
    await put(`shop/uat/deployments/20261101T090000Z-${long}.json`, '{}')
    await put('shop/uat/deployments/20261101T080000Z-v1.json', '{}')
    expect(
      await listRollbackVersions(s3, {
        bucket: BUCKET,
        app: 'shop',
        environment: 'uat',
        live: 'v2',
      }),
    ).toEqual([{ version: 'v1', deployedAt: '2026-11-01T08:00:00Z' }])
  })

  it('refuses a planted record whose body does not match its name, or is not valid', async () => {
    const prefix = 'shop/stage/deployments/'
    const plant = async (version: string, body: string) => {
      await put(`${prefix}20261101T09000${version.slice(1)}Z-${version}.json`, body)
      return findDeploymentRecord(s3, {
        bucket: BUCKET,
        app: 'shop',
        environment: 'stage',
        version,
      })
    }
    const edited = (environment: string, version: string, change: object) =>
      JSON.stringify({ ...JSON.parse(recordBody('shop', environment, version)), ...change })
    await expect(plant('v5', edited('prod', 'v5', {}))).rejects.toThrow(
      'deployment record s3://records/shop/stage/deployments/20261101T090005Z-v5.json says ' +
        'environment "prod", not "stage": it cannot vouch for this rollback',
    )
    await expect(plant('v6', '{"app":"shop"')).rejects.toThrow(
      '20261101T090006Z-v6.json is not valid JSON',
    )
    await expect(plant('v7', edited('stage', 'v7', { sha256: 'nope' }))).rejects.toThrow(
      `field 'sha256' "nope" is not valid: use 64 lowercase hex digits`,
    )
    await expect(
      plant('v8', edited('stage', 'v8', { 'run-url': 'https://evil/x' })),
    ).rejects.toThrow(
      `field 'run-url' "https://evil/x" is not valid: use the https URL of a workflow run`,
    )
  })
})

function recordBody(app: string, environment: string, version: string): string {
  const { runUrl, ...rest } = record(app, environment, version)
  return JSON.stringify({ ...rest, 'run-url': runUrl, time: '2026-11-01T09:00:00Z' })
}

describe('the recorded object', () => {
  const lookup = (version: string) =>
    findRecordedArtifact(s3, {
      bucket: BUCKET,
      app: 'api',
      environment: 'prod',
      version,
      key: `api/prod/${version}.zip`,
    })

  it("gives the record's sha256, even when the object was replaced with forged metadata", async () => {
    await put('api/prod/v1.zip', 'hello', { sha256: SHA_A })
    await writeDeploymentRecord(s3, { bucket: BUCKET, record: record('api', 'prod', 'v1') })
    // An attacker with write access to the key swaps the bytes (same size) and forges the
    // metadata to match the record: the lookup cannot tell, but it hands the host the
    // recorded sha256, which the new bytes do not have.
    await put('api/prod/v1.zip', 'evil!', { sha256: SHA_A })
    const { location } = await lookup('v1')
    expect(location).toMatchObject({ key: 'api/prod/v1.zip', sha256: SHA_A, size: 5 })

    // Forged to its own sha256 instead: refused outright.
    const evilSha = 'e'.repeat(64)
    await put('api/prod/v1.zip', 'evil!', { sha256: evilSha })
    await expect(lookup('v1')).rejects.toThrow(
      `s3://records/api/prod/v1.zip now says sha256 "${evilSha}", not the recorded one, so it is not what was deployed to prod`,
    )
  })

  it('refuses an object that changed size or is gone', async () => {
    await put('api/prod/v2.zip', 'hello')
    await writeDeploymentRecord(s3, { bucket: BUCKET, record: record('api', 'prod', 'v2') })
    await put('api/prod/v2.zip', 'hello, world')
    await expect(lookup('v2')).rejects.toThrow(
      's3://records/api/prod/v2.zip now holds 12 bytes where 5 were recorded',
    )
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'api/prod/v2.zip' }))
    await expect(lookup('v2')).rejects.toThrow('s3://records/api/prod/v2.zip no longer exists')
  })

  it('refuses a key other than the one recorded', async () => {
    await put('api/prod/v3.zip', 'hello')
    await writeDeploymentRecord(s3, {
      bucket: BUCKET,
      record: record('api', 'prod', 'v3', { key: 'api/v3.zip' }),
    })
    await expect(lookup('v3')).rejects.toThrow(
      'v3 was deployed to prod from "s3://records/api/v3.zip", not from s3://records/api/prod/v3.zip',
    )
  })
})

it('names records so that they sort by time', () => {
  expect(deploymentRecordKey('web', 'prod', 'v1+b.2', new Date('2026-01-02T03:04:05.999Z'))).toBe(
    'web/prod/deployments/20260102T030405Z-v1+b.2.json',
  )
})
