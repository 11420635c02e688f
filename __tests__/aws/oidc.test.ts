// OIDC role assumption end to end against the sandbox's token service and STS, through the
// real SDK (fromWebToken → AssumeRoleWithWebIdentity over HTTP, AWS_ENDPOINT_URL_STS).
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import {
  afterAll,
  afterEach,
  beforeAll,
  beforeEach,
  describe,
  expect,
  it,
  jest,
} from '@jest/globals'
import {
  AwsClientFactory,
  ID_TOKEN_PERMISSIONS_BLOCK,
  webIdentityCredentials,
  type WebIdentityOptions,
} from '../../packages/aws/src/index.js'
import { ConfigurationError } from '../../packages/kit/src/index.js'
import { getGitHubIdToken } from '../../packages/github/src/index.js'
import { startOidcServer, type OidcServer } from '../../dev/github-runner/src/index.js'
import { startSts, type StsServer } from '../../dev/aws-sandbox/src/index.js'

const run = promisify(execFile)
const ROLE = 'arn:aws:iam::123456789012:role/deploy'
const STRANGER_ROLE = 'arn:aws:iam::123456789012:role/other-repo-deploy'
const SUBJECT = 'repo:octo-org/octo-repo:environment:prod'

let oidc: OidcServer
let sts: StsServer
const savedEnv = { ...process.env }

beforeAll(async () => {
  oidc = await startOidcServer({ requestToken: 'runtime-request-token', subject: SUBJECT })
  sts = await startSts({
    identityProvider: oidc,
    roles: [
      {
        arn: ROLE,
        audience: 'sts.amazonaws.com',
        subject: 'repo:octo-org/octo-repo:*',
        maxSessionDuration: 7200,
      },
      { arn: STRANGER_ROLE, audience: 'sts.amazonaws.com', subject: 'repo:octo-org/other-repo:*' },
    ],
  })
  process.env.AWS_ENDPOINT_URL_STS = sts.url
  delete process.env.AWS_ACCESS_KEY_ID
  delete process.env.AWS_SECRET_ACCESS_KEY
})

afterAll(async () => {
  process.env = savedEnv
  await Promise.all([oidc.close(), sts.close()])
})

/** Fetches a token the way @actions/core does: URL + &audience=, bearer request token. */
async function token(audience = 'sts.amazonaws.com'): Promise<string> {
  const response = await fetch(`${oidc.url}&audience=${encodeURIComponent(audience)}`, {
    headers: { authorization: `Bearer ${oidc.requestToken}` },
  })
  expect(response.status).toBe(200)
  return ((await response.json()) as { value: string }).value
}

function provider(overrides: Partial<WebIdentityOptions> = {}) {
  const factory = new AwsClientFactory({
    region: 'eu-central-1',
    maxAttempts: 3,
    component: 'test',
  })
  return webIdentityCredentials({
    roleArn: ROLE,
    sessionName: 'gha-1-1-octo-org-octo-repo',
    durationSeconds: 3600,
    getToken: () => token(),
    clientConfig: factory.config,
    ...overrides,
  })
}

const failure = (promise: Promise<unknown>): Promise<Error> =>
  promise.then(
    () => {
      throw new Error('expected a failure')
    },
    (error: Error) => error,
  )

describe('webIdentityCredentials against the sandbox STS', () => {
  it('assumes the role, once, and hands the credentials to onCredentials first', async () => {
    const seen: string[] = []
    const calls = sts.calls.length
    const credentials = provider({
      onCredentials: c => seen.push(c.accessKeyId),
      durationSeconds: 7200,
    })
    const first = await credentials()
    const second = await credentials()
    expect(second).toBe(first)
    expect(sts.calls.length - calls).toBe(1)
    const issued = sts.issued.at(-1)!
    expect(first).toMatchObject({
      accessKeyId: issued.accessKeyId,
      secretAccessKey: issued.secretAccessKey,
      sessionToken: issued.sessionToken,
    })
    expect(first.expiration?.toISOString()).toBe(issued.expiration.toISOString())
    expect(seen).toEqual([issued.accessKeyId])
    const call = sts.calls.at(-1)!
    expect(call).toMatchObject({
      action: 'AssumeRoleWithWebIdentity',
      roleArn: ROLE,
      roleSessionName: 'gha-1-1-octo-org-octo-repo',
      durationSeconds: 7200,
      status: 200,
      subject: SUBJECT,
    })
    expect(call.userAgent).toContain('ec2-deploy-actions/0.1.0')
  })

  it('renews shortly before expiry with a fresh token, once for concurrent callers, retrying a failure', async () => {
    let tokens = 0
    let refuse = false
    const seen: string[] = []
    const credentials = provider({
      durationSeconds: 900,
      getToken: async () => {
        tokens++
        if (refuse) throw new Error('token service down')
        return token()
      },
      onCredentials: c => seen.push(c.accessKeyId),
    })
    const first = await credentials()
    const now = Date.now()
    const clock = jest.spyOn(Date, 'now')
    try {
      // Six minutes before expiry: still outside the renewal margin.
      clock.mockReturnValue(first.expiration!.getTime() - 6 * 60_000)
      expect(await credentials()).toBe(first)
      expect(tokens).toBe(1)

      // Four minutes before expiry: renewal, failing first; the failure is not kept.
      clock.mockReturnValue(first.expiration!.getTime() - 4 * 60_000)
      refuse = true
      await expect(credentials()).rejects.toThrow('token service down')
      refuse = false
      const calls = sts.calls.length
      const burst = await Promise.all([credentials(), credentials(), credentials()])
      expect(sts.calls.length - calls).toBe(1)
      expect(tokens).toBe(3)
      expect(new Set(burst).size).toBe(1)
      const renewed = burst[0]!
      expect(renewed.accessKeyId).not.toBe(first.accessKeyId)
      expect(renewed.accessKeyId).toBe(sts.issued.at(-1)!.accessKeyId)
      expect(seen).toEqual([first.accessKeyId, renewed.accessKeyId])
      expect(renewed.expiration!.getTime()).toBeGreaterThanOrEqual(now + 800_000)
    } finally {
      clock.mockRestore()
    }
  })

  it("explains AccessDenied with the trust policy's aud/sub conditions and the token's claims", async () => {
    const jwt = await token()
    const error = await failure(provider({ roleArn: STRANGER_ROLE, getToken: async () => jwt })())
    expect(error).toBeInstanceOf(ConfigurationError)
    expect(sts.calls.at(-1)).toMatchObject({ status: 403, code: 'AccessDenied' })
    expect(error.message).toContain(`assume role "${STRANGER_ROLE}" (AccessDenied`)
    expect(error.message).toContain(
      `"token.actions.githubusercontent.com:aud" (StringEquals) must allow this token's aud "sts.amazonaws.com"`,
    )
    expect(error.message).toContain(
      `"token.actions.githubusercontent.com:sub" (StringEquals) must equal this token's sub "${SUBJECT}"`,
    )
    expect(error.message).not.toContain('StringLike')
    expect(error.message).toContain(`compare it with the trust policy of role "${STRANGER_ROLE}"`)
    // The token is decoded for the message, never shown.
    for (const part of jwt.split('.')) expect(error.message).not.toContain(part)
  })

  it('prints a long customised sub in full, escaped', async () => {
    const sub =
      'repo:octo-org/octo-repo:environment:production-eu-west-1:job_workflow_ref:' +
      'octo-org/ec2-deploy-actions/.github/workflows/deploy.yml@refs/tags/v1.2.3\n::add-mask::x'
    const error = await failure(
      provider({ roleArn: STRANGER_ROLE, getToken: async () => oidc.sign({ sub }) })(),
    )
    expect(sts.calls.at(-1)).toMatchObject({ status: 403, code: 'AccessDenied', subject: sub })
    expect(error.message).toContain(`must equal this token's sub ${JSON.stringify(sub)}\n`)
  })

  it('explains a token audience the OIDC provider does not list', async () => {
    const error = await failure(provider({ getToken: () => token('api://something-else') })())
    expect(sts.calls.at(-1)).toMatchObject({ status: 400, code: 'InvalidIdentityToken' })
    expect(error.message).toMatch(
      /did not accept the GitHub OIDC token .*IAM OIDC identity provider for https:\/\/token\.actions\.githubusercontent\.com whose audiences include this token's aud "api:\/\/something-else" \(input 'audience'\)/,
    )
  })

  it('explains a duration longer than the role allows', async () => {
    const error = await failure(provider({ durationSeconds: 10_800 })())
    expect(error.message).toMatch(
      /refused the session duration .*MaxSessionDuration.*lower input 'role-duration-seconds' or raise the role's maximum session duration/,
    )
  })

  it('retries STS throttling with the SDK standard retry mode', async () => {
    const throttled = await startSts({
      identityProvider: oidc,
      roles: [{ arn: ROLE, audience: 'sts.amazonaws.com', subject: 'repo:octo-org/*' }],
      throttleFirst: 2,
    })
    process.env.AWS_ENDPOINT_URL_STS = throttled.url
    try {
      const credentials = await provider()()
      expect(credentials.accessKeyId).toBe(throttled.issued[0]?.accessKeyId)
      expect(throttled.calls.map(c => c.code ?? c.status)).toEqual([
        'Throttling',
        'Throttling',
        200,
      ])
    } finally {
      process.env.AWS_ENDPOINT_URL_STS = sts.url
      await throttled.close()
    }
  })

  it('speaks the protocol the AWS CLI reads', async () => {
    const { stdout } = await run(
      'aws',
      [
        'sts',
        'assume-role-with-web-identity',
        '--role-arn',
        ROLE,
        '--role-session-name',
        'cli-check',
        '--web-identity-token',
        await token(),
        '--output',
        'json',
      ],
      { env: { ...process.env, AWS_REGION: 'us-east-1', AWS_PAGER: '' } },
    )
    const answer = JSON.parse(stdout) as {
      Credentials: { AccessKeyId: string }
      AssumedRoleUser: { Arn: string }
      SubjectFromWebIdentityToken: string
    }
    expect(answer.Credentials.AccessKeyId).toBe(sts.issued.at(-1)?.accessKeyId)
    expect(answer.AssumedRoleUser.Arn).toBe(
      'arn:aws:sts::123456789012:assumed-role/deploy/cli-check',
    )
    expect(answer.SubjectFromWebIdentityToken).toBe(SUBJECT)
  }, 60_000)
})

describe('getGitHubIdToken', () => {
  let written: string[]
  beforeEach(() => {
    written = []
    jest.spyOn(process.stdout, 'write').mockImplementation(chunk => {
      written.push(String(chunk))
      return true
    })
  })
  afterEach(() => {
    jest.restoreAllMocks()
  })

  const env = () => ({
    ACTIONS_ID_TOKEN_REQUEST_URL: oidc.url,
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: oidc.requestToken,
  })

  it('gets a token for the audience through an outage, and masks it', async () => {
    const flaky = await startOidcServer({ requestToken: 'rt', subject: SUBJECT, failFirst: 2 })
    Object.assign(process.env, {
      ACTIONS_ID_TOKEN_REQUEST_URL: flaky.url,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'rt',
    })
    const waits: number[] = []
    try {
      const jwt = await getGitHubIdToken('sts.amazonaws.com', {
        env: process.env,
        retry: { sleep: async ms => void waits.push(ms) },
      })
      expect(flaky.requests.map(r => r.status)).toEqual([500, 500, 200])
      expect(flaky.requests.at(-1)?.audience).toBe('sts.amazonaws.com')
      expect(waits).toHaveLength(2)
      expect(written.join('')).toContain(`::add-mask::${jwt}`)
    } finally {
      await flaky.close()
    }
  })

  it('without id-token permission, shows the permissions block to add', async () => {
    const error = await failure(getGitHubIdToken('sts.amazonaws.com', { env: {} }))
    expect(error).toBeInstanceOf(ConfigurationError)
    expect(error.message).toContain(ID_TOKEN_PERMISSIONS_BLOCK)
    expect(error.message).toContain(
      'ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN not set',
    )
  })

  it('does not retry a refused request token, and says which permission is missing', async () => {
    Object.assign(process.env, env(), { ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'wrong' })
    const requests = oidc.requests.length
    const error = await failure(
      getGitHubIdToken('sts.amazonaws.com', { env: process.env, retry: { sleep: async () => {} } }),
    )
    expect(oidc.requests.length - requests).toBe(1)
    expect(error.message).toContain('the token service answered 401')
    expect(error.message).toContain('id-token: write')
  })
})
