import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals'
import { ConfigurationError } from '../../packages/kit/src/index.js'
import { runAction } from '../../packages/github/src/index.js'

// @actions/core writes workflow commands to stdout; capture them.
let written: string[]
let restore: () => void
beforeEach(() => {
  written = []
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation(chunk => {
    written.push(String(chunk))
    return true
  })
  restore = () => spy.mockRestore()
  process.exitCode = undefined
})
afterEach(() => {
  restore()
  process.exitCode = undefined
})

const output = () => written.join('')

describe('runAction', () => {
  it('leaves a successful step alone', async () => {
    await runAction(async () => {})
    expect(process.exitCode).toBeUndefined()
    expect(output()).not.toContain('::error::')
  })

  it('fails with the message of a ConfigurationError and no stack', async () => {
    await runAction(async () => {
      throw new ConfigurationError("input 'mode': \"x\" is not valid: use 'deploy'")
    })
    expect(process.exitCode).toBe(1)
    expect(output()).toContain(`::error::input 'mode': "x" is not valid: use 'deploy'`)
    expect(output()).not.toContain('::debug::')
  })

  it('fails on any other Error, with the stack in debug output', async () => {
    await runAction(async () => {
      throw new TypeError('cannot read x of undefined')
    })
    expect(process.exitCode).toBe(1)
    expect(output()).toContain('::error::cannot read x of undefined')
    expect(output()).toMatch(/::debug::TypeError: cannot read x of undefined%0A\s+at /)
  })

  it('fails on thrown values that are not Errors', async () => {
    for (const thrown of ['a string', 42, { reason: 'object' }, undefined, null]) {
      written = []
      process.exitCode = undefined
      await runAction(async () => {
        throw thrown
      })
      expect(process.exitCode).toBe(1)
      expect(output()).toContain('::error::')
    }
  })

  it('escapes workflow commands hidden in messages', async () => {
    await runAction(async () => {
      throw new ConfigurationError('bad\n::add-mask::x')
    })
    expect(output()).toContain('::error::bad%0A::add-mask::x')
  })
})

describe('runAction and promises nobody awaited', () => {
  // Jest installs its own unhandled-rejection handling, so the event is emitted directly.
  it('fails the step on an unhandled rejection during main, and stops listening after', async () => {
    const before = process.listenerCount('unhandledRejection')
    await runAction(async () => {
      expect(process.listenerCount('unhandledRejection')).toBe(before + 1)
      process.emit('unhandledRejection', new Error('background upload failed'), Promise.resolve())
    })
    expect(process.exitCode).toBe(1)
    expect(output()).toContain('::error::background upload failed')
    expect(process.listenerCount('unhandledRejection')).toBe(before)
  })
})

describe('runAction with an action definition', () => {
  const setOutput = (name: string, value: string) =>
    new RegExp(`::set-output name=${name}::${value}|^${name}<<`, 'm')

  it('reads the inputs, runs, writes the outputs, then fails when the result says so', async () => {
    const seen: unknown[] = []
    await runAction({
      getInputs: () => ({ mode: 'deploy' }),
      run: async (inputs, deps) => {
        seen.push(inputs, typeof deps.logger.info)
        return { status: 'failed' }
      },
      outputs: result => ({ status: result.status, count: 2 }),
      failure: result => new ConfigurationError(`deploy ${result.status}`),
    })
    expect(seen).toEqual([{ mode: 'deploy' }, 'function'])
    const text = output()
    expect(text).toMatch(setOutput('status', 'failed'))
    expect(text).toMatch(setOutput('count', '2'))
    expect(text.indexOf('status')).toBeLessThan(text.indexOf('::error::deploy failed'))
    expect(process.exitCode).toBe(1)
  })

  it('leaves a result that is no failure alone', async () => {
    await runAction({
      getInputs: () => ({}),
      run: async () => 'ok',
      outputs: result => ({ result }),
      failure: () => undefined,
    })
    expect(process.exitCode).toBeUndefined()
    expect(output()).toMatch(setOutput('result', 'ok'))
  })

  it('writes outputsOnFailure when getInputs refuses an input, and never runs', async () => {
    let ran = false
    await runAction({
      getInputs: () => {
        throw new ConfigurationError('input \'mode\': "x" is not valid')
      },
      run: async () => {
        ran = true
      },
      outputs: () => ({}),
      // A name no other test sets: outputs set once are not set again.
      outputsOnFailure: { 'nothing-done': 'true' },
    })
    expect(ran).toBe(false)
    expect(output()).toMatch(setOutput('nothing-done', 'true'))
    expect(output()).toContain(`::error::input 'mode': "x" is not valid`)
    expect(process.exitCode).toBe(1)
  })
})
