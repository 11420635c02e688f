import { describe, expect, it } from '@jest/globals'
import {
  backoffWindow,
  fullJitterDelay,
  memoryLogger,
  retryWithBackoff,
} from '../../packages/kit/src/index.js'

describe('backoffWindow', () => {
  it('doubles from the base at each retry, up to 8 base windows by default', () => {
    expect([0, 1, 2, 3, 4, 10].map(retry => backoffWindow(retry, 250))).toEqual([
      250, 500, 1000, 2000, 2000, 2000,
    ])
  })

  it('stops at the cap it is given', () => {
    expect([0, 1, 2, 3, 4].map(retry => backoffWindow(retry, 100, 300))).toEqual([
      100, 200, 300, 300, 300,
    ])
    expect(backoffWindow(3, 0)).toBe(0)
  })
})

describe('fullJitterDelay', () => {
  it('draws from a window that doubles up to the cap', () => {
    expect(fullJitterDelay(0, 100, 1000, () => 0.999)).toBe(99)
    expect(fullJitterDelay(3, 100, 1000, () => 0.5)).toBe(400)
    expect(fullJitterDelay(10, 100, 1000, () => 0.999)).toBe(999)
    expect(fullJitterDelay(5, 100, 1000, () => 0)).toBe(0)
  })
})

describe('retryWithBackoff', () => {
  it('retries until success, with labelled log lines and the injected sleep', async () => {
    const logger = memoryLogger()
    const slept: number[] = []
    let calls = 0
    const result = await retryWithBackoff(
      async attempt => {
        calls++
        if (attempt < 3) throw new Error(`flaky ${attempt}`)
        return 'ok'
      },
      {
        label: 'get token',
        attempts: 5,
        baseDelayMs: 100,
        maxDelayMs: 1000,
        logger,
        sleep: async ms => void slept.push(ms),
        random: () => 0.5,
      },
    )
    expect(result).toBe('ok')
    expect(calls).toBe(3)
    expect(slept).toEqual([50, 100])
    expect(logger.lines).toEqual([
      'warning: get token: attempt 1 of 5 failed (flaky 1); retrying in 50 ms',
      'warning: get token: attempt 2 of 5 failed (flaky 2); retrying in 100 ms',
    ])
  })

  it('gives up after the last attempt with the last error', async () => {
    let calls = 0
    await expect(
      retryWithBackoff(
        async () => {
          calls++
          throw new Error(`fail ${calls}`)
        },
        { label: 'x', attempts: 3, baseDelayMs: 1, maxDelayMs: 1, sleep: async () => {} },
      ),
    ).rejects.toThrow('fail 3')
    expect(calls).toBe(3)
  })

  it('does not retry errors that are not retryable', async () => {
    let calls = 0
    await expect(
      retryWithBackoff(
        async () => {
          calls++
          throw new Error('AccessDenied')
        },
        {
          label: 'x',
          attempts: 5,
          baseDelayMs: 1,
          maxDelayMs: 1,
          sleep: async () => {},
          retryable: () => false,
        },
      ),
    ).rejects.toThrow('AccessDenied')
    expect(calls).toBe(1)
  })
})
