// Every package has an index and a README whose Public API names every symbol the index exports,
// and names nothing else at the head of its lines, so the README and the code cannot drift.
import { describe, expect, it } from '@jest/globals'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { repoRoot } from '../support/bundled-action.js'
import { exportedNames, packageNames } from '../support/packages.js'

/** The text of a `## title` section: up to the next `## ` heading. */
function section(markdown: string, title: string): string | undefined {
  const lines = markdown.split('\n')
  const start = lines.indexOf(`## ${title}`)
  if (start < 0) return undefined
  const end = lines.findIndex((line, i) => i > start && line.startsWith('## '))
  return lines.slice(start + 1, end < 0 ? undefined : end).join('\n')
}

const identifier = (code: string) => /^[A-Za-z_$][\w$]*/.exec(code)?.[0]

/** The identifiers that open the code spans of `text`: `FleetCommands.send` names FleetCommands. */
function namedInCode(text: string): Set<string> {
  const names = [...text.matchAll(/`([^`\n]+)`/g)].map(match => identifier(match[1]!))
  return new Set(names.filter(name => name !== undefined))
}

/** The names that head each bullet: "- `a`, `b`: what they do" heads with a and b. */
function bulletHeads(text: string): string[] {
  return text
    .split('\n')
    .map(line => /^- ((?:`[^`\n]+`(?:, )?)+)/.exec(line)?.[1])
    .filter(head => head !== undefined)
    .flatMap(head => [...namedInCode(head)])
}

describe('section, namedInCode and bulletHeads', () => {
  const readme = [
    '# packages/x',
    '`outside` is not in the section.',
    '## Public API',
    '- `alpha`, `Beta`: says `gamma(1)` and `FleetCommands.send`.',
    "- `delta`: `'1m30s'` is not a name.",
    '### A group',
    '- Not headed by code: `epsilon`.',
    '## Used by',
    '- `zeta`',
  ].join('\n')

  it('reads the names of a section and the heads of its bullets', () => {
    const api = section(readme, 'Public API') ?? ''
    expect([...namedInCode(api)].sort()).toEqual(
      ['Beta', 'FleetCommands', 'alpha', 'delta', 'epsilon', 'gamma'].sort(),
    )
    expect(bulletHeads(api)).toEqual(['alpha', 'Beta', 'delta'])
    expect(section(readme, 'Missing')).toBeUndefined()
  })
})

describe.each(packageNames(repoRoot))('packages/%s', name => {
  const home = join(repoRoot, 'packages', name)
  const readmeFile = join(home, 'README.md')
  const index = join(home, 'src', 'index.ts')

  it('has a README with purpose, Public API and Used by, and an index', () => {
    expect({ readme: existsSync(readmeFile), index: existsSync(index) }).toEqual({
      readme: true,
      index: true,
    })
    const readme = readFileSync(readmeFile, 'utf8')
    expect(readme.startsWith(`# packages/${name}`)).toBe(true)
    expect(section(readme, 'Public API')).toMatch(/^- `/m)
    expect(section(readme, 'Used by')?.trim()).not.toBe('')
  })

  it('names every symbol its index exports in its Public API, and heads lines with those only', () => {
    const api = section(readFileSync(readmeFile, 'utf8'), 'Public API') ?? ''
    const exported = exportedNames(index)
    expect(exported.length).toBeGreaterThan(0)
    const named = namedInCode(api)
    expect({
      missing: exported.filter(symbol => !named.has(symbol)),
      notExported: bulletHeads(api).filter(symbol => !exported.includes(symbol)),
    }).toEqual({ missing: [], notExported: [] })
  })
})
