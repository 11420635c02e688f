import { describe, expect, it } from '@jest/globals'
import { ConfigurationError } from '../../packages/kit/src/index.js'
import { errorBudget, parseWaveSpec, planWaves, stepsOf } from '../../packages/fleet/src/index.js'

const fleet = (n: number) =>
  Array.from({ length: n }, (_, i) => `i-${String(i + 1).padStart(8, '0')}`)
const sizes = (waves: string[][]) => waves.map(wave => wave.length)

describe('planWaves', () => {
  it('brings the deployed share up to each cumulative size, in the given order', () => {
    const ids = fleet(500)
    const waves = planWaves(ids, '1, 10%, 50%, 100%', '100%')
    expect(sizes(waves)).toEqual([1, 49, 200, 250])
    expect(waves.flat()).toEqual(ids)
    expect(sizes(planWaves(fleet(10), '1, 25%, 100%', '1'))).toEqual([1, 2, 7])
  })

  it('puts what the last size leaves over in one more wave', () => {
    expect(sizes(planWaves(fleet(10), '1', '1'))).toEqual([1, 9])
    expect(sizes(planWaves(fleet(10), '2, 50%', '1'))).toEqual([2, 3, 5])
  })

  it('makes no wave of a size that adds no host, and caps counts at the fleet', () => {
    expect(sizes(planWaves(fleet(5), '1, 10%, 100%', '1'))).toEqual([1, 4])
    expect(sizes(planWaves(fleet(3), '1, 10, 100%', '1'))).toEqual([1, 2])
    expect(sizes(planWaves(fleet(1), '1, 25%, 100%', '1'))).toEqual([1])
  })

  it('without waves, makes waves of max-concurrency hosts (a count or a share of the fleet)', () => {
    expect(sizes(planWaves(fleet(120), '', '1'))).toHaveLength(120)
    expect(sizes(planWaves(fleet(7), '', '3'))).toEqual([3, 3, 1])
    expect(sizes(planWaves(fleet(10), '', '25%'))).toEqual([3, 3, 3, 1])
    expect(sizes(planWaves(fleet(120), '', '100%'))).toEqual([120])
  })
})

describe('parseWaveSpec', () => {
  it('reads counts and percentages', () => {
    expect(parseWaveSpec(' 1, 25% ,100% ')).toEqual([
      { count: 1 },
      { percent: 25 },
      { percent: 100 },
    ])
    expect(parseWaveSpec('')).toEqual([])
  })

  it.each([
    ['0', "size '0'"],
    ['0%', "size '0%'"],
    ['abc', "size 'abc'"],
    ['1, , 100%', 'an empty size'],
    ['10, 5', "size '5'"],
    ['50%, 25%', "size '25%'"],
    ['25%, 25%', "size '25%'"],
    ['1, 101%', "size '101%'"],
    ['-1', "size '-1'"],
    ['1.5', "size '1.5'"],
    ['1;rm -rf /', "size '1;rm -rf /'"],
  ])('refuses %j, naming the input, the value and the rule', (spec, item) => {
    let error: unknown
    try {
      parseWaveSpec(spec)
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(ConfigurationError)
    const message = (error as Error).message
    expect(message).toContain(`input 'waves': ${JSON.stringify(spec)} is not valid: ${item}`)
    expect(message).toContain('cumulative sizes that grow')
  })

  it('escapes what it shows', () => {
    expect(() => parseWaveSpec('1,\n2\u0007')).toThrow(/"1,\\n2\\u0007"/)
  })
})

describe('stepsOf and errorBudget', () => {
  it('cuts a wave in steps of max-concurrency, a share counting the whole fleet', () => {
    expect(sizes(stepsOf(fleet(250), '100', 500))).toEqual([100, 100, 50])
    expect(sizes(stepsOf(fleet(49), '10%', 500))).toEqual([49])
    expect(sizes(stepsOf(fleet(3), '1', 500))).toEqual([1, 1, 1])
  })

  it('counts max-errors across the fleet, a share rounded down as SSM does', () => {
    expect(errorBudget('0', 120)).toBe(0)
    expect(errorBudget('3', 120)).toBe(3)
    expect(errorBudget('10%', 120)).toBe(12)
    expect(errorBudget('10%', 5)).toBe(0)
  })
})
