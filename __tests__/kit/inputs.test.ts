import { describe, expect, it } from '@jest/globals'
import {
  ConfigurationError,
  Inputs,
  envInputSource,
  formatDuration,
  formatSize,
  parseDuration,
  parseList,
  parseSize,
} from '../../packages/kit/src/index.js'

const inputsOf = (values: Record<string, string>) => new Inputs(name => values[name] ?? '')

/** Asserts that `fn` throws a ConfigurationError whose message contains every fragment. */
function expectUserError(fn: () => unknown, ...fragments: string[]): void {
  let thrown: unknown
  try {
    fn()
  } catch (error) {
    thrown = error
  }
  expect(thrown).toBeInstanceOf(ConfigurationError)
  for (const fragment of fragments) expect((thrown as Error).message).toContain(fragment)
}

describe('envInputSource', () => {
  it('reads INPUT_<NAME> with spaces as underscores and dashes kept, like the runner', () => {
    const read = envInputSource({ 'INPUT_AWS-REGION': 'eu-west-1', INPUT_MY_INPUT: 'x' })
    expect(read('aws-region')).toBe('eu-west-1')
    expect(read('my input')).toBe('x')
    expect(read('missing')).toBe('')
  })
})

describe('Inputs', () => {
  it('trims strings and treats empty as unset', () => {
    const inputs = inputsOf({ a: '  value \n', b: '   ' })
    expect(inputs.string('a')).toBe('value')
    expect(inputs.string('b', 'fallback')).toBe('fallback')
    expect(inputs.optional('b')).toBeUndefined()
    expect(inputs.required('a')).toBe('value')
    expectUserError(() => inputs.required('b'), "input 'b' is required")
  })

  it('accepts only true/false for booleans', () => {
    const inputs = inputsOf({ yes: 'true', no: 'false', bad: 'yes' })
    expect(inputs.boolean('yes', false)).toBe(true)
    expect(inputs.boolean('no', true)).toBe(false)
    expect(inputs.boolean('unset', true)).toBe(true)
    expectUserError(
      () => inputs.boolean('bad', false),
      "input 'bad'",
      '"yes"',
      "use 'true' or 'false'",
    )
  })

  it('checks integers against their range', () => {
    const inputs = inputsOf({ ok: '5', neg: '-3', big: '101', float: '1.5', junk: '5; rm -rf /' })
    expect(inputs.integer('ok', 1, { min: 1, max: 100 })).toBe(5)
    expect(inputs.integer('neg', 0)).toBe(-3)
    expect(inputs.integer('unset', 7, { min: 1 })).toBe(7)
    expectUserError(
      () => inputs.integer('big', 1, { min: 1, max: 100 }),
      "'big'",
      '"101"',
      'from 1 to 100',
    )
    expectUserError(() => inputs.integer('float', 1), '"1.5"', 'whole number')
    expectUserError(() => inputs.integer('junk', 1), '"5; rm -rf /"')
  })

  it('parses durations into milliseconds and enforces bounds', () => {
    const inputs = inputsOf({
      a: '90s',
      b: '5m',
      c: '1h',
      d: '1m30s',
      e: '250ms',
      f: '12',
      g: '5 minutes',
    })
    expect(inputs.duration('a', 0)).toBe(90_000)
    expect(inputs.duration('b', 0)).toBe(300_000)
    expect(inputs.duration('c', 0)).toBe(3_600_000)
    expect(inputs.duration('d', 0)).toBe(90_000)
    expect(inputs.duration('e', 0)).toBe(250)
    expect(inputs.duration('f', 0)).toBe(12_000)
    expect(inputs.duration('unset', 1234)).toBe(1234)
    expectUserError(() => inputs.duration('g', 0), "input 'g'", '"5 minutes"', "'90s'")
    expectUserError(
      () => inputs.duration('c', 0, { maxMs: 600_000 }),
      "input 'c'",
      'from 0s to 10m',
    )
  })

  it('splits lists on newlines and commas', () => {
    expect(parseList('a, b\n c,,\n\n d ')).toEqual(['a', 'b', 'c', 'd'])
    expect(inputsOf({ l: 'prod,\nproduction' }).list('l')).toEqual(['prod', 'production'])
    expect(inputsOf({}).list('l', ['x'])).toEqual(['x'])
    expect(inputsOf({ l: ' one, two \n three ' }).lines('l')).toEqual(['one, two', 'three'])
  })

  it('parses JSON and names the input on a syntax error', () => {
    const inputs = inputsOf({ ok: '["i-1","i-2"]', bad: '["i-1",' })
    expect(inputs.json('ok', [])).toEqual(['i-1', 'i-2'])
    expect(inputs.json('unset', { a: 1 })).toEqual({ a: 1 })
    expectUserError(() => inputs.json('bad', []), "input 'bad'", '"[\\"i-1\\",', 'valid JSON')
  })

  it('accepts only the listed enum values', () => {
    const inputs = inputsOf({ mode: 'rollback', bad: 'Deploy' })
    expect(inputs.enum('mode', ['deploy', 'rollback'], 'deploy')).toBe('rollback')
    expect(inputs.enum('unset', ['deploy', 'rollback'], 'deploy')).toBe('deploy')
    expectUserError(
      () => inputs.enum('bad', ['deploy', 'rollback'], 'deploy'),
      "'bad'",
      '"Deploy"',
      "'deploy', 'rollback'",
    )
  })

  it('escapes control characters of bad values in messages', () => {
    expectUserError(
      () => inputsOf({ n: '1\n::error::fake' }).integer('n', 0),
      '"1\\n::error::fake"',
    )
  })
})

describe('durations', () => {
  it('formats back readably', () => {
    expect(formatDuration(90_000)).toBe('1m30s')
    expect(formatDuration(3_600_000)).toBe('1h')
    expect(formatDuration(0)).toBe('0s')
    expect(formatDuration(1500)).toBe('1500ms')
  })
  it('rejects units it does not know', () => {
    expect(() => parseDuration('timeout', '3d')).toThrow(ConfigurationError)
    expect(() => parseDuration('timeout', '')).toThrow(/input 'timeout'/)
  })
})

describe('sizes, read as the AWS CLI reads them', () => {
  const MiB = 1024 * 1024
  it.each([
    ['5242880', 5 * MiB],
    ['0', 0],
    ['512b', 512],
    ['64KB', 64 * 1024],
    ['64kib', 64 * 1024],
    ['5MB', 5 * MiB],
    ['5MiB', 5 * MiB],
    ['5 mb', 5 * MiB],
    ['2GB', 2 * 1024 * MiB],
    ['2GiB', 2 * 1024 * MiB],
    ['1TB', 1024 * 1024 * MiB],
  ])('%s is %d bytes', (raw, bytes) => {
    expect(parseSize('part-size', raw)).toBe(bytes)
  })

  it.each(['', '1.5MB', '-5MB', '5 M', '5XB', 'MB', '99999999999999999TB'])(
    'refuses %j, naming the input and the rule',
    raw => {
      expectUserError(
        () => parseSize('part-size', raw),
        "input 'part-size'",
        'a bare number means bytes',
      )
    },
  )

  it('checks the range and formats it back', () => {
    const range = { minBytes: 5 * MiB, maxBytes: 5 * 1024 * MiB }
    expect(inputsOf({ 'part-size': '5MB' }).size('part-size', 1, range)).toBe(5 * MiB)
    expect(inputsOf({}).size('part-size', 16 * MiB, range)).toBe(16 * MiB)
    expectUserError(
      () => inputsOf({ 'part-size': '4MiB' }).size('part-size', 1, range),
      '"4MiB"',
      'use a size from 5MiB to 5GiB',
    )
    expect(formatSize(5 * MiB)).toBe('5MiB')
    expect(formatSize(1000)).toBe('1000B')
  })
})
