import { afterAll, describe, expect, it } from '@jest/globals'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse } from 'yaml'
import { TempRepo } from '../support/git.js'
import { evalTypescriptModule, node24, repoRoot } from '../support/bundled-action.js'

// What a team adopting the suite relies on: Marketplace-sized descriptions, a release process
// that checks dist/ and moves the major tag, and a way to run one action locally.
const read = (path: string) => readFileSync(join(repoRoot, path), 'utf8')
const scratch = mkdtempSync(join(tmpdir(), 'adoption-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

describe('every action.yml', () => {
  const actions = readdirSync(join(repoRoot, 'actions'), { withFileTypes: true })
    .filter(entry => entry.isDirectory())
    .map(entry => entry.name)
    .filter(name => readdirSync(join(repoRoot, 'actions', name)).includes('action.yml'))

  it.each(actions)('%s has a description within the Marketplace limit of 125 characters', name => {
    const { description } = parse(read(`actions/${name}/action.yml`)) as { description?: string }
    expect(description?.trim()).toBeTruthy()
    expect(description?.length).toBeLessThanOrEqual(125)
  })
})

interface Step {
  name?: string
  run?: string
  env?: Record<string, string>
}

describe('the release workflow', () => {
  const workflow = parse(read('.github/workflows/release.yml')) as {
    on: { push: { tags: string[] } }
    jobs: Record<string, { steps: Step[] }>
  }
  const steps = Object.values(workflow.jobs).flatMap(job => job.steps)
  const index = (text: string) => steps.findIndex(step => step.run?.includes(text))

  it('runs on vX.Y.Z tags and checks dist/ and the notes before it publishes anything', () => {
    expect(workflow.on.push.tags).toEqual(['v[0-9]+.[0-9]+.[0-9]+'])
    expect(index('npm run check-dist')).toBeGreaterThan(-1)
    expect(index('scripts/release-notes.mjs')).toBeGreaterThan(index('npm run check-dist'))
    expect(index('gh release create')).toBeGreaterThan(index('scripts/release-notes.mjs'))
    expect(index('git push --force origin')).toBeGreaterThan(index('gh release create'))
  })

  describe('moves the major tag', () => {
    const move = steps.find(step => step.name === 'Move the major tag')?.run ?? ''
    const origin = join(scratch, 'origin.git')
    const repo = new TempRepo()
    afterAll(() => rmSync(repo.dir, { recursive: true, force: true }))
    execFileSync('git', ['init', '-q', '--bare', origin])
    repo.git('remote', 'add', 'origin', origin)
    const [first, second, backport] = ['one', 'two', 'backport'].map(m => repo.commit(m))

    /**
     * Tags `sha` (annotated or not), runs the step as the runner would, with GITHUB_SHA what a
     * tag push gives (the tag object of an annotated tag), and returns origin's v1 and v2.
     */
    function release(tag: string, sha: string, annotated = false) {
      repo.git('tag', ...(annotated ? ['-a', '-m', tag] : []), tag, sha)
      const run = spawnSync('bash', ['-e', '-c', move], {
        cwd: repo.dir,
        encoding: 'utf8',
        env: { ...process.env, TAG: tag, GITHUB_SHA: repo.git('rev-parse', `refs/tags/${tag}`) },
      })
      const major = (name: string) =>
        spawnSync('git', ['rev-parse', '-q', '--verify', `refs/tags/${name}`], {
          cwd: origin,
          encoding: 'utf8',
        }).stdout.trim()
      return { code: run.status, stdout: run.stdout, v1: major('v1'), v2: major('v2') }
    }

    it('to the newest release of its major version', () => {
      expect(move).not.toBe('')
      expect(release('v1.0.0', first as string)).toMatchObject({ code: 0, v1: first })
      expect(release('v1.1.0', second as string, true)).toMatchObject({ code: 0, v1: second })
    })

    it('not back to a fix tagged on an older line', () => {
      const result = release('v1.0.1', backport as string)
      expect(result).toMatchObject({ code: 0, v1: second })
      expect(result.stdout).toContain('::notice::v1 stays on v1.1.0, newer than v1.0.1')
    })

    it('of a new major version without touching the old one', () => {
      expect(release('v2.0.0', backport as string)).toMatchObject({
        code: 0,
        v1: second,
        v2: backport,
      })
    })
  })

  describe('takes its notes from CHANGELOG.md', () => {
    const notes = (tag: string, changelog: string) => {
      const file = join(scratch, 'CHANGELOG.md')
      writeFileSync(file, changelog)
      return spawnSync(process.execPath, [join(repoRoot, 'scripts/release-notes.mjs'), tag, file], {
        encoding: 'utf8',
      })
    }
    const changelog =
      '# Changelog\n\n## [1.2.0] - 2026-12-01\n\n### Fixed\n\n- a fix\n\n## [1.1.0]\n\n- older\n'

    it("prints the tag's section", () => {
      const run = notes('v1.2.0', changelog)
      expect(run.stdout).toBe('### Fixed\n\n- a fix\n')
      expect(run.status).toBe(0)
    })

    it('refuses a tag without a section, or one that is not vX.Y.Z', () => {
      const missing = notes('v1.3.0', changelog)
      expect(missing.stderr).toContain('CHANGELOG.md has no "## [1.3.0]" section for tag v1.3.0')
      expect(missing.status).toBe(1)
      const bad = notes('v1.2', changelog)
      expect(bad.stderr).toContain('tag "v1.2" is not valid: use vX.Y.Z')
      expect(bad.status).toBe(1)
    })
  })

  it('is documented, with the advice to pin a full commit sha', () => {
    const releasing = read('docs/releasing.md')
    expect(releasing).toContain('moves `v1` to the tag')
    expect(releasing).toMatch(/Pin the full commit sha/)
    for (const doc of ['CHANGELOG.md', 'CONTRIBUTING.md', 'docs/workflow.md', 'docs/releasing.md'])
      expect(read('README.md')).toContain(`(${doc})`)
  })
})

describe('.env.example', () => {
  it('runs an action through the entry point it names for @github/local-action', () => {
    const example = read('.env.example')
    expect(example).toContain(
      'npx @github/local-action run actions/version-tag ../../scripts/local-action-entry.ts .env',
    )
    const env: Record<string, string> = {}
    for (const line of example.split('\n').filter(l => /^[A-Z][\w-]*=/.test(l))) {
      env[line.slice(0, line.indexOf('='))] = line.slice(line.indexOf('=') + 1)
    }
    // What local-action does: the .env loaded, the action's directory given, run() called.
    const outputs = join(scratch, 'outputs')
    writeFileSync(outputs, '')
    const run = spawnSync(
      node24,
      evalTypescriptModule("await (await import('./scripts/local-action-entry.ts')).run()"),
      {
        cwd: repoRoot,
        encoding: 'utf8',
        env: {
          PATH: process.env.PATH,
          ...env,
          INPUT_SHA: execFileSync('git', ['rev-parse', 'HEAD'], {
            cwd: repoRoot,
            encoding: 'utf8',
          }).trim(),
          TARGET_ACTION_PATH: join(repoRoot, 'actions/version-tag'),
          GITHUB_OUTPUT: outputs,
        },
      },
    )
    expect(run.stderr).toBe('')
    expect(readFileSync(outputs, 'utf8')).toMatch(
      /^version<<.*\nv\d+\.\d+\.\d+-master-[0-9a-f]{7}\n/m,
    )
    expect(run.status).toBe(0)
  })
})
