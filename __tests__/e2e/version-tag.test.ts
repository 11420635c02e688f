import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SEMVER_PATTERN } from '../../packages/refs/src/index.js'
import { startFakeGitHub, type FakeGitHub } from '../support/fake-github.js'
import { TempRepo } from '../support/git.js'
import { runBundledAction } from '../support/bundled-action.js'

const repo = new TempRepo()
let tagged: string
let head: string
let github: FakeGitHub

beforeAll(async () => {
  repo.commit('first')
  tagged = repo.commit('release')
  repo.git('tag', 'v0.0.7')
  head = repo.commit('after the release')
  github = await startFakeGitHub()
})
afterAll(async () => {
  rmSync(repo.dir, { recursive: true, force: true })
  await github.close()
})

const run = (inputs: Record<string, string>, env: Record<string, string> = {}, cwd = repo.dir) =>
  runBundledAction('version-tag', { inputs, cwd, env: { GITHUB_API_URL: github.url, ...env } })

describe('version-tag, bundled, as the runner runs it', () => {
  it('names a master build after the newest reachable tag', async () => {
    const result = await run({}, { GITHUB_REF: 'refs/heads/master', GITHUB_SHA: head })
    expect(result.exitCode).toBe(0)
    expect(result.outputs).toEqual({
      version: `v0.0.7-master-${head.slice(0, 7)}`,
      semver: `0.0.7-master-${head.slice(0, 7)}`,
      sha: head,
      'short-sha': head.slice(0, 7),
      'branch-slug': 'master',
      'is-release': 'false',
    })
    expect(result.outputs.semver).toMatch(SEMVER_PATTERN)
  })

  it('gives v0.0.0 with no tags, as in the documented example', async () => {
    const fresh = new TempRepo()
    try {
      const sha = fresh.commit('only')
      const result = await run({}, { GITHUB_REF: 'refs/heads/master', GITHUB_SHA: sha }, fresh.dir)
      expect(result.outputs.version).toBe(`v0.0.0-master-${sha.slice(0, 7)}`)
    } finally {
      rmSync(fresh.dir, { recursive: true, force: true })
    }
  })

  it('warns about fetch-depth on a shallow checkout', async () => {
    const shallow = mkdtempSync(join(tmpdir(), 'shallow-'))
    try {
      execFileSync('git', ['clone', '-q', '--depth', '1', `file://${repo.dir}`, shallow])
      const result = await run({}, { GITHUB_REF: 'refs/heads/master', GITHUB_SHA: head }, shallow)
      expect(result.exitCode).toBe(0)
      expect(result.outputs.version).toBe(`v0.0.0-master-${head.slice(0, 7)}`)
      expect(result.warnings.join('\n')).toContain("'fetch-depth: 0'")
    } finally {
      rmSync(shallow, { recursive: true, force: true })
    }
  })

  it('takes a semver tag as the version', async () => {
    const result = await run({}, { GITHUB_REF: 'refs/tags/v0.0.7', GITHUB_SHA: tagged })
    expect(result.outputs).toMatchObject({
      version: 'v0.0.7',
      semver: '0.0.7',
      'is-release': 'true',
    })
  })

  it('passes an explicit version through (the rollback path)', async () => {
    const result = await run(
      { version: 'v0.0.6-master-1234567' },
      { GITHUB_REF: 'refs/heads/master', GITHUB_SHA: head },
    )
    expect(result.outputs).toMatchObject({
      version: 'v0.0.6-master-1234567',
      'is-release': 'false',
    })
  })

  it('pushes the tag through the GitHub API, idempotently', async () => {
    const env = { GITHUB_REF: 'refs/heads/master', GITHUB_SHA: head }
    const first = await run({ 'push-tag': 'true', format: 'v0.0.8-{branch}-{sha7}' }, env)
    expect(first.exitCode).toBe(0)
    const tag = `v0.0.8-master-${head.slice(0, 7)}`
    expect(github.tags.get(tag)).toEqual({ sha: head, type: 'commit' })
    expect(
      github.requests.some(r => r.method === 'POST' && r.authorization?.includes('ghs_test_token')),
    ).toBe(true)
    const again = await run({ 'push-tag': 'true', format: 'v0.0.8-{branch}-{sha7}' }, env)
    expect(again.exitCode).toBe(0)
    expect(again.stdout).toContain(`Tag ${tag} already points at ${head.slice(0, 7)}`)
  })

  it('refuses to move an existing tag to another commit', async () => {
    github.tags.set('v5.0.0', { sha: tagged, type: 'commit' })
    const result = await run(
      { 'push-tag': 'true', version: 'v5.0.0' },
      { GITHUB_REF: 'refs/heads/master', GITHUB_SHA: head },
    )
    expect(result.exitCode).toBe(1)
    expect(result.errors.join('\n')).toContain(
      `tag "v5.0.0" already exists on commit ${tagged}, not on ${head}`,
    )
  })

  it.each([
    [{ version: 'v1.0;rm -rf /' }, `input 'version' "v1.0;rm -rf /" is not allowed`],
    [{ sha: 'HEAD' }, `input 'sha': "HEAD" is not a commit id`],
    [
      { format: '{base}-{branchname}' },
      'input \'format\': "{base}-{branchname}" uses the unknown placeholder {branchname}',
    ],
    [{ 'base-version': 'latest' }, `input 'base-version': "latest" is not a semantic version`],
    [{ 'push-tag': 'yes' }, `input 'push-tag': "yes" is not valid: use 'true' or 'false'`],
    [{ 'push-tag': 'true', token: '' }, "input 'push-tag' is true but input 'token' is empty"],
  ])('fails clearly on %j', async (inputs, message) => {
    const result = await run(inputs, { GITHUB_REF: 'refs/heads/master', GITHUB_SHA: head })
    expect(result.exitCode).toBe(1)
    expect(result.errors.join('\n')).toContain(message)
    expect(result.outputs).toEqual({})
  })
})
