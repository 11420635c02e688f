// One application-name rule (APP_NAME_RULE) for every action that takes one and for the
// deployment records: a name is refused, or accepted, the same way everywhere.
import { describe, expect, it } from '@jest/globals'
import { APP_NAME_RULE, ConfigurationError } from '../../packages/kit/src/index.js'
import { engineVariables } from '../../packages/remote/src/index.js'
import { validateRecord } from '../../packages/release-store/src/index.js'
import { getInputs as packageZipInputs } from '../../actions/package-zip/inputs.js'
import { getInputs as s3UploadInputs } from '../../actions/s3-upload/inputs.js'
import { getInputs as recordReleaseInputs } from '../../actions/record-release/inputs.js'
import { getInputs as ssmDeployInputs } from '../../actions/ssm-deploy/inputs.js'
import { RUN_ENV, inputSource } from './input-fixtures.js'

const ENV = RUN_ENV
const source = inputSource
const SHA256 = 'a'.repeat(64)
/** What a deployment record holds besides the app; record-release reads the same as inputs. */
const RECORD = {
  environment: 'dev',
  version: 'v1',
  bucket: 'my-bucket',
  key: 'k.zip',
  sha256: SHA256,
}

/** Each place an application name is checked, given the name. */
const CHECKS: [string, (app: string) => unknown][] = [
  ['package-zip', app => packageZipInputs(source({ app, version: 'v1' }), ENV)],
  [
    's3-upload',
    app =>
      s3UploadInputs(
        source({ app, version: 'v1', environment: 'dev', file: 'a.zip', bucket: 'my-bucket' }),
        ENV,
      ),
  ],
  [
    'record-release',
    app =>
      recordReleaseInputs(source({ 'deploy-status': 'success', app, ...RECORD, size: '1' }), ENV),
  ],
  [
    'ssm-deploy',
    app => {
      const { deploy } = ssmDeployInputs(
        source({
          'instance-ids': 'i-0123456789abcdef0',
          'app-name': app,
          'deploy-dir': '/srv/app',
          version: 'v1',
          'artifact-uri': 's3://my-bucket/k.zip',
          'artifact-sha256': SHA256,
        }),
        ENV,
      )
      return engineVariables(deploy.remote)
    },
  ],
  [
    'a deployment record',
    app =>
      validateRecord('record', {
        app,
        ...RECORD,
        size: 1,
        time: '2026-12-01T10:50:03Z',
        'run-url': 'https://github.com/octo-org/octo-repo/actions/runs/42',
        commit: ENV.GITHUB_SHA,
        actor: 'octocat',
        mode: 'deploy',
      }),
  ],
]

describe('the application name', () => {
  it.each(CHECKS)("%s refuses 'my+app' with the one rule", (_where, check) => {
    let error: unknown
    try {
      check('my+app')
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(ConfigurationError)
    expect((error as Error).message).toContain(`"my+app" is not allowed: ${APP_NAME_RULE.rule}`)
  })

  it.each(CHECKS)("%s accepts 'my-app_2.web'", (_where, check) => {
    expect(() => check('my-app_2.web')).not.toThrow()
  })

  it.each(CHECKS)('%s refuses a name longer than the rule allows', (_where, check) => {
    expect(() => check('a'.repeat(APP_NAME_RULE.maxLength + 1))).toThrow(
      `is too long (${APP_NAME_RULE.maxLength + 1} characters, at most ${APP_NAME_RULE.maxLength})`,
    )
  })
})
