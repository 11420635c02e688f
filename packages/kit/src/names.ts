import { ConfigurationError, describeValue } from './errors.js'

/** An allow-pattern with the sentence that explains it to a user. */
export interface NameRule {
  /** Anchored pattern the whole value must match. */
  pattern: RegExp
  /** What is allowed, phrased for a user: "use letters, digits, '.', '_', '-' and '+'". */
  rule: string
  /** Longest accepted value, in characters. */
  maxLength: number
}

/** Versions: what version-tag produces and what ssm-deploy accepts. */
export const VERSION_RULE: NameRule = {
  pattern: /^[A-Za-z0-9][A-Za-z0-9._+-]*$/,
  rule: "start with a letter or digit, then use letters, digits, '.', '_', '-' and '+'",
  maxLength: 128,
}

/** GitHub environment names as this suite accepts them (they reach S3 keys and tags). */
export const ENVIRONMENT_RULE: NameRule = {
  pattern: /^[A-Za-z0-9][A-Za-z0-9._-]*$/,
  rule: "start with a letter or digit, then use letters, digits, '.', '_' and '-'",
  maxLength: 64,
}

/**
 * Application names: one rule for every action and the deployment records. They become part
 * of a zip's file name, S3 keys, the `DeployApp` tag's value and the host's deploy-dir, so
 * '+' (a space in URL queries) and '/' are refused.
 */
export const APP_NAME_RULE: NameRule = {
  pattern: /^[A-Za-z0-9][A-Za-z0-9._-]*$/,
  rule: "start with a letter or digit, then use letters, digits, '.', '_' and '-'",
  maxLength: 64,
}

// GitHub's names for a run, as the runner's GITHUB_* variables and the deployment records
// carry them.

/** A full commit sha (SHA-1 or SHA-256 repositories), in lowercase hex. */
export const COMMIT_SHA = /^([0-9a-f]{40}|[0-9a-f]{64})$/
/** GitHub logins, and app actors such as `dependabot[bot]`. */
export const ACTOR_RULE: NameRule = {
  pattern: /^[A-Za-z0-9][A-Za-z0-9-]{0,38}(\[bot\])?$/,
  rule: "a GitHub login: letters, digits and inner '-', optionally ending in '[bot]'",
  maxLength: 45,
}
/** OWNER/NAME; a name of only dots would turn the run URL into a path that climbs. */
export const REPOSITORY_NAME = /^(?!\.+\/)[A-Za-z0-9_.-]+\/(?!\.+$)[A-Za-z0-9_.-]+$/

/**
 * Throws a ConfigurationError naming `what`, the escaped value and the rule,
 * unless `value` matches the rule. Returns the value for chaining.
 */
export function assertSafeName(what: string, value: string, rule: NameRule): string {
  if (value.length === 0) {
    throw new ConfigurationError(`${what} is empty: ${rule.rule}`)
  }
  if (value.length > rule.maxLength) {
    throw new ConfigurationError(
      `${what} ${describeValue(value)} is too long (${value.length} characters, at most ${rule.maxLength})`,
    )
  }
  if (!rule.pattern.test(value)) {
    throw new ConfigurationError(`${what} ${describeValue(value)} is not allowed: ${rule.rule}`)
  }
  return value
}

/** Whether `value` is one the rule accepts: not empty, not too long, matching its pattern. */
export function fitsRule(value: string, rule: NameRule): boolean {
  return value.length > 0 && value.length <= rule.maxLength && rule.pattern.test(value)
}
