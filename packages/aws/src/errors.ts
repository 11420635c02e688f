import { ConfigurationError, describeValue, errorMessage } from '../../kit/src/index.js'

/** The workflow permissions a job needs to get a GitHub OIDC token. */
export const ID_TOKEN_PERMISSIONS_BLOCK = [
  'permissions:',
  '  id-token: write',
  '  contents: read',
].join('\n')

/** The error for a job that was given no OIDC token (no `id-token: write`). */
export function missingIdTokenPermissionError(detail?: string): ConfigurationError {
  return new ConfigurationError(
    "input 'role-to-assume' is set, but this job cannot get a GitHub OIDC token" +
      (detail ? ` (${detail})` : '') +
      '. Add this to the job (or the workflow):\n\n' +
      `${ID_TOKEN_PERMISSIONS_BLOCK}\n\n` +
      'Pull requests from forks never get a token; for those, leave role-to-assume empty.',
  )
}

/** A GitHub `sub` is at most a few hundred characters; longer is shown cut. */
const MAX_SUBJECT_SHOWN = 1024

/** The claims of a JWT that help explain a refusal; the signature is neither read nor checked. */
export interface TokenClaims {
  sub?: string
  aud?: string | string[]
  iss?: string
}

/**
 * Decodes the payload of a JWT (the middle part) for error messages. Only `sub`, `aud` and
 * `iss` are kept; the token itself must never be logged. Undefined when it is not a JWT.
 */
export function decodeTokenClaims(token: string): TokenClaims | undefined {
  const payload = token.split('.')[1]
  if (payload === undefined) return undefined
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as unknown
    if (typeof claims !== 'object' || claims === null) return undefined
    const { sub, aud, iss } = claims as Record<string, unknown>
    return {
      ...(typeof sub === 'string' ? { sub } : {}),
      ...(typeof aud === 'string' || Array.isArray(aud) ? { aud: aud as string | string[] } : {}),
      ...(typeof iss === 'string' ? { iss } : {}),
    }
  } catch {
    return undefined
  }
}

/** The `name`/`Code` of an SDK error, or '' for anything else. */
export function awsErrorCode(error: unknown): string {
  if (typeof error !== 'object' || error === null) return ''
  const { name, Code, code } = error as { name?: unknown; Code?: unknown; code?: unknown }
  for (const candidate of [Code, name, code]) {
    if (typeof candidate === 'string' && candidate !== 'Error') return candidate
  }
  return ''
}

/** The HTTP status of an SDK error, when there was a response. */
export function awsHttpStatus(error: unknown): number | undefined {
  const metadata = (error as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata
  return metadata?.httpStatusCode
}

const NO_CREDENTIALS_HINT =
  "set input 'role-to-assume' (GitHub OIDC), or run aws-actions/configure-aws-credentials " +
  'in an earlier step'

/**
 * Errors that mean "no usable credentials at all", whatever the service: said once, the same
 * way, for every action.
 */
export function translateCredentialError(error: unknown): ConfigurationError | undefined {
  const code = awsErrorCode(error)
  const message = errorMessage(error)
  if (code === 'CredentialsProviderError' || /Could not load credentials/i.test(message)) {
    return new ConfigurationError(`no AWS credentials were found: ${NO_CREDENTIALS_HINT}`)
  }
  if (code === 'InvalidAccessKeyId' || code === 'InvalidClientTokenId') {
    return new ConfigurationError(
      `AWS does not know the access key in use (${code}): ${NO_CREDENTIALS_HINT}, and check that no stale AWS_ACCESS_KEY_ID is set`,
    )
  }
  if (code === 'ExpiredToken' || code === 'ExpiredTokenException') {
    return new ConfigurationError(
      `the AWS credentials have expired (${code}): raise 'role-duration-seconds' or assume the role closer to this step`,
    )
  }
  if (code === 'SignatureDoesNotMatch') {
    return new ConfigurationError(
      `AWS rejected the request signature (${code}): the secret key does not belong to the access key; ${NO_CREDENTIALS_HINT}`,
    )
  }
  return undefined
}

// AWS's own refusal names the principal and the resource it refused: shown whole, not cut.
const MAX_AWS_DETAIL_SHOWN = 1000

/**
 * Turns a failed AssumeRoleWithWebIdentity into an error that says what to fix: for
 * AccessDenied, the trust policy's `aud` and `sub` conditions next to what this token
 * claims. The token is only decoded, never shown.
 */
export function translateStsError(
  error: unknown,
  context: { roleArn: string; token: string },
): Error {
  const code = awsErrorCode(error)
  const claims = decodeTokenClaims(context.token) ?? {}
  // In full: a trust policy compares the whole sub with StringEquals, so a cut one is no help.
  const sub = claims.sub === undefined ? '(none)' : describeValue(claims.sub, MAX_SUBJECT_SHOWN)
  const aud =
    claims.aud === undefined
      ? '(none)'
      : (Array.isArray(claims.aud) ? claims.aud : [claims.aud])
          .map(a => describeValue(a))
          .join(', ')
  const iss = claims.iss ?? 'https://token.actions.githubusercontent.com'
  const provider = iss.replace(/^https:\/\//, '')
  const role = describeValue(context.roleArn)
  const detail = errorMessage(error)
  if (code === 'AccessDenied' || code === 'AccessDeniedException') {
    return new ConfigurationError(
      `AWS refused to let this workflow assume role ${role} (AccessDenied: ${detail}). ` +
        `The role's trust policy must allow sts:AssumeRoleWithWebIdentity for the federated ` +
        `principal of ${provider}, with StringEquals conditions equal to this token's claims:\n` +
        `  "${provider}:aud" (StringEquals) must allow this token's aud ${aud}\n` +
        `  "${provider}:sub" (StringEquals) must equal this token's sub ${sub}\n` +
        'The sub names the repository and what ran it (environment:<name> for jobs with an ' +
        'environment, ref:refs/heads/<branch> otherwise, then :job_workflow_ref:<workflow>@<ref> ' +
        "when the repository's OIDC subject is customised); compare it with the trust policy " +
        `of role ${role} character for character (docs/iam/README.md).`,
    )
  }
  if (code === 'InvalidIdentityToken' || code === 'InvalidIdentityTokenException') {
    return new ConfigurationError(
      `AWS did not accept the GitHub OIDC token for role ${role} (${code}: ${detail}). ` +
        `The account needs an IAM OIDC identity provider for ${iss} whose audiences ` +
        `include this token's aud ${aud} (input 'audience').`,
    )
  }
  if (code === 'ValidationError' && /DurationSeconds/i.test(detail)) {
    return new ConfigurationError(
      `role ${role} refused the session duration (${detail}): lower input ` +
        "'role-duration-seconds' or raise the role's maximum session duration",
    )
  }
  if (code === 'ValidationError') {
    return new ConfigurationError(`AssumeRoleWithWebIdentity for role ${role} failed: ${detail}`)
  }
  return error instanceof Error ? error : new Error(detail)
}

/** The S3 operation that failed and the IAM action it needs. */
export interface S3Operation {
  /** API name: PutObject, HeadObject, ListObjectsV2, … */
  operation: string
  bucket: string
  key?: string | undefined
  /** Set when the object is encrypted with a KMS key, which needs KMS permissions too. */
  kmsKeyId?: string | undefined
}

const S3_ACTIONS: Record<string, string> = {
  PutObject: 's3:PutObject',
  CreateMultipartUpload: 's3:PutObject',
  UploadPart: 's3:PutObject',
  CompleteMultipartUpload: 's3:PutObject',
  AbortMultipartUpload: 's3:AbortMultipartUpload',
  HeadObject: 's3:GetObject',
  GetObject: 's3:GetObject',
  ListObjectsV2: 's3:ListBucket',
}

/**
 * Turns an S3 failure into an error that says what to fix: for AccessDenied, the bucket,
 * key and IAM action (on the exact resource ARN); for a missing bucket or a wrong region,
 * what to change. Other errors pass through unchanged.
 */
export function translateS3Error(error: unknown, context: S3Operation): Error {
  const credentialError = translateCredentialError(error)
  if (credentialError) return credentialError
  const code = awsErrorCode(error)
  const status = awsHttpStatus(error)
  const action = S3_ACTIONS[context.operation] ?? `s3:${context.operation}`
  const where =
    context.key === undefined
      ? `bucket ${describeValue(context.bucket)}`
      : `s3://${context.bucket}/${context.key}`
  const resource =
    action === 's3:ListBucket' || context.key === undefined
      ? `arn:aws:s3:::${context.bucket}`
      : `arn:aws:s3:::${context.bucket}/${context.key}`
  if (code === 'AccessDenied' || code === 'Forbidden' || status === 403) {
    // A HEAD answer has no body, so S3 cannot say why it refused.
    const bodiless = code !== 'AccessDenied'
    const extra: string[] = []
    if (context.operation === 'HeadObject') {
      extra.push(
        `without s3:ListBucket on arn:aws:s3:::${context.bucket}, S3 answers 403 instead of 404 for a missing key`,
      )
    }
    if (context.kmsKeyId !== undefined) {
      extra.push(
        `with SSE-KMS it also needs kms:GenerateDataKey and kms:Decrypt on ${describeValue(context.kmsKeyId)}`,
      )
    }
    if (bodiless) {
      extra.push(
        'the answer had no error code, so the credentials themselves may also be invalid ' +
          "(check 'role-to-assume', or the keys configure-aws-credentials set)",
      )
    }
    return new ConfigurationError(
      `access denied: ${context.operation} on ${describeValue(where)} (${bodiless ? `HTTP ${status ?? 403}` : code}). ` +
        `The role needs ${action} on ${describeValue(resource)}` +
        (extra.length > 0 ? `; ${extra.join('; ')}` : '') +
        '. The bucket policy must not deny it either.',
    )
  }
  if (code === 'NoSuchBucket') {
    return new ConfigurationError(
      `bucket ${describeValue(context.bucket)} does not exist: create it, or fix input 'bucket'`,
    )
  }
  if (code === 'PermanentRedirect' || code === 'AuthorizationHeaderMalformed' || status === 301) {
    return new ConfigurationError(
      `bucket ${describeValue(context.bucket)} is in another region than the one in use (${code || status}): ` +
        "set input 'aws-region' to the bucket's region",
    )
  }
  return error instanceof Error ? error : new Error(errorMessage(error))
}

/** The SSM, EC2 or ELBv2 call that failed, and what it was about. */
export interface FleetOperation {
  /** API name: SendCommand, DescribeInstances, RegisterTargets, … */
  operation: string
  /** The region the client used. */
  region: string
  /** The instances the call named, if any. */
  instanceIds?: readonly string[] | undefined
}

const FLEET_ACTIONS: Record<string, string> = {
  SendCommand: 'ssm:SendCommand',
  ListCommandInvocations: 'ssm:ListCommandInvocations',
  GetCommandInvocation: 'ssm:GetCommandInvocation',
  CancelCommand: 'ssm:CancelCommand',
  DescribeInstanceInformation: 'ssm:DescribeInstanceInformation',
  DescribeInstances: 'ec2:DescribeInstances',
  DescribeTargetGroups: 'elasticloadbalancing:DescribeTargetGroups',
  DescribeTargetGroupAttributes: 'elasticloadbalancing:DescribeTargetGroupAttributes',
  DescribeTargetHealth: 'elasticloadbalancing:DescribeTargetHealth',
  RegisterTargets: 'elasticloadbalancing:RegisterTargets',
  DeregisterTargets: 'elasticloadbalancing:DeregisterTargets',
}

/** Why a refused call was refused, beyond the missing action, where the policy scopes it. */
const SCOPED_BY_POLICY: Record<string, string> = {
  SendCommand:
    'The deploy role may send commands only to instances whose tags match the conditions ' +
    'of its policy (docs/iam/deploy-role-policy.json): each instance needs DeployApp=<app> ' +
    'and DeployEnvironment=<environment> with the values the role allows, and the role ' +
    'needs ssm:SendCommand on the document AWS-RunShellScript too. Check the tags of each ' +
    "instance, and that 'role-to-assume' is this environment's role.",
  RegisterTargets: targetGroupScope('elasticloadbalancing:RegisterTargets'),
  DeregisterTargets: targetGroupScope('elasticloadbalancing:DeregisterTargets'),
}

function targetGroupScope(action: string): string {
  return (
    `The deploy role needs ${action} on the target group, and its policy ` +
    '(docs/iam/deploy-role-policy.json) allows it only on the target groups of its app and ' +
    "environment (targetgroup/APP_NAME-ENVIRONMENT/*). Check that input 'target-group-arns' " +
    "names this environment's target groups, and that 'role-to-assume' is this environment's role."
  )
}

/** The host name of a DNS failure (`getaddrinfo ENOTFOUND host`), or undefined. */
function unresolvedHost(error: unknown): string | undefined {
  const { code, hostname } = (error ?? {}) as { code?: unknown; hostname?: unknown }
  const match = /getaddrinfo ENOTFOUND (\S+)/.exec(errorMessage(error))
  if (code !== 'ENOTFOUND' && !match) return undefined
  return typeof hostname === 'string' ? hostname : (match?.[1] ?? '(unknown host)')
}

/**
 * An endpoint that does not resolve almost always means a region that does not exist (a
 * typo such as 'eu-centrall-1'): say so, naming the region and the host.
 */
export function translateUnreachableEndpoint(
  error: unknown,
  region: string,
): ConfigurationError | undefined {
  const host = unresolvedHost(error)
  if (host === undefined) return undefined
  return new ConfigurationError(
    `cannot reach ${describeValue(host)} (getaddrinfo ENOTFOUND): region ${describeValue(region)} is ` +
      "probably wrong; check input 'aws-region' (or AWS_REGION) against the regions AWS lists, " +
      "e.g. 'us-east-1' or 'eu-central-1'",
  )
}

/**
 * Turns a failed SSM, EC2 or ELBv2 call into an error that says what to fix: a refused
 * SendCommand names the tag conditions of the deploy role's policy, a refused RegisterTargets
 * or DeregisterTargets the target groups it is scoped to, an InvalidInstanceId names the
 * instances SSM cannot reach and why, a name that does not resolve names the region. Other
 * errors pass through unchanged.
 */
export function translateFleetError(error: unknown, context: FleetOperation): Error {
  const known =
    translateCredentialError(error) ?? translateUnreachableEndpoint(error, context.region)
  if (known) return known
  const code = awsErrorCode(error)
  const detail = errorMessage(error)
  const ids = context.instanceIds ?? []
  const instances = ids.length > 0 ? ` (instances ${ids.join(', ')})` : ''
  if (code === 'InvalidInstanceId' || code === 'InvalidInstanceIdException') {
    return new ConfigurationError(
      `SSM refused the instances of ${context.operation}${instances} in region ${context.region} ` +
        `(InvalidInstanceId: ${describeValue(detail, MAX_AWS_DETAIL_SHOWN)}): an instance must be running, not terminated, and ` +
        'managed by SSM (agent running, instance profile with AmazonSSMManagedInstanceCore), in ' +
        "this region. find-instance with 'require-ssm-online: true' lists only such instances.",
    )
  }
  if (/^(AccessDenied|AccessDeniedException|UnauthorizedOperation)$/.test(code)) {
    const action = FLEET_ACTIONS[context.operation] ?? context.operation
    const why =
      SCOPED_BY_POLICY[context.operation] ??
      `The role needs ${action} (see docs/iam/deploy-role-policy.json).`
    return new ConfigurationError(
      `access denied: ${context.operation}${instances} in region ${context.region} (${code}: ` +
        `${describeValue(detail, MAX_AWS_DETAIL_SHOWN)}). ${why}`,
    )
  }
  return error instanceof Error ? error : new Error(detail)
}

/** An SDK v3 client, as far as error messages need it. */
export interface RegionalClient {
  config: { region: () => Promise<string> }
}

/** Runs one SSM, EC2 or ELBv2 call; a failure is thrown as {@link translateFleetError} explains it. */
export async function explainFleetCall<T>(
  client: RegionalClient,
  operation: string,
  instanceIds: readonly string[],
  call: () => Promise<T>,
): Promise<T> {
  try {
    return await call()
  } catch (error) {
    const region = await client.config.region().catch(() => '(unknown)')
    throw translateFleetError(error, { operation, region, instanceIds })
  }
}
