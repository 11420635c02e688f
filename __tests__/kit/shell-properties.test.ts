import { afterAll, describe, expect, it } from '@jest/globals'
import fc from 'fast-check'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { shellQuote } from '../../packages/kit/src/index.js'
import { hostileString } from '../support/hostile.js'

const work = mkdtempSync(join(tmpdir(), 'shell-quote-'))
const canary = join(work, 'canary')
afterAll(() => rmSync(work, { recursive: true, force: true }))

/**
 * Runs one shell with `printf '%s\0' <quoted values…>` and returns what it printed, split on
 * NUL. Batching keeps thousands of strings to a few dozen processes.
 */
function echoThroughShell(shell: string, values: string[]): Buffer[] {
  const script = `printf '%s\\0' ${values.map(v => shellQuote(v)).join(' ')}`
  const result = spawnSync(shell, ['-c', script], { cwd: work, maxBuffer: 64 * 1024 * 1024 })
  expect(result.status).toBe(0)
  const parts: Buffer[] = []
  let start = 0
  for (let i = 0; i < result.stdout.length; i++) {
    if (result.stdout[i] === 0) {
      parts.push(result.stdout.subarray(start, i))
      start = i + 1
    }
  }
  return parts
}

describe.each(['bash', 'dash'])('shellQuote under real %s', shell => {
  it('round-trips at least 3,000 hostile and arbitrary strings byte for byte, with no side effect', () => {
    let checked = 0
    fc.assert(
      fc.property(
        fc.array(
          hostileString(canary).filter(s => !s.includes('\0')),
          { minLength: 60, maxLength: 60 },
        ),
        values => {
          const printed = echoThroughShell(shell, values)
          expect(printed).toHaveLength(values.length)
          values.forEach((value, i) => {
            // Strings are passed as UTF-8, so compare the bytes a shell really sees.
            expect(printed[i]?.equals(Buffer.from(value, 'utf8'))).toBe(true)
          })
          checked += values.length
        },
      ),
      { numRuns: 55 },
    )
    expect(checked).toBeGreaterThanOrEqual(3000)
    expect(existsSync(canary)).toBe(false)
  })
})
