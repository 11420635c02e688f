import { describe, expect, it } from '@jest/globals'
import fc from 'fast-check'
import { ConfigurationError, ENVIRONMENT_RULE, VERSION_RULE } from '../../packages/kit/src/index.js'
import { roleForEnvironment } from '../../packages/github/src/index.js'
import {
  SEMVER_PATTERN,
  branchSlug,
  computeVersion,
  parseRules,
  toSemver,
} from '../../packages/refs/src/index.js'
import { hostileString } from '../support/hostile.js'

const SLUG_PATTERN = /^[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?$/
const sha = fc.stringMatching(/^[0-9a-f]{40}$/)
const anyName = hostileString('/tmp/never')

describe('branch slugs', () => {
  it('always match [a-z0-9.-], stay bounded, never empty, never contain ".."', () => {
    fc.assert(
      fc.property(anyName, name => {
        const slug = branchSlug(name)
        expect(slug).toMatch(SLUG_PATTERN)
        expect(slug.length).toBeLessThanOrEqual(40)
        expect(slug).not.toContain('..')
      }),
      { numRuns: 3000 },
    )
  })
})

describe('versions computed from any branch', () => {
  it('match the version rule, and their semver output is valid SemVer 2.0', () => {
    fc.assert(
      fc.property(anyName, sha, (branch, commit) => {
        const result = computeVersion({
          ref: `refs/heads/${branch}`,
          sha: commit,
          baseVersion: 'v0.0.0',
          format: '{base}-{branch}-{sha7}',
          reachableTags: [],
        })
        expect(result.version).toMatch(VERSION_RULE.pattern)
        expect(result.version.length).toBeLessThanOrEqual(VERSION_RULE.maxLength)
        expect(result.semver).toMatch(SEMVER_PATTERN)
      }),
      { numRuns: 2000 },
    )
  })

  it('toSemver turns every allowed version into valid SemVer 2.0', () => {
    const allowed = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._+-]{0,60}$/)
    fc.assert(
      fc.property(allowed, version => {
        expect(toSemver(version, undefined)).toMatch(SEMVER_PATTERN)
      }),
      { numRuns: 3000 },
    )
  })
})

describe('rules and roles from any text', () => {
  it('parse or fail with a ConfigurationError, and never keep a pattern that cannot match', () => {
    const patterns = fc.oneof(anyName, fc.stringMatching(/^[a-z:/*]{1,12}$/))
    const environments = fc.oneof(anyName, fc.constantFrom('dev', 'prod'))
    fc.assert(
      fc.property(patterns, environments, (pattern, environment) => {
        let rules: ReturnType<typeof parseRules> = []
        try {
          rules = parseRules(`${pattern} => ${environment}`)
        } catch (error) {
          expect(error).toBeInstanceOf(ConfigurationError)
          return
        }
        for (const rule of rules) {
          expect(rule.glob).not.toMatch(/[:\s]/)
          expect(rule.environment).toMatch(ENVIRONMENT_RULE.pattern)
        }
      }),
      { numRuns: 2000 },
    )
  })

  it('pick a valid role ARN for a valid environment, or fail with a ConfigurationError', () => {
    fc.assert(
      fc.property(anyName, anyName, (text, environment) => {
        const value = `dev => arn:aws:iam::123456789012:role/d\n${text}`
        try {
          expect(roleForEnvironment(value, environment)).toMatch(/^arn:aws:iam::\d{12}:role\//)
          expect(environment.toLowerCase()).toMatch(ENVIRONMENT_RULE.pattern)
        } catch (error) {
          expect(error).toBeInstanceOf(ConfigurationError)
        }
      }),
      { numRuns: 2000 },
    )
  })
})
