// The inputs that write the desired release: ssm-deploy's record-engine and record-release's
// engine-key / engine-sha256, refused with errors that name the input and the rule.
import { describe, expect, it } from '@jest/globals'
import { getInputs as recordReleaseInputs } from '../../actions/record-release/inputs.js'
import { getInputs as ssmDeployInputs } from '../../actions/ssm-deploy/inputs.js'
import { RUN_ENV, inputSource } from './input-fixtures.js'

const ENV = RUN_ENV
const source = inputSource
const SHA256 = 'a'.repeat(64)
const ENGINE_SHA256 = 'b'.repeat(64)

const DEPLOY = {
  'instance-ids': 'i-0123456789abcdef0',
  'app-name': 'web',
  environment: 'prod',
  version: 'v1.0.0',
  'artifact-uri': 's3://my-artifacts/web/prod/v1.0.0.zip',
  'artifact-sha256': SHA256,
  'record-engine': 'true',
}
const deploy = (values: Record<string, string>) =>
  ssmDeployInputs(source({ ...DEPLOY, ...values }), ENV)

const RECORD = {
  'deploy-status': 'success',
  app: 'web',
  environment: 'prod',
  version: 'v1.0.0',
  bucket: 'my-artifacts',
  key: 'web/prod/v1.0.0.zip',
  sha256: SHA256,
  size: '10',
}
const record = (values: Record<string, string>) =>
  recordReleaseInputs(source({ ...RECORD, ...values }), ENV)

describe("ssm-deploy's record-engine", () => {
  it("stores into the artifact's bucket, under the app and environment", () => {
    expect(deploy({}).recordEngine).toEqual({
      bucket: 'my-artifacts',
      app: 'web',
      environment: 'prod',
    })
    expect(deploy({ 'record-engine': '' }).recordEngine).toBeUndefined()
    expect(deploy({ 'record-engine': 'false' }).recordEngine).toBeUndefined()
  })

  it.each([
    [
      'app-name',
      { 'app-name': '', 'deploy-dir': '/opt/web' },
      "input 'record-engine' is true but input 'app-name' is empty",
    ],
    [
      'environment',
      { environment: '' },
      "input 'record-engine' is true but input 'environment' is empty",
    ],
    [
      'artifact-uri',
      { 'artifact-uri': '' },
      "input 'record-engine' is true but input 'artifact-uri' is empty",
    ],
    [
      'download',
      { download: 'presigned', 'artifact-uri': 'https://example.com/a.zip' },
      "input 'record-engine' is true but input 'download' is \"presigned\"",
    ],
  ])('is refused without %s', (_name, values, message) => {
    expect(() => deploy(values)).toThrow(message)
  })
})

describe("record-release's engine-key and engine-sha256", () => {
  const key = `web/prod/engine/${ENGINE_SHA256}.sh`

  it('are both given, or neither', () => {
    expect(record({}).record?.engine).toBeUndefined()
    expect(record({ 'engine-key': key, 'engine-sha256': ENGINE_SHA256 }).record?.engine).toEqual({
      key,
      sha256: ENGINE_SHA256,
    })
    expect(() => record({ 'engine-key': key })).toThrow(
      "input 'engine-key' is set but input 'engine-sha256' is empty",
    )
    expect(() => record({ 'engine-sha256': ENGINE_SHA256 })).toThrow(
      "input 'engine-sha256' is set but input 'engine-key' is empty",
    )
  })

  it.each([
    [
      'a short sha256',
      { 'engine-key': key, 'engine-sha256': 'b'.repeat(63) },
      "input 'engine-sha256'",
    ],
    [
      "another environment's key",
      { 'engine-key': `web/dev/engine/${ENGINE_SHA256}.sh`, 'engine-sha256': ENGINE_SHA256 },
      "input 'engine-key'",
    ],
    [
      'a key that is not named by the sha256',
      { 'engine-key': `web/prod/engine/${'c'.repeat(64)}.sh`, 'engine-sha256': ENGINE_SHA256 },
      "input 'engine-key'",
    ],
    [
      'a path outside engine/',
      { 'engine-key': `web/prod/engine/../${ENGINE_SHA256}.sh`, 'engine-sha256': ENGINE_SHA256 },
      "input 'engine-key'",
    ],
  ])('refuse %s, naming the input', (_what, values, message) => {
    expect(() => record(values)).toThrow(message)
  })

  it('are not read when the deploy did not succeed', () => {
    expect(record({ 'deploy-status': 'failed', 'engine-key': 'x' })).toEqual({
      deployStatus: 'failed',
    })
  })
})
