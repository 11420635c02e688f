// The workflow run as the runner describes it in GITHUB_* variables: its URL, commit and
// actor. The one place that builds the run URL; the domain gets it as a value.
import {
  ACTOR_RULE,
  COMMIT_SHA,
  ConfigurationError,
  REPOSITORY_NAME,
  describeValue,
} from '../../kit/src/index.js'
import type { RunContext } from '../../release-store/src/index.js'

const SERVER_URL = /^https:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/
const RUN_ID = /^\d{1,20}$/

/** A runner variable, checked against `pattern`; undefined when unset. */
function runnerVariable(
  env: NodeJS.ProcessEnv,
  name: string,
  pattern: RegExp,
  rule: string,
): string | undefined {
  const value = env[name] ?? ''
  if (value === '') return undefined
  if (!pattern.test(value)) {
    throw new ConfigurationError(`${name} ${describeValue(value)} is not valid: ${rule}`)
  }
  return value
}

/**
 * The workflow run's URL from GITHUB_SERVER_URL, GITHUB_REPOSITORY and GITHUB_RUN_ID;
 * undefined when one is unset, a ConfigurationError when one is malformed.
 */
export function workflowRunUrl(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const server = runnerVariable(env, 'GITHUB_SERVER_URL', SERVER_URL, 'use an https origin')
  const repository = runnerVariable(env, 'GITHUB_REPOSITORY', REPOSITORY_NAME, 'use OWNER/NAME')
  const runId = runnerVariable(env, 'GITHUB_RUN_ID', RUN_ID, 'use the run id, digits only')
  if (!server || !repository || !runId) return undefined
  return `${server}/${repository}/actions/runs/${runId}`
}

/**
 * The run's URL, or undefined when a variable is unset or malformed: for steps that must
 * never fail on it (the summary runs after failures).
 */
export function workflowRunUrlIfValid(env: NodeJS.ProcessEnv = process.env): string | undefined {
  try {
    return workflowRunUrl(env)
  } catch {
    return undefined
  }
}

/**
 * The run's URL, commit and actor from the runner's environment. Each must be present and
 * well formed: these strings end up in S3 as the audit trail of who deployed what.
 */
export function runContext(env: NodeJS.ProcessEnv = process.env): RunContext {
  const required = <T>(value: T | undefined, names: string): T => {
    if (value === undefined) {
      throw new ConfigurationError(
        `${names} is not set: this step must run in a GitHub Actions job, which sets it`,
      )
    }
    return value
  }
  return {
    runUrl: required(workflowRunUrl(env), 'GITHUB_SERVER_URL, GITHUB_REPOSITORY or GITHUB_RUN_ID'),
    commit: required(
      runnerVariable(env, 'GITHUB_SHA', COMMIT_SHA, 'use a full commit sha in lowercase hex'),
      'GITHUB_SHA',
    ),
    actor: required(
      runnerVariable(env, 'GITHUB_ACTOR', ACTOR_RULE.pattern, ACTOR_RULE.rule),
      'GITHUB_ACTOR',
    ),
  }
}
