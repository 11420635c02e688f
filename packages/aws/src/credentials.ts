import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@aws-sdk/types'
import { ConfigurationError, describeValue, type Logger } from '../../kit/src/index.js'
import { translateStsError } from './errors.js'
import type { AwsClientConfig } from './config.js'

/** What STS accepts as a RoleSessionName. */
export const SESSION_NAME_PATTERN = /^[\w+=,.@-]{2,64}$/
export const SESSION_NAME_RULE = "use 2 to 64 letters, digits and '_+=,.@-'"

/** IAM role ARNs in every partition: arn:aws:iam::123456789012:role/path/name. */
const ROLE_ARN_PATTERN = /^arn:aws(-[a-z]+)*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/

/** The duration STS grants by default and the bounds it accepts, in seconds. */
export const DEFAULT_ROLE_DURATION_SECONDS = 3600
export const MIN_ROLE_DURATION_SECONDS = 900
export const MAX_ROLE_DURATION_SECONDS = 43_200

/** Checks `role-to-assume`: a full role ARN, since a bare name cannot say which account. */
export function validateRoleArn(input: string, value: string): string {
  if (!ROLE_ARN_PATTERN.test(value)) {
    throw new ConfigurationError(
      `input '${input}': ${describeValue(value)} is not valid: ` +
        'use the full role ARN, e.g. arn:aws:iam::123456789012:role/deploy',
    )
  }
  return value
}

/** Checks an explicit session name against STS's pattern. */
export function validateSessionName(input: string, value: string): string {
  if (!SESSION_NAME_PATTERN.test(value)) {
    throw new ConfigurationError(
      `input '${input}': ${describeValue(value)} is not valid: ${SESSION_NAME_RULE}`,
    )
  }
  return value
}

/**
 * A session name from the repository and the run, so CloudTrail shows which run acted:
 * `gha-<run id>-<attempt>-<owner>-<repo>`. Characters STS refuses become '_'; the name is
 * cut to 64 characters from the end of the repository part, so the run id always survives.
 */
export function defaultSessionName(context: {
  repository?: string | undefined
  runId?: string | undefined
  runAttempt?: string | undefined
}): string {
  const clean = (text: string): string => text.replace(/[^\w+=,.@-]/g, '_')
  const run = clean(`${context.runId || 'local'}-${context.runAttempt || '1'}`)
  const repository = clean((context.repository || 'unknown').replace('/', '-'))
  return `gha-${run}-${repository}`.slice(0, 64)
}

/** Options of {@link webIdentityCredentials}. */
export interface WebIdentityOptions {
  roleArn: string
  sessionName: string
  durationSeconds: number
  /** Returns a fresh OIDC token; called for each assumption, never logged. */
  getToken: () => Promise<string>
  /** The factory's config: region, retries and user agent for the STS call. */
  clientConfig: Pick<AwsClientConfig, 'region' | 'maxAttempts' | 'retryMode' | 'customUserAgent'>
  /**
   * Called with every new set of credentials before anything else sees them: the runner
   * glue masks them here.
   */
  onCredentials?: (credentials: AwsCredentialIdentity) => void
  logger?: Logger
}

/** Credentials are renewed this long before they expire. */
const REFRESH_MARGIN_MS = 5 * 60_000

/**
 * A credential provider that assumes `roleArn` with AssumeRoleWithWebIdentity (through
 * `@aws-sdk/credential-providers`' fromWebToken), fed by `getToken`. The result is shared by
 * every client and renewed shortly before it expires. STS refusals become ConfigurationErrors
 * that say which trust-policy condition to check and what the token claimed.
 */
export function webIdentityCredentials(options: WebIdentityOptions): AwsCredentialIdentityProvider {
  let current: Promise<AwsCredentialIdentity> | undefined
  let expiresAt = 0
  const assume = async (): Promise<AwsCredentialIdentity> => {
    const token = await options.getToken()
    const { fromWebToken } = await import('@aws-sdk/credential-providers')
    let credentials: AwsCredentialIdentity
    try {
      credentials = await fromWebToken({
        roleArn: options.roleArn,
        roleSessionName: options.sessionName,
        durationSeconds: options.durationSeconds,
        webIdentityToken: token,
        // Only these fields: the STS call itself is unsigned and must not recurse into us.
        clientConfig: {
          region: options.clientConfig.region,
          maxAttempts: options.clientConfig.maxAttempts,
          retryMode: options.clientConfig.retryMode,
          customUserAgent: options.clientConfig.customUserAgent,
        },
      })()
    } catch (error) {
      throw translateStsError(error, { roleArn: options.roleArn, token })
    }
    options.onCredentials?.(credentials)
    expiresAt = credentials.expiration?.getTime() ?? Number.POSITIVE_INFINITY
    options.logger?.info(
      `Assumed ${options.roleArn} as session ${options.sessionName}` +
        (credentials.expiration ? ` until ${credentials.expiration.toISOString()}` : ''),
    )
    return credentials
  }
  return () => {
    if (current === undefined || Date.now() >= expiresAt - REFRESH_MARGIN_MS) {
      // Until this assumption settles, every caller shares it.
      expiresAt = Number.POSITIVE_INFINITY
      const attempt = assume()
      current = attempt
      // A failed assumption is not cached: the next call tries again.
      attempt.catch(() => {
        if (current === attempt) current = undefined
      })
    }
    return current
  }
}
