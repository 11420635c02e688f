// A local stand-in for GitHub's OIDC token service (ACTIONS_ID_TOKEN_REQUEST_URL): it signs
// RS256 JWTs with GitHub's claim layout, for the audience asked in `?audience=`, and only
// for callers presenting the bearer token (ACTIONS_ID_TOKEN_REQUEST_TOKEN).
import { generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/** GitHub's issuer. */
export const GITHUB_ISSUER = 'https://token.actions.githubusercontent.com'

/** Options of {@link startOidcServer}. */
export interface OidcServerOptions {
  /** The bearer token callers must present (ACTIONS_ID_TOKEN_REQUEST_TOKEN). */
  requestToken: string
  /** The `sub` claim, e.g. 'repo:octo-org/octo-repo:environment:prod'. */
  subject: string
  /** Default: GitHub's issuer. */
  issuer?: string
  /** More claims (repository, ref, run_id…), merged over the defaults. */
  claims?: Record<string, unknown>
  /** Token lifetime; GitHub's are a few minutes. */
  lifetimeSeconds?: number
  /** Answer 500 to this many requests first (an outage the caller should retry through). */
  failFirst?: number
}

/** One request the server answered. */
export interface OidcRequest {
  audience: string | undefined
  authorized: boolean
  status: number
}

/** The variables through which a job step reaches the token service, as on a runner. */
export interface OidcEnv {
  ACTIONS_ID_TOKEN_REQUEST_URL: string
  ACTIONS_ID_TOKEN_REQUEST_TOKEN: string
}

/** A running token service. */
export interface OidcServer {
  /** Set as ACTIONS_ID_TOKEN_REQUEST_URL (it carries a query, as GitHub's does). */
  url: string
  /** Set as ACTIONS_ID_TOKEN_REQUEST_TOKEN. */
  requestToken: string
  /** Both, to merge into a step's environment. */
  env: OidcEnv
  issuer: string
  /**
   * Verifies the tokens this server signs: with `issuer`, what an STS that trusts this
   * provider is given (the AWS sandbox's `sts.identityProvider`).
   */
  publicKey: KeyObject
  /**
   * Signs a token as the service would, with `claims` merged over its claims: the token
   * another workflow file, environment or repository would get (`sub`, `job_workflow_ref`…).
   */
  sign(claims: Record<string, unknown>, audience?: string): string
  requests: OidcRequest[]
  close(): Promise<void>
}

const base64url = (data: Buffer | string): string => Buffer.from(data).toString('base64url')

/** Signs a JWT with RS256. */
export function signJwt(
  claims: Record<string, unknown>,
  privateKey: KeyObject,
  kid: string,
): string {
  const header = base64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid }))
  const payload = base64url(JSON.stringify(claims))
  const signature = sign('sha256', Buffer.from(`${header}.${payload}`), privateKey)
  return `${header}.${payload}.${base64url(signature)}`
}

function json(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' })
  response.end(JSON.stringify(body))
}

/** Starts the token service on 127.0.0.1 on a free port. */
export async function startOidcServer(options: OidcServerOptions): Promise<OidcServer> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const kid = randomUUID()
  const issuer = options.issuer ?? GITHUB_ISSUER
  const lifetime = options.lifetimeSeconds ?? 300
  const requests: OidcRequest[] = []
  let failuresLeft = options.failFirst ?? 0

  const sign = (extra: Record<string, unknown>, audience: string | undefined): string => {
    const now = Math.floor(Date.now() / 1000)
    const repository = 'octo-org/octo-repo'
    const claims = {
      jti: randomUUID(),
      sub: options.subject,
      aud: audience ?? `https://github.com/${repository.split('/')[0]}`,
      ref: 'refs/heads/master',
      sha: '0123456789abcdef0123456789abcdef01234567',
      repository,
      repository_owner: repository.split('/')[0],
      run_id: '1234567890',
      run_attempt: '1',
      event_name: 'push',
      iss: issuer,
      nbf: now - 5,
      iat: now - 5,
      exp: now + lifetime,
      ...extra,
    }
    return signJwt(claims, privateKey, kid)
  }

  const handle = (request: IncomingMessage, response: ServerResponse): void => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1')
    const audience = url.searchParams.get('audience') ?? undefined
    const authorized = request.headers.authorization === `Bearer ${options.requestToken}`
    const answer = (status: number, body: unknown): void => {
      requests.push({ audience, authorized, status })
      json(response, status, body)
    }
    if (request.method !== 'GET' || url.pathname !== '/token') {
      answer(404, { message: 'not found' })
    } else if (failuresLeft > 0) {
      failuresLeft--
      answer(500, { message: 'the token service is unavailable' })
    } else if (!authorized) {
      answer(401, { message: 'bad bearer token' })
    } else {
      answer(200, { value: sign(options.claims ?? {}, audience) })
    }
  }

  const server = createServer(handle)
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const url = `http://127.0.0.1:${port}/token?api-version=2.0`
  return {
    url,
    requestToken: options.requestToken,
    env: {
      ACTIONS_ID_TOKEN_REQUEST_URL: url,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: options.requestToken,
    },
    issuer,
    publicKey,
    sign: (claims, audience = 'sts.amazonaws.com') =>
      sign({ ...options.claims, ...claims }, audience),
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections()
        server.close(error => (error ? reject(error) : resolve()))
      }),
  }
}
