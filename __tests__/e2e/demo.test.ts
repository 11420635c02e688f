import { describe, expect, it } from '@jest/globals'
import { spawn } from 'node:child_process'
import { node24, repoRoot } from '../support/run-action.js'

// npm run demo, as a user runs it: it must pass, and show what it promises.
describe('npm run demo', () => {
  it('deploys v1 and v2, rolls back a broken v3 by itself, then rolls back to v1', async () => {
    const child = spawn(
      node24,
      [
        '--experimental-transform-types',
        '--no-warnings',
        '--import',
        './packages/sandbox/src/ts-loader.mjs',
        'scripts/demo.ts',
      ],
      {
        cwd: repoRoot,
        env: { ...process.env, NODE_OPTIONS: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    let output = ''
    child.stdout.on('data', chunk => (output += String(chunk)))
    child.stderr.on('data', chunk => (output += String(chunk)))
    const code = await new Promise<number | null>(resolve => child.on('close', resolve))
    expect({ code, tail: output.slice(-3000) }).toMatchObject({ code: 0 })
    expect(output).toContain('demo passed: every expected outcome was observed')
    for (const stage of [
      '1. deploy v1: success',
      '2. deploy v2: success',
      '3. deploy broken v3: rolled-back',
      '4. roll back to v1: success',
    ]) {
      expect(output).toContain(stage)
    }
    // The job summary is printed after each run, with the path of its markdown file.
    expect(output.match(/job summary: \/\S+summary-\d\.md/g)).toHaveLength(4)
    expect(output).toContain(
      'gh workflow run deploy.yml --repo acme/hello --ref master -f environment=develop -f version=',
    )
  }, 180_000)
})
