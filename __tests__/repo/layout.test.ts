import { describe, expect, it } from '@jest/globals'
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import { node24, repoRoot } from '../support/bundled-action.js'

// actions/shared holds code the actions share (the deploy/rollback reader); it is no action.
const actions = readdirSync(join(repoRoot, 'actions'), { withFileTypes: true })
  .filter(entry => entry.isDirectory() && entry.name !== 'shared')
  .map(entry => entry.name)

describe('every action', () => {
  it.each(actions)('%s runs on node24 from its committed bundle', name => {
    const meta = parse(readFileSync(join(repoRoot, 'actions', name, 'action.yml'), 'utf8')) as {
      runs: { using: string; main: string }
      inputs?: Record<string, { description?: string }>
      outputs?: Record<string, { description?: string }>
    }
    expect(meta.runs).toEqual({ using: 'node24', main: `../../dist/${name}/index.js` })
    expect(existsSync(join(repoRoot, 'actions', name, 'main.ts'))).toBe(true)
    expect(existsSync(join(repoRoot, 'dist', name, 'index.js'))).toBe(true)
    expect(JSON.parse(readFileSync(join(repoRoot, 'dist', name, 'package.json'), 'utf8'))).toEqual({
      type: 'module',
    })
    for (const spec of [
      ...Object.values(meta.inputs ?? {}),
      ...Object.values(meta.outputs ?? {}),
    ]) {
      expect(spec.description?.length ?? 0).toBeGreaterThan(10)
    }
  })
})

describe('inputs shared between actions', () => {
  const inputsOf = (name: string) =>
    (
      parse(readFileSync(join(repoRoot, 'actions', name, 'action.yml'), 'utf8')) as {
        inputs: Record<string, unknown>
      }
    ).inputs
  it("verify-health's rollback inputs are ssm-deploy's, word for word", () => {
    const deploy = inputsOf('ssm-deploy')
    const verify = inputsOf('verify-health')
    // Different on purpose: verify-health needs instance-ids only for via: ssm and rollbacks,
    // and its timeout is the whole check's (the contract), not the engine's (rollback-timeout).
    const ownMeaning = ['instance-ids', 'timeout']
    const shared = Object.keys(verify).filter(name => name in deploy && !ownMeaning.includes(name))
    expect(shared.length).toBeGreaterThan(15)
    for (const name of shared)
      expect({ name, spec: verify[name] }).toEqual({ name, spec: deploy[name] })
  })
})

describe('README', () => {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8')

  it('leads with the main-job command and the test command', () => {
    const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? ''
    expect(readme.indexOf('```sh')).toBeLessThan(400)
    expect(firstBlock).toMatch(/^npm ci && npm run \w+/m)
    expect(firstBlock).toMatch(/^npm test\b/m)
    const mainScript = /^npm ci && npm run (\w+)/m.exec(firstBlock)?.[1] ?? ''
    const scripts = (
      JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
        scripts: Record<string, string>
      }
    ).scripts
    expect(scripts[mainScript]).toBeDefined()
  })

  it('has input/output tables that match every action.yml', () => {
    const check = spawnSync(process.execPath, [join(repoRoot, 'scripts/docs.mjs'), '--check'], {
      encoding: 'utf8',
    })
    expect(check.stderr).toBe('')
    expect(check.status).toBe(0)
  })
})

describe('Node 24 runtime for the end-to-end tests', () => {
  it('is the npm package node@24', () => {
    const version = spawnSync(node24, ['--version'], { encoding: 'utf8' }).stdout.trim()
    expect(version).toMatch(/^v24\./)
  })
})
