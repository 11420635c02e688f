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

/**
 * Parses the `rules` input. Blank lines and lines starting with '#' are skipped, as is a
 * trailing ' # comment'. A malformed line is an error naming its line number.
 */
export function parseRules(text: string, input = 'rules'): EnvironmentRule[] {
  const rules: EnvironmentRule[] = []
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = index + 1
    const body = raw.replace(/\s+#.*$/, '').trim()
    if (body === '' || body.startsWith('#')) return
    const arrow = body.indexOf('=>')
    if (arrow < 0 || body.indexOf('=>', arrow + 2) >= 0) {
      throw new ConfigurationError(
        `input '${input}' line ${line}: ${describeValue(raw)}: ${RULE_FORMAT}`,
      )
    }
    let glob = body.slice(0, arrow).trim()
    const environment = body.slice(arrow + 2).trim()
    let refType: 'branch' | 'tag' = 'branch'
    if (glob.startsWith('tag:')) {
      refType = 'tag'
      glob = glob.slice('tag:'.length).trim()
    } else if (glob.startsWith('branch:')) {
      glob = glob.slice('branch:'.length).trim()
    }
    if (glob === '' || environment === '') {
      throw new ConfigurationError(
        `input '${input}' line ${line}: ${describeValue(raw)}: ${RULE_FORMAT}`,
      )
    }
    if (/\s/.test(glob)) {
      throw new ConfigurationError(
        `input '${input}' line ${line}: pattern ${describeValue(glob)} contains white space; ` +
          'branch and tag names cannot',
      )
    }
    assertSafeName(`input '${input}' line ${line}: environment`, environment, ENVIRONMENT_RULE)
    rules.push({ line, text: body, refType, glob, environment, matches: compileGlob(glob) })
  })
  if (rules.length === 0) {
    throw new ConfigurationError(`input '${input}' has no rules: ${RULE_FORMAT}`)
  }
  return rules
}

/** The first rule that matches the ref, or undefined (always undefined for 'other' refs). */
export function matchRule(
  rules: readonly EnvironmentRule[],
  ref: ParsedRef,
): EnvironmentRule | undefined {
  if (ref.type === 'other') return undefined
  return rules.find(rule => rule.refType === ref.type && rule.matches(ref.name))
}

/** The distinct environments named by the rules, in order of first appearance. */
export function ruleEnvironments(rules: readonly EnvironmentRule[]): string[] {
  return [...new Set(rules.map(rule => rule.environment))]
}
