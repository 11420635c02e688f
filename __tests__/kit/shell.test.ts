import { describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { shellQuote } from '../../packages/kit/src/index.js'

describe('shellQuote', () => {
  it('reads back the same bytes in bash and dash', () => {
    for (const shell of ['bash', 'dash']) {
      const value = `it's $(echo no) \`x\` "y"\n;&&`
      const out = execFileSync(shell, ['-c', `printf '%s' ${shellQuote(value)}`], {
        encoding: 'utf8',
      })
      expect(out).toBe(value)
    }
  })
  it('rejects NUL, naming what was quoted', () => {
    expect(() => shellQuote('a\0b', "input 'version'")).toThrow(/input 'version' contains a NUL/)
  })
})
