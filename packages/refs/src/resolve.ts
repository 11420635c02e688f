import { ConfigurationError, describeValue, type Logger } from '../../kit/src/index.js'
import { parseRef, type RefType } from './ref.js'
import { matchRule, parseRules, ruleEnvironments } from './rules.js'

export interface ResolveOptions {
  /** The `rules` input text. */
  rules: string
  /** The full ref, e.g. refs/heads/master. */
  ref: string
  /** Explicit environment (workflow_dispatch); must be one the rules name. */
  environment?: string | undefined
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
}

/** Decides which environment a ref deploys to. */
export function resolveEnvironment(options: ResolveOptions, logger?: Logger): Resolution {
  const rules = parseRules(options.rules)
  const ref = parseRef(options.ref)
  const isProduction = (env: string) =>
    options.production.some(p => p.toLowerCase() === env.toLowerCase())
  const base = { refName: ref.name, refType: ref.type }

  if (options.environment !== undefined) {
    const known = ruleEnvironments(rules)
    const environment = known.find(env => env.toLowerCase() === options.environment?.toLowerCase())
    if (environment === undefined) {
      throw new ConfigurationError(
        `input 'environment': ${describeValue(options.environment)} is not an environment the rules name: ` +
          `use one of ${known.map(e => `'${e}'`).join(', ')}`,
      )
    }
    logger?.info(
      `Environment '${environment}' was chosen by the 'environment' input (ref ${ref.ref}).`,
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
    const why =
      ref.type === 'other'
        ? `ref ${describeValue(ref.ref)} is neither a branch (refs/heads/…) nor a tag (refs/tags/…)`
        : `no rule matches ${ref.type} ${describeValue(ref.name)}`
    if (options.onNoMatch === 'fail') {
      throw new ConfigurationError(
        `${why}; the rules are: ${rules.map(r => r.text).join('; ')} (set 'on-no-match: skip' to skip instead)`,
      )
    }
    logger?.info(`${why}: nothing to deploy.`)
    return { ...base, environment: '', deploy: false, isProduction: false, matchedRule: '' }
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
