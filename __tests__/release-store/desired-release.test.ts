// The desired release against the sandbox's S3 (s3rver behind the gateway that answers
// If-Match / If-None-Match as S3 does), through the real SDK; read back with the AWS CLI.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { beforeAll, describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { ConfigurationError } from '../../packages/kit/src/index.js'
import {
  desiredReleaseKey,
  engineScriptKey,
  readDesiredRelease,
  storeEngineScript,
  writeDesiredRelease,
  type DeploymentRecord,
  type DesiredRelease,
} from '../../packages/release-store/src/index.js'
import { useSandboxS3 } from './s3-support.js'

const run = promisify(execFile)
const BUCKET = 'desired'
const RUN_URL = 'https://github.com/octo-org/octo-repo/actions/runs/'
const ENGINE_SHA = 'e'.repeat(64)

const store = useSandboxS3(BUCKET)
let s3: S3Client
beforeAll(() => {
  s3 = store.s3
})

/** The desired release a run of `version` would write (run id `runId`). */
function desired(app: string, environment: string, version: string, runId = 1): DesiredRelease {
  const record: DeploymentRecord = {
    app,
    environment,
    version,
    bucket: BUCKET,
    key: `${app}/${environment}/${version}.zip`,
    sha256: 'a'.repeat(64),
    size: 1234,
    time: '2026-12-01T10:50:03Z',
    runUrl: `${RUN_URL}${runId}`,
    commit: 'c0ffee0000000000000000000000000000000001',
    actor: 'octocat',
    mode: 'deploy',
  }
  return {
    record,
    recordKey: `${app}/${environment}/deployments/20261201T105003Z-${version}.json`,
    engine: { key: `${app}/${environment}/engine/${ENGINE_SHA}.sh`, sha256: ENGINE_SHA },
  }
}

async function cliRead(key: string): Promise<unknown> {
  const env = { ...process.env, AWS_ENDPOINT_URL: store.url, AWS_PAGER: '' }
  const { stdout } = await run(
    'aws',
    ['s3', 'cp', '--only-show-errors', `s3://${BUCKET}/${key}`, '-'],
    { env },
  )
  return JSON.parse(stdout)
}

describe('the desired release', () => {
  it('is written next to the artifacts, first with If-None-Match, then with If-Match', async () => {
    expect(await readDesiredRelease(s3, BUCKET, 'web', 'prod')).toBeUndefined()
    const first = await writeDesiredRelease(s3, {
      bucket: BUCKET,
      desired: desired('web', 'prod', 'v1.0.0'),
      previousEtag: null,
    })
    expect(first.key).toBe('web/prod/desired.json')
    expect(await cliRead(first.key)).toEqual({
      app: 'web',
      environment: 'prod',
      version: 'v1.0.0',
      bucket: BUCKET,
      key: 'web/prod/v1.0.0.zip',
      sha256: 'a'.repeat(64),
      size: 1234,
      time: '2026-12-01T10:50:03Z',
      'run-url': `${RUN_URL}1`,
      commit: 'c0ffee0000000000000000000000000000000001',
      actor: 'octocat',
      mode: 'deploy',
      'record-key': 'web/prod/deployments/20261201T105003Z-v1.0.0.json',
      'engine-key': `web/prod/engine/${ENGINE_SHA}.sh`,
      'engine-sha256': ENGINE_SHA,
    })

    const read = await readDesiredRelease(s3, BUCKET, 'web', 'prod')
    expect(read?.etag).toBe(first.etag)
    expect(read?.record.version).toBe('v1.0.0')
    await writeDesiredRelease(s3, {
      bucket: BUCKET,
      desired: desired('web', 'prod', 'v2.0.0', 2),
      previousEtag: read?.etag ?? null,
    })
    expect(await cliRead('web/prod/desired.json')).toMatchObject({ version: 'v2.0.0' })
  })

  it('lets exactly one of two runs that read the same ETag win; the loser names the winner', async () => {
    await writeDesiredRelease(s3, {
      bucket: BUCKET,
      desired: desired('api', 'staging', 'v1.0.0'),
      previousEtag: null,
    })
    const read = await readDesiredRelease(s3, BUCKET, 'api', 'staging')
    const results = await Promise.allSettled(
      [7, 8, 9].map(runId =>
        writeDesiredRelease(s3, {
          bucket: BUCKET,
          desired: desired('api', 'staging', `v2.0.${runId}`, runId),
          previousEtag: read?.etag ?? null,
        }),
      ),
    )
    expect(results.filter(r => r.status === 'fulfilled')).toHaveLength(1)
    const stored = (await readDesiredRelease(s3, BUCKET, 'api', 'staging'))?.record
    for (const result of results.filter(r => r.status === 'rejected')) {
      const reason = (result as PromiseRejectedResult).reason as Error
      expect(reason).toBeInstanceOf(ConfigurationError)
      expect(reason.message).toContain(
        `was changed by ${stored?.runUrl} (deploy of ${stored?.version}`,
      )
      expect(reason.message).toContain('nothing was overwritten')
    }
  })

  it('never creates over an existing one: a first write loses to a desired.json already there', async () => {
    await writeDesiredRelease(s3, {
      bucket: BUCKET,
      desired: desired('shop', 'dev', 'v1.0.0', 11),
      previousEtag: null,
    })
    await expect(
      writeDesiredRelease(s3, {
        bucket: BUCKET,
        desired: desired('shop', 'dev', 'v0.9.0', 12),
        previousEtag: null,
      }),
    ).rejects.toThrow(`was changed by ${RUN_URL}11 (deploy of v1.0.0`)
    expect(await cliRead('shop/dev/desired.json')).toMatchObject({ version: 'v1.0.0' })
  })

  it('refuses a desired.json that is not this environment’s, or not a record', async () => {
    const put = (body: string) =>
      s3.send(
        new PutObjectCommand({ Bucket: BUCKET, Key: desiredReleaseKey('web', 'qa'), Body: body }),
      )
    const other = desired('web', 'prod', 'v1.0.0')
    const json = (fields: Record<string, unknown>) =>
      JSON.stringify({
        ...fields,
        'run-url': other.record.runUrl,
        'record-key': other.recordKey,
        'engine-key': other.engine.key.replace('/prod/', '/qa/'),
        'engine-sha256': other.engine.sha256,
        ...fields,
      })

    await put(json({ ...other.record }))
    await expect(readDesiredRelease(s3, BUCKET, 'web', 'qa')).rejects.toThrow(
      `desired release s3://${BUCKET}/web/qa/desired.json: field 'environment' "prod" is not "qa"`,
    )
    await put(json({ ...other.record, environment: 'qa' }))
    await expect(readDesiredRelease(s3, BUCKET, 'web', 'qa')).rejects.toThrow(
      `field 'record-key' "web/prod/deployments/20261201T105003Z-v1.0.0.json" is not valid`,
    )
    await put(json({ ...other.record, environment: 'qa', version: '$(reboot)' }))
    await expect(readDesiredRelease(s3, BUCKET, 'web', 'qa')).rejects.toThrow(
      `field 'version' "$(reboot)"`,
    )
    const qa = { ...other.record, environment: 'qa', 'record-key': 'web/qa/deployments/x.json' }
    const hostileEngines: [Record<string, unknown>, string][] = [
      [{ 'engine-sha256': '$(reboot)' }, `field 'engine-sha256' "$(reboot)" is not valid`],
      [{ 'engine-sha256': 'E'.repeat(64) }, `field 'engine-sha256' "${'E'.repeat(64)}"`],
      [
        { 'engine-key': `web/qa/engine/../../prod/engine/${ENGINE_SHA}.sh` },
        `field 'engine-key' "web/qa/engine/../../prod/engine/${ENGINE_SHA}.sh" is not valid`,
      ],
      [
        { 'engine-key': `web/qa/engine/${'f'.repeat(64)}.sh` },
        `use the key of the engine script named by its sha256, web/qa/engine/${ENGINE_SHA}.sh`,
      ],
      [{ 'engine-key': undefined }, `field 'engine-key' "undefined" is not valid`],
    ]
    for (const [fields, message] of hostileEngines) {
      await put(json({ ...qa, ...fields }))
      await expect(readDesiredRelease(s3, BUCKET, 'web', 'qa')).rejects.toThrow(message)
    }
    await put(json(qa))
    expect((await readDesiredRelease(s3, BUCKET, 'web', 'qa'))?.engine).toEqual({
      key: `web/qa/engine/${ENGINE_SHA}.sh`,
      sha256: ENGINE_SHA,
    })
    await put('{"version":')
    await expect(readDesiredRelease(s3, BUCKET, 'web', 'qa')).rejects.toThrow('is not valid JSON')
  })

  it('checks what it writes before anything reaches S3', async () => {
    const bad = desired('web', 'prod', 'v1.0.0')
    bad.recordKey = 'web/dev/deployments/x.json'
    await expect(
      writeDesiredRelease(s3, { bucket: BUCKET, desired: bad, previousEtag: null }),
    ).rejects.toThrow(`field 'record-key' "web/dev/deployments/x.json" is not valid`)
    const otherEngine = desired('web', 'prod', 'v1.0.0')
    otherEngine.engine = { key: `web/dev/engine/${ENGINE_SHA}.sh`, sha256: ENGINE_SHA }
    await expect(
      writeDesiredRelease(s3, { bucket: BUCKET, desired: otherEngine, previousEtag: null }),
    ).rejects.toThrow(`field 'engine-key' "web/dev/engine/${ENGINE_SHA}.sh" is not valid`)
    expect(await readDesiredRelease(s3, BUCKET, 'web', 'prod')).toMatchObject({
      record: { version: 'v2.0.0' },
    })
  })
})

describe('the stored engine script', () => {
  const script = '#!/bin/sh\necho engine\n'
  const sha = createHash('sha256').update(script).digest('hex')

  it('is stored under its sha256, create-only; storing the same bytes again is fine', async () => {
    const first = await storeEngineScript(s3, {
      bucket: BUCKET,
      app: 'web',
      environment: 'prod',
      script,
    })
    expect(first).toEqual({ key: `web/prod/engine/${sha}.sh`, sha256: sha })
    expect(engineScriptKey('web', 'prod', sha)).toBe(first.key)
    const again = await storeEngineScript(s3, {
      bucket: BUCKET,
      app: 'web',
      environment: 'prod',
      script,
    })
    expect(again).toEqual(first)
    const env = { ...process.env, AWS_ENDPOINT_URL: store.url, AWS_PAGER: '' }
    const { stdout } = await run(
      'aws',
      ['s3', 'cp', '--only-show-errors', `s3://${BUCKET}/${first.key}`, '-'],
      { env },
    )
    expect(stdout).toBe(script)
  })

  it('never overwrites other bytes under an engine key: it fails, naming the object', async () => {
    const forged = 'echo forged\n'
    await s3.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: engineScriptKey('web', 'staging', sha),
        Body: forged,
      }),
    )
    await expect(
      storeEngineScript(s3, { bucket: BUCKET, app: 'web', environment: 'staging', script }),
    ).rejects.toThrow(`s3://${BUCKET}/web/staging/engine/${sha}.sh holds other bytes`)
    const object = await s3.send(
      new (await import('@aws-sdk/client-s3')).GetObjectCommand({
        Bucket: BUCKET,
        Key: engineScriptKey('web', 'staging', sha),
      }),
    )
    expect(await object.Body?.transformToString()).toBe(forged)
  })

  it('refuses names that would leave the environment', () => {
    expect(() => engineScriptKey('web', '../prod', sha)).toThrow(
      `environment "../prod" is not allowed`,
    )
    expect(() => engineScriptKey('web', 'prod', '../x')).toThrow(
      `engine sha256 "../x" is not valid`,
    )
  })
})
