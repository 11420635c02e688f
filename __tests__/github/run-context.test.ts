import { describe, expect, it } from '@jest/globals'
import {
  runContext,
  workflowRunUrl,
  workflowRunUrlIfValid,
} from '../../packages/github/src/index.js'

// The one builder of the run URL (and the audit trail's commit and actor) from GITHUB_*.
const env = {
  GITHUB_SERVER_URL: 'https://github.com',
  GITHUB_REPOSITORY: 'octo-org/octo-repo',
  GITHUB_RUN_ID: '1234567890',
  GITHUB_SHA: 'c0ffee0000000000000000000000000000000001',
  GITHUB_ACTOR: 'dependabot[bot]',
}
const RUN_URL = 'https://github.com/octo-org/octo-repo/actions/runs/1234567890'
const MALFORMED = [
  [{ GITHUB_ACTOR: 'octo cat' }, `GITHUB_ACTOR "octo cat" is not valid`],
  [{ GITHUB_SHA: 'HEAD;id' }, `GITHUB_SHA "HEAD;id" is not valid`],
  [{ GITHUB_REPOSITORY: 'a/b/../c' }, `GITHUB_REPOSITORY "a/b/../c" is not valid: use OWNER/NAME`],
  [{ GITHUB_REPOSITORY: 'octo/..' }, `GITHUB_REPOSITORY "octo/.." is not valid`],
  [
    { GITHUB_SERVER_URL: 'javascript:alert(1)' },
    'GITHUB_SERVER_URL "javascript:alert(1)" is not valid',
  ],
  [{ GITHUB_RUN_ID: '12;rm' }, 'GITHUB_RUN_ID "12;rm" is not valid'],
] as const

describe('the run context', () => {
  it("builds the run URL and takes the commit and actor from the runner's variables", () => {
    expect(runContext(env)).toEqual({
      runUrl: RUN_URL,
      commit: env.GITHUB_SHA,
      actor: env.GITHUB_ACTOR,
    })
  })

  it.each([...MALFORMED, [{ GITHUB_SHA: undefined }, 'GITHUB_SHA is not set']])(
    'refuses %j',
    (change, message) => {
      expect(() => runContext({ ...env, ...change })).toThrow(message)
    },
  )
})

describe('the run URL', () => {
  it('is undefined when a variable is unset', () => {
    expect(workflowRunUrl({ ...env, GITHUB_RUN_ID: '' })).toBeUndefined()
    expect(workflowRunUrl(env)).toBe(RUN_URL)
  })

  it.each(MALFORMED.filter(([change]) => !('GITHUB_ACTOR' in change || 'GITHUB_SHA' in change)))(
    'is refused strictly, or left out by the tolerant reader, with %j',
    (change, message) => {
      expect(() => workflowRunUrl({ ...env, ...change })).toThrow(message)
      expect(workflowRunUrlIfValid({ ...env, ...change })).toBeUndefined()
    },
  )
})
