import {
  ConfigurationError,
  VERSION_RULE,
  assertSafeName,
  describeValue,
  escapeMarkdown,
  type Logger,
} from '../../kit/src/index.js'
import { parseRef, type ParsedRef, type RefType } from './ref.js'
import { matchRule, parseRules, ruleEnvironments, type EnvironmentRule } from './rules.js'

export interface ResolveOptions {
  /** The `rules` input text. */
  rules: string
  /** The full ref, e.g. refs/heads/master. */
  ref: string
  /** Explicit environment (workflow_dispatch); must be one the rules name. */
  environment?: string | undefined
  /**
   * The version a rollback or redeploy ships. Only with it may `environment` pick an
   * environment that the rules do not give this ref.
   */
  version?: string | undefined
  /**
   * A read-only status run (deploy.yml's status mode): like `version`, it lets `environment`
   * pick any environment the rules name, since it deploys nothing.
   */
  status?: boolean | undefined
  /** Environment names that count as production, compared case-insensitively. */
  production: readonly string[]
  onNoMatch: 'skip' | 'fail'
}

export interface Resolution {
  environment: string
  refName: string
  refType: RefType
  deploy: boolean
  isProduction: boolean
  /** The rule line that decided, or `environment input` for an override; '' for none. */
  matchedRule: string
  /** Set when no rule matched and the run skips: what to tell the user, as text and Markdown. */
  noMatch?: { message: string; markdown: string }
}

const listRules = (rules: readonly EnvironmentRule[]) => rules.map(r => r.text).join('; ')

/** Decides which environment a ref deploys to. */
export function resolveEnvironment(options: ResolveOptions, logger?: Logger): Resolution {
  const rules = parseRules(options.rules)
  const ref = parseRef(options.ref)
  if (options.version !== undefined)
    assertSafeName("input 'version'", options.version, VERSION_RULE)
  const isProduction = (env: string) =>
    options.production.some(p => p.toLowerCase() === env.toLowerCase())
  const base = { refName: ref.name, refType: ref.type }

  if (options.environment !== undefined) {
    const environment = chosenEnvironment(rules, options.environment)
    const rule = matchRule(rules, ref, environment)
    const override =
      options.version !== undefined
        ? `version ${describeValue(options.version)}`
        : options.status
          ? 'a status run, which deploys nothing'
          : undefined
    if (override === undefined && rule === undefined) {
      throw new ConfigurationError(
        `input 'environment': ${describeValue(options.environment)} is not allowed for ` +
          `${describeRef(ref)}: no rule for '${environment}' matches it, and an explicit ` +
          "environment without input 'version' (a rollback or redeploy) or 'status' may only pick what " +
          `the rules allow; the rules are: ${listRules(rules)}`,
      )
    }
    const why = override ?? `rule on line ${rule?.line}: ${rule?.text}`
    logger?.info(
      `Environment '${environment}' was chosen by the 'environment' input (ref ${describeValue(ref.ref)}, ${why}).`,
    )
    return {
      ...base,
      environment,
      deploy: true,
      isProduction: isProduction(environment),
      matchedRule: 'environment input',
    }
  }

  const rule = matchRule(rules, ref)
  if (rule === undefined) {
    if (options.onNoMatch === 'fail') {
      throw new ConfigurationError(
        `no rule matches ${describeRef(ref)}; the rules are: ${listRules(rules)} ` +
          "(set 'on-no-match: skip' to skip instead)",
      )
    }
    const message = `ref ${describeValue(ref.name)} matched no rule; nothing deployed. The rules: ${listRules(rules)}`
    const markdown =
      `ref ${escapeMarkdown(describeValue(ref.name))} matched no rule; nothing deployed. ` +
      `The rules: ${rules.map(r => escapeMarkdown(r.text)).join('; ')}`
    logger?.info(`${message}${ref.type === 'other' ? ` (${describeRef(ref)})` : ''}`)
    return {
      ...base,
      environment: '',
      deploy: false,
      isProduction: false,
      matchedRule: '',
      noMatch: { message, markdown },
    }
  }
  logger?.info(
    `${ref.type} ${describeValue(ref.name)} deploys to '${rule.environment}' (rule on line ${rule.line}: ${rule.text}).`,
  )
  return {
    ...base,
    environment: rule.environment,
    deploy: true,
    isProduction: isProduction(rule.environment),
    matchedRule: rule.text,
  }
}

/** The rules' spelling of the requested environment; one the rules do not name is an error. */
function chosenEnvironment(rules: readonly EnvironmentRule[], requested: string): string {
  const known = ruleEnvironments(rules)
  const environment = known.find(env => env.toLowerCase() === requested.toLowerCase())
  if (environment === undefined) {
    throw new ConfigurationError(
      `input 'environment': ${describeValue(requested)} is not an environment the rules name: ` +
        `use one of ${known.map(e => `'${e}'`).join(', ')}`,
    )
  }
  return environment
}

function describeRef(ref: ParsedRef): string {
  return ref.type === 'other'
    ? `ref ${describeValue(ref.ref)}, which is neither a branch (refs/heads/…) nor a tag (refs/tags/…)`
    : `${ref.type} ${describeValue(ref.name)}`
}
