import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import fc from 'fast-check'
import { printFenced, runnerLogger } from '../../packages/github/src/index.js'
import { mayRunWorkflowCommand } from '../../packages/kit/src/index.js'
import { readAsRunner } from '../support/workflow-commands.js'

// What the runner logger writes, read back the way the GitHub runner reads a step's stdout.
let written: string[]
const originalWrite = process.stdout.write.bind(process.stdout)
beforeEach(() => {
  written = []
  process.stdout.write = ((chunk: string | Uint8Array) => {
    written.push(String(chunk))
    return true
  }) as typeof process.stdout.write
})
afterEach(() => {
  process.stdout.write = originalWrite
})
const stdout = () => written.join('')
/** Commands the runner ran, less the logger's own fence. */
const ranCommands = () =>
  readAsRunner(stdout())
    .commands.map(c => c.name.toLowerCase())
    .filter(name => name !== 'stop-commands' && !/^[0-9a-f-]{36}$/.test(name))

const HOSTILE = [
  'web\n::add-mask::v1',
  'web\r::add-mask::v1',
  '  ::ADD-MASK::v1',
  '\u00a0\u2028::add-mask::v1',
  'tag ##[add-mask]v1',
  'x\n::stop-commands::abc\n::add-mask::v1',
  '::error::forged annotation',
  '::set-output name=status::success',
]

describe('runnerLogger', () => {
  it.each(HOSTILE)('logs %j as text, running no command', async text => {
    await runnerLogger.group(text, async () => undefined)
    runnerLogger.info(text)
    runnerLogger.info(`instance ${text} running`)
    runnerLogger.warning(text)
    runnerLogger.error(text)
    runnerLogger.debug(text)
    const log = readAsRunner(stdout())
    expect(log.masks).toEqual([])
    expect(ranCommands()).toEqual(['group', 'endgroup', 'warning', 'error', 'debug'])
    // The info line reads exactly as it was logged.
    expect(log.text.join('\n')).toContain(text.replace(/\r/g, '\n'))
  })

  it('writes plain text as plain lines, without a fence', () => {
    runnerLogger.info('Found 2 instance(s): i-1, i-2 (see https://[::1]:8080/health)')
    expect(stdout()).toBe('Found 2 instance(s): i-1, i-2 (see https://[::1]:8080/health)\n')
  })

  it('never lets any mix of command fragments run', () => {
    const fragment = fc.constantFrom(
      '::',
      'add-mask',
      'ADD-mask',
      '##[',
      ']',
      '\n',
      '\r',
      ' ',
      '\t',
      '\u0085',
      '\u200b',
      'v1',
      'stop-commands',
    )
    fc.assert(
      fc.property(fc.array(fragment, { maxLength: 12 }), parts => {
        written = []
        const text = parts.join('')
        runnerLogger.info(text)
        expect(readAsRunner(stdout()).masks).toEqual([])
        expect(ranCommands()).toEqual([])
      }),
      { numRuns: 500 },
    )
  })

  it('fences host output in a group', async () => {
    await printFenced('i-1 (web)', 'DEPLOY_RESULT {}\n::add-mask::v1')
    const log = readAsRunner(stdout())
    expect(log.masks).toEqual([])
    expect(log.text).toContain('::add-mask::v1')
    expect(log.commands.map(c => c.name)[0]).toBe('group')
  })
})

describe('mayRunWorkflowCommand', () => {
  it('tells command-like text from plain text', () => {
    expect(mayRunWorkflowCommand('a\n ::x')).toBe(true)
    expect(mayRunWorkflowCommand('a ##[x]')).toBe(true)
    expect(mayRunWorkflowCommand('a :: b')).toBe(false)
    expect(mayRunWorkflowCommand('i-0123 web running')).toBe(false)
  })
})
