// The GitHub-facing part of every AWS action: the common AWS inputs, the GitHub OIDC token,
// masking, and the configured client factory. Only actions/ import this file.
import * as core from '@actions/core'
import type { AwsCredentialIdentity } from '@aws-sdk/types'
import {
  AwsClientFactory,
  DEFAULT_ROLE_DURATION_SECONDS,
  MAX_ROLE_DURATION_SECONDS,
  MIN_ROLE_DURATION_SECONDS,
  defaultSessionName,
  missingIdTokenPermissionError,
  resolveMaxAttempts,
  resolveRegion,
  validateRoleArn,
  validateSessionName,
  webIdentityCredentials,
} from '../../aws/src/index.js'
import {
  assertSafeName,
  ConfigurationError,
  describeValue,
  ENVIRONMENT_RULE,
  errorMessage,
  Inputs,
  type Logger,
  renderTemplate,
  type RetryOptions,
  retryWithBackoff,
} from '../../kit/src/index.js'
import { runnerLogger } from './action.js'

/** The audience GitHub's OIDC token is requested for unless input 'audience' says otherwise. */
export const DEFAULT_AUDIENCE = 'sts.amazonaws.com'

/** The inputs every AWS action declares, with identical descriptions and defaults. */
export const AWS_INPUT_NAMES = [
  'aws-region',
  'role-to-assume',
  'role-session-name',
  'role-duration-seconds',
  'audience',
] as const

/** The defaults of the common AWS inputs, by input name, as every AWS action.yml declares them. */
export const AWS_INPUT_DEFAULTS = {
  'role-duration-seconds': DEFAULT_ROLE_DURATION_SECONDS,
  audience: DEFAULT_AUDIENCE,
} as const

/** The common AWS inputs, parsed. */
export interface AwsInputs {
  /** Undefined: AWS_REGION / AWS_DEFAULT_REGION. */
  region: string | undefined
  /** The role ARN for the action's environment; undefined: the default credential chain. */
  roleToAssume: string | undefined
  /** Undefined: derived from repository and run. */
  roleSessionName: string | undefined
  roleDurationSeconds: number
  audience: string
}

const ROLE_INPUT = 'role-to-assume'
const ROLE_LINE = /^(.*?)\s*=>\s*(.*)$/
const PASS_ENVIRONMENT = "pass the environment (resolve-environment's output) to this step"

/**
 * Picks the role for `environment` (the action's `environment` input) from `role-to-assume`:
 * one ARN; an ARN containing `{environment}`; or lines `ENV => ARN` (environments compared
 * case-insensitively, as GitHub compares them; blank lines and '#' comments skipped). Every
 * way to get no role, or a wrong one, is an error: a missing line never falls back to
 * another environment's role.
 */
export function roleForEnvironment(value: string, environment: string | undefined): string {
  const lines = value
    .split(/\r?\n/)
    .map(line => line.replace(/(^|\s)#.*$/, '').trim())
    .filter(line => line !== '')
  if (!lines.some(line => line.includes('=>'))) return templatedRole(value, environment)
  const roles = parseRoleLines(lines)
  const listed = [...roles.values()].map(role => `'${role.environment}'`).join(', ')
  if (environment === undefined) {
    throw new ConfigurationError(
      `input '${ROLE_INPUT}' gives a role per environment (${listed}), but input 'environment' is empty: ${PASS_ENVIRONMENT}`,
    )
  }
  assertSafeName("input 'environment'", environment, ENVIRONMENT_RULE)
  const role = roles.get(environment.toLowerCase())
  if (role === undefined) {
    throw new ConfigurationError(
      `input '${ROLE_INPUT}' has no line for environment ${describeValue(environment)}: ` +
        `it gives roles for ${listed}; add a line '${environment} => ROLE ARN'`,
    )
  }
  return role.arn
}

/** One ARN, with `{environment}` filled in when it has one. */
function templatedRole(value: string, environment: string | undefined): string {
  if (!/[{}]/.test(value)) return validateRoleArn(ROLE_INPUT, value)
  if (environment === undefined && value.includes('{environment}')) {
    throw new ConfigurationError(
      `input '${ROLE_INPUT}': ${describeValue(value)} uses {environment}, but input 'environment' is empty: ${PASS_ENVIRONMENT}`,
    )
  }
  if (environment !== undefined)
    assertSafeName("input 'environment'", environment, ENVIRONMENT_RULE)
  return validateRoleArn(ROLE_INPUT, renderTemplate(ROLE_INPUT, value, { environment }))
}

/** `ENV => ARN` lines, by lower-cased environment; each checked, none twice. */
function parseRoleLines(
  lines: readonly string[],
): Map<string, { environment: string; arn: string }> {
  const roles = new Map<string, { environment: string; arn: string }>()
  for (const line of lines) {
    const match = ROLE_LINE.exec(line)
    const name = match?.[1] ?? ''
    const arn = match?.[2] ?? ''
    if (name === '' || arn === '' || arn.includes('=>')) {
      throw new ConfigurationError(
        `input '${ROLE_INPUT}': line ${describeValue(line)} is not valid: write one ` +
          "'ENVIRONMENT => ROLE ARN' per line, e.g. 'prod => arn:aws:iam::123456789012:role/web-deploy-prod'",
      )
    }
    assertSafeName(`input '${ROLE_INPUT}': environment`, name, ENVIRONMENT_RULE)
    if (roles.has(name.toLowerCase())) {
      throw new ConfigurationError(
        `input '${ROLE_INPUT}': environment ${describeValue(name)} has more than one line: give each environment one role`,
      )
    }
    roles.set(name.toLowerCase(), { environment: name, arn: validateRoleArn(ROLE_INPUT, arn) })
  }
  return roles
}

/** Reads and validates the common AWS inputs; the role is the one for input 'environment'. */
export function readAwsInputs(inputs: Inputs): AwsInputs {
  const roleToAssume = inputs.optional('role-to-assume')
  const roleSessionName = inputs.optional('role-session-name')
  const audience = inputs.string('audience', AWS_INPUT_DEFAULTS.audience)
  // The audience travels in a URL query and a token claim; keep it to what an OIDC
  // provider's client id can be.
  if (!/^[\w.:/@+=,-]{1,255}$/.test(audience)) {
    throw new ConfigurationError(
      `input 'audience': ${describeValue(audience)} is not valid: ` +
        "use the audience the IAM OIDC provider lists, e.g. 'sts.amazonaws.com'",
    )
  }
  return {
    region: inputs.optional('aws-region'),
    roleToAssume:
      roleToAssume === undefined
        ? undefined
        : roleForEnvironment(roleToAssume, inputs.optional('environment')),
    roleSessionName:
      roleSessionName === undefined
        ? undefined
        : validateSessionName('role-session-name', roleSessionName),
    roleDurationSeconds: inputs.integer(
      'role-duration-seconds',
      AWS_INPUT_DEFAULTS['role-duration-seconds'],
      {
        min: MIN_ROLE_DURATION_SECONDS,
        max: MAX_ROLE_DURATION_SECONDS,
      },
    ),
    audience,
  }
}

/** The HTTP status in @actions/core's "Failed to get ID Token … Error Code : 401" message. */
function tokenRequestStatus(error: unknown): number | undefined {
  const match = /Error Code\s*:\s*(\d{3})/.exec(errorMessage(error))
  return match ? Number(match[1]) : undefined
}

/** Options of {@link getGitHubIdToken}. */
export interface IdTokenOptions {
  env?: NodeJS.ProcessEnv
  logger?: Logger
  /** Overrides for tests (sleep, attempts). */
  retry?: Partial<Omit<RetryOptions, 'label'>>
}

/**
 * Gets a GitHub OIDC token for `audience` with core.getIDToken, retried with backoff on
 * outages (not on 4xx refusals, except 429). A job without `id-token: write` has no
 * ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN: that is an error showing the permissions block.
 */
export async function getGitHubIdToken(
  audience: string,
  options: IdTokenOptions = {},
): Promise<string> {
  const env = options.env ?? process.env
  const missing = ['ACTIONS_ID_TOKEN_REQUEST_URL', 'ACTIONS_ID_TOKEN_REQUEST_TOKEN'].filter(
    name => !env[name],
  )
  if (missing.length > 0) throw missingIdTokenPermissionError(`${missing.join(' and ')} not set`)
  const token = await retryWithBackoff(() => core.getIDToken(audience), {
    label: 'getting the GitHub OIDC token',
    attempts: 5,
    baseDelayMs: 500,
    maxDelayMs: 8000,
    retryable: error => {
      const status = tokenRequestStatus(error)
      return status === undefined || status >= 500 || status === 429
    },
    ...(options.logger ? { logger: options.logger } : {}),
    ...options.retry,
  }).catch((error: unknown) => {
    const status = tokenRequestStatus(error)
    if (status === 401 || status === 403) {
      throw missingIdTokenPermissionError(`the token service answered ${status}`)
    }
    throw error
  })
  core.setSecret(token)
  return token
}

/** Masks every secret part of a set of credentials in the runner's log. */
export function maskCredentials(credentials: AwsCredentialIdentity): void {
  core.setSecret(credentials.accessKeyId)
  core.setSecret(credentials.secretAccessKey)
  if (credentials.sessionToken) core.setSecret(credentials.sessionToken)
}

/** Options of {@link awsClientsFromInputs}. */
export interface AwsClientsOptions {
  /** The action's name, for the user agent. */
  component: string
  /** See AwsClientOptions.requestChecksumCalculation. */
  requestChecksumCalculation?: 'WHEN_SUPPORTED' | 'WHEN_REQUIRED'
  /** The AWS inputs when the caller has read them already; else read from `inputs`. */
  aws?: AwsInputs
  inputs?: Inputs
  env?: NodeJS.ProcessEnv
  logger?: Logger
}

/**
 * Reads the common AWS inputs and returns a client factory. With `role-to-assume`, the role
 * is assumed here and now (so a refusal fails the step at once, with a message that says
 * what to fix), its credentials are masked before anything else touches them, and they live
 * only in this process: never in the environment, an output or the log. Without it, the
 * SDK's default provider chain is used (configure-aws-credentials keeps working).
 */
export async function awsClientsFromInputs(options: AwsClientsOptions): Promise<AwsClientFactory> {
  const env = options.env ?? process.env
  const logger = options.logger ?? runnerLogger
  const aws = options.aws ?? readAwsInputs(options.inputs ?? new Inputs())
  const region = resolveRegion(aws.region, env)
  const maxAttempts = resolveMaxAttempts(undefined, env)
  const settings = {
    region,
    maxAttempts,
    component: options.component,
    requestChecksumCalculation: options.requestChecksumCalculation,
  }
  if (aws.roleToAssume === undefined) return new AwsClientFactory(settings)
  const base = new AwsClientFactory(settings)
  const credentials = webIdentityCredentials({
    roleArn: aws.roleToAssume,
    sessionName:
      aws.roleSessionName ??
      defaultSessionName({
        repository: env.GITHUB_REPOSITORY,
        runId: env.GITHUB_RUN_ID,
        runAttempt: env.GITHUB_RUN_ATTEMPT,
      }),
    durationSeconds: aws.roleDurationSeconds,
    getToken: () => getGitHubIdToken(aws.audience, { env, logger }),
    clientConfig: base.config,
    onCredentials: maskCredentials,
    logger,
  })
  await credentials()
  return new AwsClientFactory({ ...settings, credentials })
}
