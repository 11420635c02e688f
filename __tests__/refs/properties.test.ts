import { describe, expect, it } from '@jest/globals'
import fc from 'fast-check'
import { VERSION_RULE } from '../../packages/kit/src/index.js'
import {
  SEMVER_PATTERN,
  branchSlug,
  computeVersion,
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
