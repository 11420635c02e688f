// A local STS endpoint answering AssumeRoleWithWebIdentity in the real query/XML protocol,
// so the unmodified SDK (AWS_ENDPOINT_URL_STS) and the AWS CLI can assume roles against it.
// It verifies the OIDC token like AWS does: signature, issuer and the provider's audiences
// (InvalidIdentityToken), then the role's trust policy on `aud` and `sub` (AccessDenied).
import { randomBytes, randomUUID, type KeyObject } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { evaluate, type PolicyDocument, wildcardMatch } from './iam-policy.js'
import { verifyJwt } from './jwt.js'

const XMLNS = 'https://sts.amazonaws.com/doc/2011-06-15/'

/**
 * A role that trusts the GitHub OIDC provider: either through `audience` and `subject`, or
 * through a real trust policy document evaluated like IAM does.
 */
export interface StsRole {
  /** arn:aws:iam::123456789012:role/deploy */
  arn: string
  /** Allowed `aud` values (StringEquals). Ignored with `trustPolicy`. */
  audience?: string | string[]
  /** Allowed `sub` patterns (StringLike: '*' any run of characters, '?' one character). */
  subject?: string | string[]
  /**
   * The role's trust policy (e.g. docs/iam/deploy-role-trust-policy.json, filled in): the
   * token's `aud` and `sub` are its `<provider>:aud` / `<provider>:sub` condition keys.
   */
  trustPolicy?: PolicyDocument
  /**
   * The role's identity policy. Requests signed with credentials issued for this role are
   * authorised against it (SSM, EC2 and S3 in the sandbox); without it they may do anything.
   */
  policy?: PolicyDocument
  /** Longest session the role allows, in seconds (IAM's default is 3600). */
  maxSessionDuration?: number
}

/**
 * The OIDC identity provider the account trusts (IAM's `oidc-provider/<issuer host>`): its
 * issuer and the key its tokens are signed with. GitHub's token service stand-in
 * (dev/github-runner's OidcServer) is one.
 */
export interface IdentityProvider {
  /** The `iss` of its tokens, e.g. https://token.actions.githubusercontent.com. */
  issuer: string
  publicKey: KeyObject
}

/** Options of {@link startSts}. */
export interface StsOptions {
  roles: StsRole[]
  /** Whose tokens AssumeRoleWithWebIdentity accepts. */
  identityProvider: IdentityProvider
  /** The provider's client-id list; default ['sts.amazonaws.com']. */
  providerAudiences?: string[]
  /** Called with every key pair issued (to register it with s3rver, for example). */
  onIssue?: (credentials: IssuedCredentials, role: StsRole, sessionArn: string) => void
  /** Answer 400 Throttling to this many requests first. */
  throttleFirst?: number
}

/** Credentials the server handed out. */
export interface IssuedCredentials {
  accessKeyId: string
  secretAccessKey: string
  sessionToken: string
  expiration: Date
}

/** One AssumeRoleWithWebIdentity call and how it was answered. */
export interface StsCall {
  action: string
  roleArn: string
  roleSessionName: string
  durationSeconds: number | undefined
  /** The HTTP status of the answer, and the error code when it failed. */
  status: number
  code: string | undefined
  subject: string | undefined
  userAgent: string | undefined
}

/** A running STS stand-in. */
export interface StsServer {
  /** Set as AWS_ENDPOINT_URL_STS. */
  url: string
  calls: StsCall[]
  issued: IssuedCredentials[]
  close(): Promise<void>
}

const escapeXml = (text: string): string => text.replace(/[<>&'"]/g, c => `&#${c.charCodeAt(0)};`)

class StsError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of request) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

function send(response: ServerResponse, status: number, xml: string): void {
  response.writeHead(status, { 'content-type': 'text/xml', 'x-amzn-requestid': randomUUID() })
  response.end(`<?xml version="1.0" encoding="UTF-8"?>\n${xml}`)
}

function errorXml(error: StsError): string {
  const type = error.status >= 500 ? 'Receiver' : 'Sender'
  return (
    `<ErrorResponse xmlns="${XMLNS}"><Error><Type>${type}</Type><Code>${error.code}</Code>` +
    `<Message>${escapeXml(error.message)}</Message></Error>` +
    `<RequestId>${randomUUID()}</RequestId></ErrorResponse>`
  )
}

const list = (value: string | string[] | undefined): string[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value]

/** Whether the role trusts a verified token with these `aud` values and this `sub`. */
function trusts(role: StsRole, issuer: string, audiences: string[], subject: string): boolean {
  if (!role.trustPolicy) {
    return (
      audiences.some(a => list(role.audience).includes(a)) &&
      list(role.subject).some(pattern => wildcardMatch(pattern, subject))
    )
  }
  const provider = issuer.replace(/^https:\/\//, '')
  const account = /^arn:aws[\w-]*:iam::(\d{12}):/.exec(role.arn)?.[1] ?? '000000000000'
  const decision = evaluate(
    { identity: [], resource: [role.trustPolicy] },
    {
      action: 'sts:AssumeRoleWithWebIdentity',
      resource: role.arn,
      principal: `arn:aws:iam::${account}:oidc-provider/${provider}`,
      context: { [`${provider}:aud`]: audiences, [`${provider}:sub`]: subject },
    },
  )
  return decision.effect === 'allow'
}

/** Starts the STS stand-in on 127.0.0.1 on a free port. */
export async function startSts(options: StsOptions): Promise<StsServer> {
  const { issuer, publicKey } = options.identityProvider
  const providerAudiences = options.providerAudiences ?? ['sts.amazonaws.com']
  const calls: StsCall[] = []
  const issued: IssuedCredentials[] = []
  let throttlesLeft = options.throttleFirst ?? 0

  const assume = (params: URLSearchParams, call: StsCall): string => {
    if (throttlesLeft > 0) {
      throttlesLeft--
      throw new StsError(400, 'Throttling', 'Rate exceeded')
    }
    const token = params.get('WebIdentityToken') ?? ''
    const session = call.roleSessionName
    if (!/^[\w+=,.@-]{2,64}$/.test(session)) {
      throw new StsError(
        400,
        'ValidationError',
        `1 validation error detected: Value '${session}' at 'roleSessionName' failed to satisfy ` +
          'constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]* and have length 2 to 64',
      )
    }
    let claims: Record<string, unknown>
    try {
      claims = verifyJwt(token, publicKey)
    } catch (error) {
      throw new StsError(400, 'InvalidIdentityToken', (error as Error).message)
    }
    if (claims.iss !== issuer) {
      throw new StsError(
        400,
        'InvalidIdentityToken',
        `No OpenIDConnect provider found in your account for ${String(claims.iss)}`,
      )
    }
    const audiences = list((claims.aud ?? []) as string | string[])
    if (!audiences.some(a => providerAudiences.includes(a))) {
      throw new StsError(400, 'InvalidIdentityToken', 'Incorrect token audience')
    }
    const subject = typeof claims.sub === 'string' ? claims.sub : ''
    call.subject = subject
    const role = options.roles.find(r => r.arn === call.roleArn)
    if (!role || !trusts(role, issuer, audiences, subject)) {
      throw new StsError(
        403,
        'AccessDenied',
        'Not authorized to perform sts:AssumeRoleWithWebIdentity',
      )
    }
    const duration = call.durationSeconds ?? 3600
    const max = role.maxSessionDuration ?? 3600
    if (duration < 900 || duration > max) {
      throw new StsError(
        400,
        'ValidationError',
        duration > max
          ? 'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.'
          : `1 validation error detected: Value '${duration}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900`,
      )
    }
    const credentials: IssuedCredentials = {
      accessKeyId: `ASIA${randomBytes(8).toString('hex').toUpperCase()}`,
      secretAccessKey: randomBytes(30).toString('base64'),
      sessionToken: randomBytes(96).toString('base64'),
      expiration: new Date(Math.floor(Date.now() / 1000 + duration) * 1000),
    }
    const [, account = '000000000000', roleName = 'role'] =
      /^arn:aws[\w-]*:iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(role.arn) ?? []
    issued.push(credentials)
    options.onIssue?.(
      credentials,
      role,
      `arn:aws:sts::${account}:assumed-role/${roleName}/${session}`,
    )
    const audience = audiences[0] ?? ''
    return (
      `<AssumeRoleWithWebIdentityResponse xmlns="${XMLNS}"><AssumeRoleWithWebIdentityResult>` +
      `<SubjectFromWebIdentityToken>${escapeXml(subject)}</SubjectFromWebIdentityToken>` +
      `<Audience>${escapeXml(audience)}</Audience>` +
      `<AssumedRoleUser><Arn>arn:aws:sts::${account}:assumed-role/${escapeXml(roleName)}/${escapeXml(session)}</Arn>` +
      `<AssumedRoleId>AROA${randomBytes(8).toString('hex').toUpperCase()}:${escapeXml(session)}</AssumedRoleId></AssumedRoleUser>` +
      `<Credentials><AccessKeyId>${credentials.accessKeyId}</AccessKeyId>` +
      `<SecretAccessKey>${escapeXml(credentials.secretAccessKey)}</SecretAccessKey>` +
      `<SessionToken>${escapeXml(credentials.sessionToken)}</SessionToken>` +
      `<Expiration>${credentials.expiration.toISOString()}</Expiration></Credentials>` +
      `<Provider>arn:aws:iam::${account}:oidc-provider/${escapeXml(issuer.replace(/^https:\/\//, ''))}</Provider>` +
      `</AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId>` +
      `</ResponseMetadata></AssumeRoleWithWebIdentityResponse>`
    )
  }

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1')
    // The query protocol sends a form body on POST; GET puts the same in the query string.
    const params =
      request.method === 'POST' ? new URLSearchParams(await readBody(request)) : url.searchParams
    const duration = params.get('DurationSeconds')
    const call: StsCall = {
      action: params.get('Action') ?? '',
      roleArn: params.get('RoleArn') ?? '',
      roleSessionName: params.get('RoleSessionName') ?? '',
      durationSeconds: duration === null ? undefined : Number(duration),
      status: 200,
      code: undefined,
      subject: undefined,
      userAgent: request.headers['user-agent'],
    }
    calls.push(call)
    try {
      if (call.action !== 'AssumeRoleWithWebIdentity') {
        throw new StsError(
          400,
          'InvalidAction',
          `Could not find operation ${call.action} for version 2011-06-15`,
        )
      }
      send(response, 200, assume(params, call))
    } catch (error) {
      const failure =
        error instanceof StsError ? error : new StsError(500, 'InternalFailure', String(error))
      call.status = failure.status
      call.code = failure.code
      send(response, failure.status, errorXml(failure))
    }
  }

  const server = createServer((request, response) => void handle(request, response))
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    issued,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections()
        server.close(error => (error ? reject(error) : resolve()))
      }),
  }
}
