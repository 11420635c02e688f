import { describe, expect, it } from '@jest/globals'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import { repoRoot } from '../support/bundled-action.js'

const read = (path: string) => readFileSync(join(repoRoot, path), 'utf8')

describe('the licence', () => {
  it('is the MIT licence that package.json names', () => {
    expect((JSON.parse(read('package.json')) as { license: string }).license).toBe('MIT')
    const text = read('LICENSE')
    expect(text.split('\n')[0]).toBe('MIT License')
    expect(text).toContain('Permission is hereby granted, free of charge')
    expect(text).toContain('THE SOFTWARE IS PROVIDED "AS IS"')
  })
})

describe('dependabot', () => {
  interface Update {
    'package-ecosystem': string
    directory: string
    schedule: { interval: string }
    ignore?: { 'dependency-name': string; versions?: string[] }[]
  }
  const config = parse(read('.github/dependabot.yml')) as { version: number; updates: Update[] }
  const ecosystem = (name: string) => config.updates.find(u => u['package-ecosystem'] === name)

  it('keeps every pinned action of every workflow current', () => {
    expect(config.version).toBe(2)
    const workflows = readdirSync(join(repoRoot, '.github/workflows')).filter(f =>
      f.endsWith('.yml'),
    )
    const pinned = workflows.flatMap(f =>
      [...read(`.github/workflows/${f}`).matchAll(/uses: ([\w.-]+\/[\w.-]+)@([0-9a-f]{40})/g)].map(
        m => m[1],
      ),
    )
    expect(pinned.length).toBeGreaterThan(0)
    expect(ecosystem('github-actions')).toMatchObject({ directory: '/' })
  })

  it('keeps the npm dependencies current, but not TypeScript past 5.x (ncc needs its JS API)', () => {
    const npm = ecosystem('npm')
    expect(npm).toMatchObject({ directory: '/' })
    const typescript = npm?.ignore?.find(i => i['dependency-name'] === 'typescript')
    expect(typescript?.versions).toEqual(['>=6'])
    const devTypescript = (
      JSON.parse(read('package.json')) as { devDependencies: Record<string, string> }
    ).devDependencies.typescript
    expect(devTypescript).toMatch(/^~?\^?5\./)
  })
})

describe('SECURITY.md', () => {
  const text = read('SECURITY.md')
  it('says how to report a problem, and what the suite assumes', () => {
    expect(text).toMatch(/## Reporting a problem/)
    expect(text).toMatch(/private vulnerability reporting/)
    expect(text).toMatch(/## What it assumes/)
    for (const who of ['Who may push', 'Who may approve', 'Who holds which role'])
      expect(text).toContain(who)
  })
  it('names only tests and files that exist', () => {
    const paths = [...text.matchAll(/`((?:__tests__|docs|\.github)\/[^`]*)`/g)].map(
      m => m[1] as string,
    )
    expect(paths.length).toBeGreaterThan(3)
    for (const path of paths)
      expect({ path, exists: existsSync(join(repoRoot, path)) }).toEqual({
        path,
        exists: true,
      })
  })
})
