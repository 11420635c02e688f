import { ConfigurationError, describeValue, invalidInput } from './errors.js'

/** Reads one raw input by its action.yml name; '' when unset. */
export type InputSource = (name: string) => string

/**
 * The runner's convention: input `aws-region` arrives as INPUT_AWS-REGION (upper case,
 * spaces become '_', dashes kept). This is what @actions/core's getInput reads too.
 */
export function envInputSource(env: NodeJS.ProcessEnv = process.env): InputSource {
  return name => env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] ?? ''
}

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }
const DURATION_RULE =
  "use a duration such as '90s', '5m', '1h', '1m30s' or '500ms' (a bare number means seconds)"

/** Parses '90s', '5m', '1h', '1m30s', '500ms' or a bare number of seconds into milliseconds. */
export function parseDuration(input: string, raw: string): number {
  const text = raw.trim()
  if (/^\d+$/.test(text)) return Number(text) * 1000
  if (!/^(\d+(ms|s|m|h))+$/.test(text)) throw invalidInput(input, raw, DURATION_RULE)
  let total = 0
  for (const [, amount, unit] of text.matchAll(/(\d+)(ms|s|m|h)/g)) {
    total += Number(amount) * (DURATION_UNITS_MS[unit as string] ?? 0)
  }
  if (!Number.isSafeInteger(total)) throw invalidInput(input, raw, 'the duration is too large')
  return total
}

const KiB = 1024
/** As the AWS CLI reads sizes: the decimal-looking suffixes mean powers of 1024 too. */
const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  kb: KiB,
  kib: KiB,
  mb: KiB ** 2,
  mib: KiB ** 2,
  gb: KiB ** 3,
  gib: KiB ** 3,
  tb: KiB ** 4,
  tib: KiB ** 4,
}
const SIZE_RULE =
  "use a size such as '5242880', '8MB' or '1GiB' (a bare number means bytes; KB, MB and GB " +
  'mean KiB, MiB and GiB, as in the AWS CLI)'

/**
 * Parses a size as the AWS CLI does (`multipart_chunksize`): a bare number is bytes, and
 * KB/KiB, MB/MiB, GB/GiB, TB/TiB (any case) are powers of 1024. Returns bytes.
 */
export function parseSize(input: string, raw: string): number {
  const bytes = sizeInBytes(raw)
  if (bytes === undefined) throw invalidInput(input, raw, SIZE_RULE)
  return bytes
}

function sizeInBytes(raw: string): number | undefined {
  const match = /^(\d{1,16})\s*([kmgt]i?b|b)?$/i.exec(raw.trim())
  const unit = SIZE_UNITS[(match?.[2] ?? '').toLowerCase()]
  const bytes = match && unit !== undefined ? Number(match[1]) * unit : NaN
  return Number.isSafeInteger(bytes) ? bytes : undefined
}

/** 5242880 → '5MiB', 1000 → '1000B'; for messages. */
export function formatSize(bytes: number): string {
  for (const [unit, size] of [
    ['TiB', KiB ** 4],
    ['GiB', KiB ** 3],
    ['MiB', KiB ** 2],
    ['KiB', KiB],
  ] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`
  }
  return `${bytes}B`
}

/** Splits on newlines and commas, trims, and drops empty items. */
export function parseList(raw: string): string[] {
  return raw
    .split(/[\n,]/)
    .map(item => item.trim())
    .filter(item => item.length > 0)
}

export interface IntegerRange {
  min?: number
  max?: number
}

/**
 * Typed access to an action's inputs. Every reader trims the value, treats '' as unset,
 * and throws a ConfigurationError that names the input, the escaped value and the rule.
 */
export class Inputs {
  constructor(private readonly source: InputSource = envInputSource()) {}

  /** The trimmed value, or `fallback` when unset. */
  string(name: string, fallback = ''): string {
    const value = this.source(name).trim()
    return value === '' ? fallback : value
  }

  /** The trimmed value, or undefined when unset. */
  optional(name: string): string | undefined {
    const value = this.source(name).trim()
    return value === '' ? undefined : value
  }

  /** The trimmed value; unset is an error. */
  required(name: string): string {
    const value = this.optional(name)
    if (value === undefined) throw new ConfigurationError(`input '${name}' is required`)
    return value
  }

  /** 'true' or 'false' only: 'yes', '1' and friends are errors, not silent falses. */
  boolean(name: string, fallback: boolean): boolean {
    const value = this.optional(name)
    if (value === undefined) return fallback
    if (value === 'true') return true
    if (value === 'false') return false
    throw invalidInput(name, value, "use 'true' or 'false'")
  }

  integer(name: string, fallback: number, range: IntegerRange = {}): number {
    const value = this.optional(name)
    if (value === undefined) return fallback
    const { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER } = range
    const rule = `use a whole number from ${min} to ${max}`
    if (!/^[+-]?\d+$/.test(value)) throw invalidInput(name, value, rule)
    const parsed = Number(value)
    if (!Number.isSafeInteger(parsed) || parsed < min || parsed > max) {
      throw invalidInput(name, value, rule)
    }
    return parsed
  }

  /** A duration in milliseconds; `fallbackMs` when unset. */
  duration(
    name: string,
    fallbackMs: number,
    range: { minMs?: number; maxMs?: number } = {},
  ): number {
    const value = this.optional(name)
    if (value === undefined) return fallbackMs
    const ms = parseDuration(name, value)
    const { minMs = 0, maxMs = Number.MAX_SAFE_INTEGER } = range
    if (ms < minMs || ms > maxMs) {
      throw invalidInput(
        name,
        value,
        `use a duration from ${formatDuration(minMs)} to ${formatDuration(maxMs)}`,
      )
    }
    return ms
  }

  /** A size in bytes (see {@link parseSize}); `fallbackBytes` when unset. */
  size(
    name: string,
    fallbackBytes: number,
    range: { minBytes?: number; maxBytes?: number } = {},
  ): number {
    const value = this.optional(name)
    return value === undefined ? fallbackBytes : checkSize(name, value, range)
  }

  /** Items separated by newlines or commas, trimmed, empties dropped. */
  list(name: string, fallback: string[] = []): string[] {
    const value = this.optional(name)
    return value === undefined ? fallback : parseList(value)
  }

  /** Lines, trimmed, empties dropped; for inputs whose items may contain commas. */
  lines(name: string): string[] {
    return this.string(name)
      .split('\n')
      .map(line => line.trim())
      .filter(line => line.length > 0)
  }

  /** Parsed JSON, or `fallback` when unset. */
  json<T = unknown>(name: string, fallback: T): T {
    const value = this.optional(name)
    if (value === undefined) return fallback
    try {
      return JSON.parse(value) as T
    } catch (error) {
      throw invalidInput(name, value, `use valid JSON (${(error as Error).message})`)
    }
  }

  /** One of `allowed`, compared exactly. */
  enum<const T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const value = this.optional(name)
    if (value === undefined) return fallback
    if ((allowed as readonly string[]).includes(value)) return value as T
    throw invalidInput(name, value, `use one of ${allowed.map(a => `'${a}'`).join(', ')}`)
  }
}

/** Parses a size and checks it is within `range`; the error names the input and the range. */
export function checkSize(
  input: string,
  raw: string,
  range: { minBytes?: number; maxBytes?: number },
): number {
  const bytes = sizeInBytes(raw)
  const { minBytes = 0, maxBytes = Number.MAX_SAFE_INTEGER } = range
  if (bytes === undefined || bytes < minBytes || bytes > maxBytes) {
    throw invalidInput(
      input,
      raw,
      `use a size from ${formatSize(minBytes)} to ${formatSize(maxBytes)}, such as ` +
        `'${formatSize(minBytes)}' or '${minBytes}' (a bare number means bytes; KB, MB and GB ` +
        'mean KiB, MiB and GiB, as in the AWS CLI)',
    )
  }
  return bytes
}

/** 90000 → '1m30s'; for messages. */
export function formatDuration(ms: number): string {
  if (ms % 1000 !== 0) return `${ms}ms`
  let seconds = ms / 1000
  const hours = Math.floor(seconds / 3600)
  seconds -= hours * 3600
  const minutes = Math.floor(seconds / 60)
  seconds -= minutes * 60
  const parts = [
    hours ? `${hours}h` : '',
    minutes ? `${minutes}m` : '',
    seconds ? `${seconds}s` : '',
  ]
  return parts.join('') || '0s'
}

export { describeValue }
