import picomatch from 'picomatch'
import {
  ConfigurationError,
  describeValue,
  ENVIRONMENT_RULE,
  assertSafeName,
} from '../../kit/src/index.js'
import type { ParsedRef } from './ref.js'

/** One `PATTERN => ENVIRONMENT` line of the `rules` input. */
export interface EnvironmentRule {
  /** 1-based line number in the input, for messages. */
  line: number
  /** The line as written, trimmed: reported as `matched-rule`. */
  text: string
  /** Which kind of ref the glob applies to. */
  refType: 'branch' | 'tag'
  glob: string
  environment: string
  matches: (name: string) => boolean
}

/**
 * Globs follow GitHub's branch filters: `*` stops at '/', `**` crosses it, `?` is one
 * character, `[...]` a class. Extglobs and braces are off so '+' and '{' stay literal.
 */
function compileGlob(glob: string): (name: string) => boolean {
  return picomatch(glob, { dot: true, noextglob: true, nobrace: true, nonegate: true })
}

const RULE_FORMAT =
  "write 'PATTERN => ENVIRONMENT', where PATTERN is a branch glob such as 'release/*' or 'tag:v*.*.*'"

const PREFIXES = { 'tag:': 'tag', 'branch:': 'branch' } as const

/**
 * Splits 'tag:GLOB' and 'branch:GLOB'. Anything else with a ':' is a mistake, never a glob:
 * git refuses ':' in branch and tag names, so such a rule could never match.
 */
function splitPattern(pattern: string, what: string): Pick<EnvironmentRule, 'refType' | 'glob'> {
  for (const [prefix, refType] of Object.entries(PREFIXES)) {
    if (pattern.startsWith(prefix)) {
      const glob = pattern.slice(prefix.length).trim()
      if (glob.includes(':')) throw colonError(what, pattern)
      return { refType, glob }
    }
  }
  const unknownPrefix = /^([^:/*?[]+):/.exec(pattern)
  if (unknownPrefix) {
    throw new ConfigurationError(
      `${what} ${describeValue(pattern)} has an unknown prefix ${describeValue(`${unknownPrefix[1]}:`)}: ` +
        "use 'tag:GLOB' for tags, 'branch:GLOB' or a bare GLOB for branches",
    )
  }
  if (pattern.includes(':')) throw colonError(what, pattern)
  return { refType: 'branch', glob: pattern }
}

function colonError(what: string, pattern: string): ConfigurationError {
  return new ConfigurationError(
    `${what} ${describeValue(pattern)} contains ':': git allows no ':' in branch or tag names, ` +
      "so it could never match (write 'tag:GLOB' for tags)",
  )
}

/**
 * Parses the `rules` input. Blank lines and lines starting with '#' are skipped, as is a
 * trailing ' # comment'. A malformed line is an error naming its line number.
 */
export function parseRules(text: string, input = 'rules'): EnvironmentRule[] {
  const rules: EnvironmentRule[] = []
  const where = (line: number) => `input '${input}' line ${line}`
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = index + 1
    const body = raw.replace(/\s+#.*$/, '').trim()
    if (body === '' || body.startsWith('#')) return
    const arrow = body.indexOf('=>')
    if (arrow < 0 || body.indexOf('=>', arrow + 2) >= 0) {
      throw new ConfigurationError(`${where(line)}: ${describeValue(raw)}: ${RULE_FORMAT}`)
    }
    const { refType, glob } = splitPattern(body.slice(0, arrow).trim(), `${where(line)}: pattern`)
    const environment = body.slice(arrow + 2).trim()
    if (glob === '' || environment === '') {
      throw new ConfigurationError(`${where(line)}: ${describeValue(raw)}: ${RULE_FORMAT}`)
    }
    if (/\s/.test(glob)) {
      throw new ConfigurationError(
        `${where(line)}: pattern ${describeValue(glob)} contains white space; ` +
          'branch and tag names cannot',
      )
    }
    assertSafeName(`${where(line)}: environment`, environment, ENVIRONMENT_RULE)
    rules.push({ line, text: body, refType, glob, environment, matches: compileGlob(glob) })
  })
  if (rules.length === 0) {
    throw new ConfigurationError(`input '${input}' has no rules: ${RULE_FORMAT}`)
  }
  return rules
}

/**
 * The first rule that matches the ref (only among the rules for `environment` when given),
 * or undefined (always undefined for 'other' refs).
 */
export function matchRule(
  rules: readonly EnvironmentRule[],
  ref: ParsedRef,
  environment?: string,
): EnvironmentRule | undefined {
  if (ref.type === 'other') return undefined
  return rules.find(
    rule =>
      (environment === undefined || rule.environment.toLowerCase() === environment.toLowerCase()) &&
      rule.refType === ref.type &&
      rule.matches(ref.name),
  )
}

/** The distinct environments named by the rules, in order of first appearance. */
export function ruleEnvironments(rules: readonly EnvironmentRule[]): string[] {
  return [...new Set(rules.map(rule => rule.environment))]
}
