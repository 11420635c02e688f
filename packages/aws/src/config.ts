import type { AwsCredentialIdentityProvider } from '@aws-sdk/types'
import { ConfigurationError, describeValue } from '../../kit/src/index.js'
import { SUITE_NAME, SUITE_VERSION } from './version.js'

/** AWS region names: us-east-1, eu-central-2, us-gov-west-1, cn-north-1, … */
const REGION_PATTERN = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/

/** Attempts per AWS call (the first one included) unless AWS_MAX_ATTEMPTS says otherwise. */
export const DEFAULT_MAX_ATTEMPTS = 5

/**
 * The region: the `aws-region` input, else AWS_REGION, else AWS_DEFAULT_REGION. Having none
 * is an error that says how to set one; a malformed one names where it came from.
 */
export function resolveRegion(input: string | undefined, env: NodeJS.ProcessEnv): string {
  const candidates: [string, string | undefined][] = [
    ["input 'aws-region'", input],
    ['AWS_REGION', env.AWS_REGION],
    ['AWS_DEFAULT_REGION', env.AWS_DEFAULT_REGION],
  ]
  for (const [source, raw] of candidates) {
    const value = raw?.trim()
    if (!value) continue
    if (!REGION_PATTERN.test(value)) {
      throw new ConfigurationError(
        `${source}: ${describeValue(value)} is not an AWS region: use a name such as 'us-east-1' or 'eu-central-1'`,
      )
    }
    return value
  }
  throw new ConfigurationError(
    "no AWS region: set input 'aws-region' (for example 'eu-central-1'), " +
      'or the AWS_REGION environment variable for the job',
  )
}

/**
 * Attempts per call: `requested` when given, else the SDK's own AWS_MAX_ATTEMPTS variable,
 * else {@link DEFAULT_MAX_ATTEMPTS}.
 */
export function resolveMaxAttempts(requested: number | undefined, env: NodeJS.ProcessEnv): number {
  if (requested !== undefined) {
    if (!Number.isSafeInteger(requested) || requested < 1 || requested > 20) {
      throw new ConfigurationError(`max attempts ${requested} is not valid: use 1 to 20`)
    }
    return requested
  }
  const raw = env.AWS_MAX_ATTEMPTS?.trim()
  if (!raw) return DEFAULT_MAX_ATTEMPTS
  if (!/^\d{1,2}$/.test(raw) || Number(raw) < 1 || Number(raw) > 20) {
    throw new ConfigurationError(
      `AWS_MAX_ATTEMPTS: ${describeValue(raw)} is not valid: use a whole number from 1 to 20`,
    )
  }
  return Number(raw)
}

/** Options of {@link AwsClientFactory}. */
export interface AwsClientOptions {
  /** The resolved region (see {@link resolveRegion}). */
  region: string
  /** Undefined: the SDK's default provider chain (env, profile, web identity file, IMDS…). */
  credentials?: AwsCredentialIdentityProvider | undefined
  /** Attempts per call, standard retry mode. */
  maxAttempts: number
  /** Names the calling action in the user agent, e.g. 's3-upload'. */
  component?: string | undefined
  /**
   * When the SDK adds a CRC32 checksum to request bodies (S3). Default: the SDK's
   * ('WHEN_SUPPORTED'). s3-upload uses 'WHEN_REQUIRED': its own sha256 of the bytes sent is
   * checked end to end by the host, TLS protects the transfer, and the extra pass cost about
   * a quarter of the upload time in bench/s3-upload.
   */
  requestChecksumCalculation?: 'WHEN_SUPPORTED' | 'WHEN_REQUIRED' | undefined
}

/** The configuration every client gets; endpoints are left to the SDK's AWS_ENDPOINT_URL_*. */
export interface AwsClientConfig {
  region: string
  credentials?: AwsCredentialIdentityProvider
  maxAttempts: number
  retryMode: 'standard'
  customUserAgent: [string, string][]
  requestChecksumCalculation?: 'WHEN_SUPPORTED' | 'WHEN_REQUIRED'
}

/** A client class of SDK v3 (S3Client, SSMClient, …) constructed from a config object. */
export type AwsClientClass<C> = new (config: AwsClientConfig) => C

/**
 * Builds SDK v3 clients with the suite's settings: region, credentials, standard retries,
 * and a user agent naming the suite. It never sets an endpoint: the SDK reads
 * AWS_ENDPOINT_URL_<SERVICE> (and AWS_ENDPOINT_URL) itself, so LocalStack-style setups and
 * the sandbox need no code of their own. Clients are made on demand and shared.
 */
export class AwsClientFactory {
  readonly config: AwsClientConfig
  private readonly clients = new Map<unknown, unknown>()

  constructor(options: AwsClientOptions) {
    const userAgent: [string, string][] = [[SUITE_NAME, SUITE_VERSION]]
    if (options.component) userAgent.push(['action', options.component])
    this.config = {
      region: options.region,
      ...(options.credentials ? { credentials: options.credentials } : {}),
      maxAttempts: options.maxAttempts,
      retryMode: 'standard',
      customUserAgent: userAgent,
      ...(options.requestChecksumCalculation
        ? { requestChecksumCalculation: options.requestChecksumCalculation }
        : {}),
    }
  }

  /** The one client of this class, created on first use: `factory.client(S3Client)`. */
  client<C>(ClientClass: AwsClientClass<C>): C {
    let client = this.clients.get(ClientClass) as C | undefined
    if (client === undefined) {
      client = new ClientClass(this.config)
      this.clients.set(ClientClass, client)
    }
    return client
  }

  /** Closes the sockets of every client made so far. */
  destroy(): void {
    for (const client of this.clients.values()) {
      ;(client as { destroy?: () => void }).destroy?.()
    }
    this.clients.clear()
  }
}
