import { afterAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse } from 'yaml'
import {
  parseRules,
  resolveEnvironment,
  type EnvironmentRule,
  type ResolveOptions,
} from '../../packages/refs/src/index.js'
import { parseDispatchTarget, renderSummary } from '../../packages/report/src/index.js'
import { repoRoot } from '../support/bundled-action.js'

// The summary's rollback line, run as a user would paste it: a stand-in `gh` on PATH records
// the words bash hands it, and the dispatch they describe is resolved with the example's rules.
const bin = mkdtempSync(join(tmpdir(), 'rollback-line-'))
writeFileSync(join(bin, 'gh'), '#!/bin/sh\nfor word in "$@"; do printf \'%s\\0\' "$word"; done\n')
chmodSync(join(bin, 'gh'), 0o755)
afterAll(() => rmSync(bin, { recursive: true, force: true }))

interface Dispatch {
  words: string[]
  workflowFile: string
  repo?: string
  ref?: string
  fields: Record<string, string>
}

/** Runs the (first) printed line under bash and reads back what `gh` was asked to do. */
function runPrintedLine(markdown: string): Dispatch {
  const line = /```sh\n(.*)\n```/.exec(markdown)?.[1]
  if (line === undefined) throw new Error(`no rollback line in:\n${markdown}`)
  return runLine(line)
}

/** Runs one line as a user would paste it into bash. */
function runLine(line: string): Dispatch {
  const out = execFileSync('bash', ['--norc', '--noprofile', '-c', line], {
    cwd: bin,
    env: { PATH: `${bin}:/usr/bin:/bin` },
    encoding: 'utf8',
  })
  const words = out.split('\0').slice(0, -1)
  expect(words.slice(0, 2)).toEqual(['workflow', 'run'])
  const dispatch: Dispatch = { words, workflowFile: words[2] ?? '', fields: {} }
  for (let i = 3; i < words.length; i += 2) {
    const [flag, value = ''] = [words[i], words[i + 1]]
    if (flag === '--repo') dispatch.repo = value
    else if (flag === '--ref') dispatch.ref = value
    else if (flag === '-f')
      dispatch.fields[value.split('=')[0] ?? ''] = value.slice(value.indexOf('=') + 1)
    else throw new Error(`unexpected word ${flag} in ${line}`)
  }
  expect(readdirSync(bin)).toEqual(['gh'])
  return dispatch
}

/** A ref name the rule's glob matches (`**` and `*` filled in, `?` one character). */
function sampleRef(rule: EnvironmentRule): string {
  const name = rule.glob.replace(/\*\*/g, 'team/cart').replace(/\*/g, '7').replace(/\?/g, 'x')
  return `refs/${rule.refType === 'tag' ? 'tags' : 'heads'}/${name}`
}

/** resolve-environment as the dispatched run would call it. */
function resolveDispatch(rules: string, ref: string, environment?: string, version?: string) {
  // `version` joins the options where resolve-environment takes it (an override then needs it).
  const options = { rules, ref, environment, version, production: [], onNoMatch: 'fail' }
  return resolveEnvironment(options as ResolveOptions).environment
}

const examples = readdirSync(join(repoRoot, 'examples')).filter(f => f.endsWith('.yml'))
const workflows = examples
  .map(file => ({
    file,
    yaml: parse(readFileSync(join(repoRoot, 'examples', file), 'utf8')) as {
      on: { workflow_dispatch?: { inputs?: Record<string, unknown> } }
      jobs: Record<string, { uses?: string; with?: Record<string, string> }>
    },
  }))
  .filter(({ yaml }) =>
    Object.values(yaml.jobs).some(job => job.uses?.includes('/.github/workflows/deploy.yml@')),
  )

describe('the rollback line of every example', () => {
  it('covers the examples that call the reusable workflow', () => {
    expect(workflows.map(w => w.file).sort()).toEqual(
      expect.arrayContaining(['main-to-prod.yml', 'multi-env.yml', 'node-pm2.yml']),
    )
  })

  describe.each(workflows)('examples/$file', ({ file, yaml }) => {
    const job = Object.values(yaml.jobs).find(j => j.uses?.includes('/deploy.yml@'))
    const rules = job?.with?.rules ?? ''

    it('declares the environment and version dispatch inputs and passes them on', () => {
      expect(Object.keys(yaml.on.workflow_dispatch?.inputs ?? {})).toEqual(
        expect.arrayContaining(['environment', 'version']),
      )
      expect(job?.with?.environment).toMatch(/^\$\{\{\s*inputs\.environment\s*\}\}$/)
      expect(job?.with?.version).toMatch(/^\$\{\{\s*inputs\.version\s*\}\}$/)
    })

    it.each(parseRules(rules).map(rule => [rule.text, rule] as const))(
      'after a deploy by rule %s, the printed line resolves to the same environment',
      (_text, rule) => {
        const ref = sampleRef(rule)
        const deployed = resolveDispatch(rules, ref)
        const markdown = renderSummary({
          status: 'success',
          environment: deployed,
          version: 'v2.0.0-main-abc1234',
          previousVersion: 'v1.9.0-main-1234abc',
          rollbackWorkflow: `acme/shop/.github/workflows/${file}@${ref}`,
        })
        const dispatch = runPrintedLine(markdown)
        expect(dispatch).toMatchObject({
          workflowFile: file,
          repo: 'acme/shop',
          ref: ref.replace(/^refs\/(heads|tags)\//, ''),
          fields: { environment: deployed, version: 'v1.9.0-main-1234abc' },
        })
        // GitHub runs the dispatch on that branch or tag, so the run sees the same full ref.
        expect(
          resolveDispatch(rules, ref, dispatch.fields.environment, dispatch.fields.version),
        ).toBe(deployed)
        // The ref alone leads there too: the override is one the rules already allow.
        expect(resolveDispatch(rules, ref)).toBe(deployed)
      },
    )
  })
})

describe('the rollback line', () => {
  const RULES = 'feature/** => dev\nrelease/* => staging\nmain => prod'

  it('keeps a rollback run on the default branch in its own environment', () => {
    // A staging rollback dispatched on main: its summary offers to undo it, in staging.
    const markdown = renderSummary({
      status: 'success',
      mode: 'rollback',
      environment: 'staging',
      version: 'v1.0.0',
      previousVersion: 'v1.1.0',
      rollbackWorkflow: 'acme/shop/.github/workflows/multi-env.yml@refs/heads/main',
    })
    const dispatch = runPrintedLine(markdown)
    expect(dispatch.fields).toEqual({ environment: 'staging', version: 'v1.1.0' })
    expect(resolveDispatch(RULES, 'refs/heads/main', 'staging', 'v1.1.0')).toBe('staging')
  })

  it('quotes a hostile branch name so the shell passes it through as one word', () => {
    const branch = `feature/$(touch pwned)'x";\`id\`|a&b`
    const ref = `refs/heads/${branch}`
    const markdown = renderSummary({
      status: 'success',
      environment: resolveDispatch(RULES, ref),
      version: 'v2',
      previousVersion: 'v1',
      rollbackWorkflow: `acme/shop/.github/workflows/multi-env.yml@${ref}`,
    })
    const dispatch = runPrintedLine(markdown)
    expect(dispatch.ref).toBe(branch)
    expect(dispatch.fields).toEqual({ environment: 'dev', version: 'v1' })
  })

  it('prints one line per version in the picker, each dispatching its version on the deployed ref', () => {
    const branch = `feature/$(touch pwned)'x";\`id\`|a&b`
    const ref = `refs/heads/${branch}`
    const versions = ['v1.2.0+build.7', 'v1.1.0', 'v1.0.0-rc_1']
    const markdown = renderSummary({
      status: 'success',
      environment: resolveDispatch(RULES, ref),
      version: 'v1.3.0',
      rollbackWorkflow: `acme/shop/.github/workflows/multi-env.yml@${ref}`,
      rollbackVersions: versions.map(version => ({ version })),
    })
    const lines = [...markdown.matchAll(/```sh\n(.*)\n```/g)].map(m => m[1] ?? '')
    expect(lines).toHaveLength(versions.length)
    lines.forEach((line, i) => {
      const dispatch = runLine(line)
      expect(dispatch).toMatchObject({
        workflowFile: 'multi-env.yml',
        repo: 'acme/shop',
        ref: branch,
      })
      expect(dispatch.fields).toEqual({ environment: 'dev', version: versions[i] })
      expect(resolveDispatch(RULES, ref, 'dev', versions[i])).toBe('dev')
    })
  })

  it('prints no command for a ref that cannot be dispatched or values the suite refuses', () => {
    const base = { status: 'success', environment: 'dev', version: 'v2', previousVersion: 'v1' }
    for (const rollbackWorkflow of [
      'acme/shop/.github/workflows/multi-env.yml@refs/pull/7/merge',
      'acme/shop/.github/workflows/x;rm.yml@refs/heads/main',
      'deploy.yml; rm -rf /',
    ]) {
      const markdown = renderSummary({ ...base, rollbackWorkflow })
      expect(markdown).not.toContain('gh workflow run')
      expect(markdown).toContain('from the Actions tab with `version` = <code>v1</code>')
    }
    expect(
      renderSummary({ ...base, environment: undefined, rollbackWorkflow: 'deploy.yml' }),
    ).toContain('`environment` = the environment to roll back')
    expect(parseDispatchTarget('acme/shop/.github/workflows/d.yml@refs/tags/v1.2.3')).toEqual({
      workflowFile: 'd.yml',
      repository: 'acme/shop',
      refName: 'v1.2.3',
      refType: 'tag',
    })
  })

  it('never offers the version that is already live', () => {
    const base = {
      environment: 'dev',
      version: 'v2',
      previousVersion: 'v1',
      rollbackWorkflow: 'acme/shop/.github/workflows/multi-env.yml@refs/heads/main',
    }
    expect(renderSummary({ ...base, status: 'success' })).toContain('-f version=v1')
    expect(renderSummary({ ...base, status: 'partial' })).toContain('-f version=v1')
    for (const status of ['rolled-back', 'failed']) {
      expect(renderSummary({ ...base, status })).not.toContain('gh workflow run')
    }
    // A redeploy of the live version has nothing to roll back to.
    expect(renderSummary({ ...base, status: 'success', version: 'v1' })).not.toContain(
      'gh workflow run',
    )
  })
})
