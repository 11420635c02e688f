import { readFileSync, readdirSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from '@jest/globals'
import fc from 'fast-check'
import { S3Client } from '@aws-sdk/client-s3'
import {
  AwsClientFactory,
  DEFAULT_MAX_ATTEMPTS,
  SESSION_NAME_PATTERN,
  SUITE_NAME,
  SUITE_VERSION,
  decodeTokenClaims,
  defaultSessionName,
  resolveMaxAttempts,
  resolveRegion,
  validateRoleArn,
  validateSessionName,
} from '../../packages/aws/src/index.js'
import { effectivePartSize, parsePartSize } from '../../packages/release-store/src/index.js'
import { ConfigurationError } from '../../packages/kit/src/index.js'
import { AWS_INPUT_NAMES } from '../../packages/github/src/index.js'
import { readActionYml, repoRoot } from '../support/bundled-action.js'

const MiB = 1024 * 1024

describe('resolveRegion', () => {
  it('prefers the input, then AWS_REGION, then AWS_DEFAULT_REGION', () => {
    const env = { AWS_REGION: 'eu-west-1', AWS_DEFAULT_REGION: 'us-west-2' }
    expect(resolveRegion('eu-central-1', env)).toBe('eu-central-1')
    expect(resolveRegion(undefined, env)).toBe('eu-west-1')
    expect(resolveRegion('', { AWS_DEFAULT_REGION: 'us-west-2' })).toBe('us-west-2')
    expect(resolveRegion(undefined, { AWS_REGION: 'us-gov-west-1' })).toBe('us-gov-west-1')
  })

  it('says how to set a region when there is none', () => {
    expect(() => resolveRegion(undefined, {})).toThrow(ConfigurationError)
    expect(() => resolveRegion(undefined, {})).toThrow(/set input 'aws-region'.*AWS_REGION/)
  })

  it('names the source of a malformed region', () => {
    expect(() => resolveRegion('eu central', {})).toThrow(
      /input 'aws-region': "eu central" is not an AWS region/,
    )
    expect(() => resolveRegion(undefined, { AWS_REGION: 'x;y' })).toThrow(/AWS_REGION: "x;y"/)
  })
})

describe('resolveMaxAttempts', () => {
  it('takes the explicit value, else AWS_MAX_ATTEMPTS, else the default', () => {
    expect(resolveMaxAttempts(2, { AWS_MAX_ATTEMPTS: '9' })).toBe(2)
    expect(resolveMaxAttempts(undefined, { AWS_MAX_ATTEMPTS: '9' })).toBe(9)
    expect(resolveMaxAttempts(undefined, {})).toBe(DEFAULT_MAX_ATTEMPTS)
    expect(() => resolveMaxAttempts(undefined, { AWS_MAX_ATTEMPTS: 'lots' })).toThrow(
      /AWS_MAX_ATTEMPTS: "lots" is not valid/,
    )
    expect(() => resolveMaxAttempts(0, {})).toThrow(/use 1 to 20/)
  })
})

describe('AwsClientFactory', () => {
  it('configures standard retries, the attempts and the suite in the user agent', async () => {
    const factory = new AwsClientFactory({
      region: 'eu-central-1',
      maxAttempts: 7,
      component: 's3-upload',
    })
    const s3 = factory.client(S3Client)
    expect(factory.client(S3Client)).toBe(s3)
    expect(await s3.config.region()).toBe('eu-central-1')
    expect(await s3.config.maxAttempts()).toBe(7)
    const retryMode: unknown = s3.config.retryMode
    expect(
      typeof retryMode === 'function' ? await (retryMode as () => Promise<string>)() : retryMode,
    ).toBe('standard')
    expect(s3.config.customUserAgent).toEqual([
      [SUITE_NAME, SUITE_VERSION],
      ['action', 's3-upload'],
    ])
    factory.destroy()
  })

  it('knows its own version', () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
      version: string
    }
    expect(SUITE_VERSION).toBe(pkg.version)
  })
})

describe('session names', () => {
  it('derives one from repository and run', () => {
    expect(
      defaultSessionName({
        repository: 'octo-org/octo-repo',
        runId: '1234567890',
        runAttempt: '2',
      }),
    ).toBe('gha-1234567890-2-octo-org-octo-repo')
  })

  it('always satisfies STS and keeps the run id, whatever the context', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary' }),
        fc.string(),
        fc.string(),
        (repository, runId, attempt) => {
          const name = defaultSessionName({ repository, runId, runAttempt: attempt })
          expect(name).toMatch(SESSION_NAME_PATTERN)
          if (/^\d{1,20}$/.test(runId)) expect(name.startsWith(`gha-${runId}-`)).toBe(true)
        },
      ),
    )
  })

  it('validates explicit names and role ARNs with the rule', () => {
    expect(validateSessionName('role-session-name', 'deploy@prod')).toBe('deploy@prod')
    expect(() => validateSessionName('role-session-name', 'a b')).toThrow(
      /input 'role-session-name': "a b" is not valid: use 2 to 64/,
    )
    expect(
      validateRoleArn('role-to-assume', 'arn:aws:iam::123456789012:role/ci/deploy'),
    ).toBeTruthy()
    expect(
      validateRoleArn('role-to-assume', 'arn:aws-us-gov:iam::123456789012:role/d'),
    ).toBeTruthy()
    expect(() => validateRoleArn('role-to-assume', 'deploy')).toThrow(/use the full role ARN/)
  })
})

describe('decodeTokenClaims', () => {
  it('reads sub, aud and iss from the payload only', () => {
    const payload = Buffer.from(
      JSON.stringify({
        sub: 'repo:o/r:ref:refs/heads/main',
        aud: 'sts.amazonaws.com',
        iss: 'x',
        secret: 'no',
      }),
    ).toString('base64url')
    expect(decodeTokenClaims(`e30.${payload}.sig`)).toEqual({
      sub: 'repo:o/r:ref:refs/heads/main',
      aud: 'sts.amazonaws.com',
      iss: 'x',
    })
    expect(decodeTokenClaims('not-a-jwt')).toBeUndefined()
    expect(decodeTokenClaims('a.%%%.c')).toBeUndefined()
  })
})

describe('part sizes', () => {
  it('reads sizes as the AWS CLI does: a bare number is bytes, MB means MiB', () => {
    expect(parsePartSize('part-size', '5242880')).toBe(5 * MiB)
    expect(parsePartSize('part-size', '5MB')).toBe(5 * MiB)
    expect(parsePartSize('part-size', '16MiB')).toBe(16 * MiB)
    expect(parsePartSize('part-size', '100MB')).toBe(100 * MiB)
    expect(parsePartSize('part-size', '1gib')).toBe(1024 * MiB)
    expect(parsePartSize('part-size', '5GB')).toBe(5 * 1024 * MiB)
    for (const bad of ['8', '5242879', '6GiB', '1.5MiB', '-8', '4MB', '']) {
      expect(() => parsePartSize('part-size', bad)).toThrow(
        /input 'part-size'.*use a size from 5MiB to 5GiB/,
      )
    }
  })

  it('raises the part size when a file would need more than 10,000 parts', () => {
    expect(effectivePartSize(100 * MiB, 8 * MiB)).toBe(8 * MiB)
    const big = 200 * 1024 * MiB
    const part = effectivePartSize(big, 8 * MiB)
    expect(Math.ceil(big / part)).toBeLessThanOrEqual(10_000)
    expect(part % MiB).toBe(0)
  })
})

describe('the AWS inputs of every action', () => {
  const actions = readdirSync(join(repoRoot, 'actions'))
    .filter(name => existsSync(join(repoRoot, 'actions', name, 'action.yml')))
    .map(name => ({ name, inputs: readActionYml(name).inputs ?? {} }))
  const reference = actions.find(action => action.name === 's3-upload')?.inputs ?? {}

  it('are complete in the reference (s3-upload), with the documented defaults', () => {
    for (const input of AWS_INPUT_NAMES) expect(reference[input]).toBeDefined()
    expect(reference.audience?.default).toBe('sts.amazonaws.com')
    expect(reference['role-duration-seconds']?.default).toBe('3600')
  })

  it('are declared identically (descriptions, defaults) wherever one of them is declared', () => {
    for (const action of actions.filter(a => AWS_INPUT_NAMES.some(input => input in a.inputs))) {
      for (const input of AWS_INPUT_NAMES.filter(name => name in action.inputs)) {
        expect({ action: action.name, input, spec: action.inputs[input] }).toEqual({
          action: action.name,
          input,
          spec: reference[input],
        })
      }
    }
  })

  it('are all there in every action that assumes a role', () => {
    for (const action of actions.filter(a => 'role-to-assume' in a.inputs)) {
      expect({
        action: action.name,
        missing: AWS_INPUT_NAMES.filter(name => !(name in action.inputs)),
      }).toEqual({
        action: action.name,
        missing: [],
      })
    }
  })
})
