import { afterAll, describe, expect, it } from '@jest/globals'
import { rmSync } from 'node:fs'
import { ConfigurationError, memoryLogger } from '../../packages/kit/src/index.js'
import {
  branchSlug,
  compareSemver,
  computeVersion,
  ensureTag,
  newestSemverTag,
  parseSemver,
  reachableTags,
  type TagApi,
} from '../../packages/refs/src/index.js'
import { TempRepo } from '../support/git.js'

const SHA = 'abc1234def5678901234567890abcdef12345678'
const base = {
  sha: SHA,
  baseVersion: 'v0.0.0',
  format: '{base}-{branch}-{sha7}',
  reachableTags: [] as string[],
}

describe('computeVersion', () => {
  it('names a branch build {base}-{branch}-{sha7}', () => {
    expect(computeVersion({ ...base, ref: 'refs/heads/master' })).toMatchObject({
      version: 'v0.0.0-master-abc1234',
      semver: '0.0.0-master-abc1234',
      shortSha: 'abc1234',
      branchSlug: 'master',
      isRelease: false,
    })
  })

  it('uses the newest reachable stable semver tag as {base}', () => {
    const result = computeVersion({
      ...base,
      ref: 'refs/heads/master',
      reachableTags: ['v0.0.6', 'v0.0.7', 'v0.0.10-rc.1', 'not-semver', 'v0.0.2'],
    })
    expect(result.version).toBe('v0.0.7-master-abc1234')
    expect(result.baseSource).toBe('tag')
  })

  it('falls back to base-version, and says fetch-depth: 0 when git could not tell', () => {
    const logger = memoryLogger()
    const result = computeVersion(
      { ...base, ref: 'refs/heads/dev', baseVersion: 'v2.1.0', reachableTags: undefined },
      logger,
    )
    expect(result.version).toBe('v2.1.0-dev-abc1234')
    expect(logger.lines.join('\n')).toContain("'fetch-depth: 0'")
  })

  it('gives a semver tag its own name, as a release', () => {
    expect(computeVersion({ ...base, ref: 'refs/tags/v1.2.0' })).toMatchObject({
      version: 'v1.2.0',
      semver: '1.2.0',
      isRelease: true,
    })
    expect(computeVersion({ ...base, ref: 'refs/tags/2.0.0-rc.1' })).toMatchObject({
      version: '2.0.0-rc.1',
      semver: '2.0.0-rc.1',
      isRelease: true,
    })
  })

  it('treats a tag that is not semver like a branch', () => {
    expect(computeVersion({ ...base, ref: 'refs/tags/nightly' })).toMatchObject({
      version: 'v0.0.0-nightly-abc1234',
      isRelease: false,
    })
  })

  it('passes an explicit version through after checking it', () => {
    expect(
      computeVersion({ ...base, ref: 'refs/heads/master', version: 'v0.0.7-master-abc1234' }),
    ).toMatchObject({
      version: 'v0.0.7-master-abc1234',
      semver: '0.0.7-master-abc1234',
      isRelease: false,
    })
    expect(computeVersion({ ...base, ref: '', version: 'build_17' }).semver).toBe(
      '0.0.0-build_17'.replace('_', '-'),
    )
    expect(() =>
      computeVersion({ ...base, ref: 'refs/heads/master', version: 'v1.0;rm -rf /' }),
    ).toThrow(
      `input 'version' "v1.0;rm -rf /" is not allowed: start with a letter or digit, then use letters, digits, '.', '_', '-' and '+'`,
    )
    expect(() => computeVersion({ ...base, ref: '', version: 'v'.repeat(129) })).toThrow(/too long/)
  })

  it('renders the other placeholders, and rejects unknown ones', () => {
    expect(
      computeVersion({
        ...base,
        ref: 'refs/heads/main',
        format: '{branch}.{run}+{sha}',
        runNumber: '17',
      }).version,
    ).toBe(`main.17+${SHA}`)
    expect(() =>
      computeVersion({ ...base, ref: 'refs/heads/main', format: '{base}-{bogus}' }),
    ).toThrow(/input 'format'.*unknown placeholder \{bogus\}/)
    expect(() =>
      computeVersion({ ...base, ref: 'refs/heads/main', format: '{base} {branch}' }),
    ).toThrow(/rendered from input 'format'.*is not allowed/)
  })

  it('rejects bad sha and base-version values, naming the input', () => {
    for (const sha of ['', 'abc1234', 'g'.repeat(40), `${SHA}\n`, '--output=/tmp/x']) {
      expect(() => computeVersion({ ...base, ref: 'refs/heads/main', sha })).toThrow(
        /input 'sha'.*not a commit id/,
      )
    }
    expect(() => computeVersion({ ...base, ref: 'refs/heads/main', baseVersion: 'one' })).toThrow(
      `input 'base-version': "one" is not a semantic version: use e.g. 'v1.4.0'`,
    )
  })
})

describe('branchSlug', () => {
  it.each([
    ['master', 'master'],
    ['feature/JIRA-12_new login', 'feature-jira-12-new-login'],
    ['release/1.2', 'release-1.2'],
    ['Über/Größe', 'uber-gro-e'],
    ['--weird..name--', 'weird.name'],
    ['日本語', 'ref'],
    ['a'.repeat(60), 'a'.repeat(40)],
  ])('%j → %j', (name, slug) => {
    expect(branchSlug(name)).toBe(slug)
  })
})

describe('semver helpers', () => {
  it('orders by precedence', () => {
    const order = [
      '1.0.0-alpha',
      '1.0.0-alpha.1',
      '1.0.0-alpha.beta',
      '1.0.0-beta',
      '1.0.0-beta.2',
      '1.0.0-beta.11',
      '1.0.0-rc.1',
      '1.0.0',
      '1.0.1',
      '1.10.0',
      '2.0.0',
    ]
    for (let i = 1; i < order.length; i++) {
      expect(compareSemver(parseSemver(order[i - 1]!)!, parseSemver(order[i]!)!)).toBeLessThan(0)
    }
    expect(newestSemverTag(['v1.9.0', 'v1.10.0', 'v1.10.1-rc.1', 'x'])).toBe('v1.10.0')
    expect(newestSemverTag(['x', 'v1'])).toBeUndefined()
    expect(parseSemver('01.2.3')).toBeUndefined()
  })
})

describe('reachableTags on a real repository', () => {
  const repo = new TempRepo()
  afterAll(() => rmSync(repo.dir, { recursive: true, force: true }))

  it('lists only tags reachable from the commit', async () => {
    const first = repo.commit('one')
    repo.git('tag', 'v0.0.6')
    const second = repo.commit('two')
    repo.git('tag', '-a', 'v0.0.7', '-m', 'annotated')
    repo.git('checkout', '-q', '-b', 'side', first)
    repo.commit('side')
    repo.git('tag', 'v9.9.9')
    expect((await reachableTags(repo.dir, second))?.sort()).toEqual(['v0.0.6', 'v0.0.7'])
    expect(await reachableTags(repo.dir, first)).toEqual(['v0.0.6'])
    expect(await reachableTags('/', second)).toBeUndefined()
  })
})

/** An in-memory GitHub refs API, with a hook to simulate a concurrent writer. */
function fakeTagApi(
  initial: Record<string, { sha: string; type: string }> = {},
  annotated: Record<string, string> = {},
) {
  const refs = { ...initial }
  const api: TagApi & { refs: typeof refs; beforeCreate?: () => void } = {
    refs,
    getTag: async tag => refs[tag],
    peelTagObject: async sha => annotated[sha] ?? '',
    createTag: async (tag, sha) => {
      api.beforeCreate?.()
      if (refs[tag]) return false
      refs[tag] = { sha, type: 'commit' }
      return true
    },
  }
  return api
}

describe('ensureTag', () => {
  it('creates a missing tag', async () => {
    const api = fakeTagApi()
    expect(await ensureTag(api, 'v1.0.0', SHA)).toBe('created')
    expect(api.refs['v1.0.0']).toEqual({ sha: SHA, type: 'commit' })
  })
  it('is idempotent on the same commit, also through an annotated tag', async () => {
    expect(
      await ensureTag(fakeTagApi({ 'v1.0.0': { sha: SHA, type: 'commit' } }), 'v1.0.0', SHA),
    ).toBe('exists')
    const api = fakeTagApi({ 'v1.0.0': { sha: 'tagobject', type: 'tag' } }, { tagobject: SHA })
    expect(await ensureTag(api, 'v1.0.0', SHA)).toBe('exists')
  })
  it('refuses a tag that exists on another commit', async () => {
    const other = 'f'.repeat(40)
    const api = fakeTagApi({ 'v1.0.0': { sha: other, type: 'commit' } })
    await expect(ensureTag(api, 'v1.0.0', SHA)).rejects.toThrow(ConfigurationError)
    await expect(ensureTag(api, 'v1.0.0', SHA)).rejects.toThrow(
      `already exists on commit ${other}, not on ${SHA}`,
    )
  })
  it('judges what a concurrent writer created', async () => {
    const api = fakeTagApi()
    api.beforeCreate = () => (api.refs['v1.0.0'] = { sha: 'e'.repeat(40), type: 'commit' })
    await expect(ensureTag(api, 'v1.0.0', SHA)).rejects.toThrow(/already exists on commit e{40}/)
  })
})
