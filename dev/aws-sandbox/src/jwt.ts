// How STS checks a web identity token: an RS256 JWT signed with the identity provider's key,
// inside its time window. (The token service that signs them is the GitHub side's.)
import { verify, type KeyObject } from 'node:crypto'

/**
 * Checks an RS256 JWT's signature and time window and returns its claims; throws an Error
 * whose message says what is wrong.
 */
export function verifyJwt(
  token: string,
  publicKey: KeyObject,
  nowSeconds = Math.floor(Date.now() / 1000),
): Record<string, unknown> {
  const parts = token.split('.')
  if (parts.length !== 3) throw new Error('the token is not a JWT')
  const [header, payload, signature] = parts as [string, string, string]
  let alg: unknown
  let claims: Record<string, unknown>
  try {
    alg = (JSON.parse(Buffer.from(header, 'base64url').toString()) as { alg?: unknown }).alg
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>
  } catch {
    throw new Error('the token is not a JWT')
  }
  if (alg !== 'RS256') throw new Error(`unsupported token algorithm ${String(alg)}`)
  const valid = verify(
    'sha256',
    Buffer.from(`${header}.${payload}`),
    publicKey,
    Buffer.from(signature, 'base64url'),
  )
  if (!valid) throw new Error('the token signature is not valid')
  if (typeof claims.exp !== 'number' || claims.exp <= nowSeconds) {
    throw new Error('the token has expired')
  }
  if (typeof claims.nbf === 'number' && claims.nbf > nowSeconds + 60) {
    throw new Error('the token is not valid yet')
  }
  return claims
}
