// What a deploy job on a GitHub runner reaches: the AWS sandbox, and GitHub's OIDC token
// service beside it, the sandbox's STS trusting the service's tokens. The two stand-ins know
// nothing of each other; this is where the tests put them together (the demo does the same).
import {
  startSandbox,
  type Sandbox,
  type SandboxEnv,
  type SandboxOptions,
  type StsRole,
} from '../../dev/aws-sandbox/src/index.js'
import {
  startOidcServer,
  type OidcEnv,
  type OidcServer,
  type OidcServerOptions,
} from '../../dev/github-runner/src/index.js'

export interface SandboxWithOidcOptions extends Omit<SandboxOptions, 'sts'> {
  /** The job's tokens: their `sub` and other claims (the request token has a default). */
  oidc: Omit<OidcServerOptions, 'requestToken'> & { requestToken?: string }
  /** STS's roles, trusting the token service. */
  sts: { roles: StsRole[]; providerAudiences?: string[] }
}

export interface SandboxWithOidc extends Sandbox {
  oidc: OidcServer
  /** The sandbox's AWS variables and the token service's ACTIONS_ID_TOKEN_* ones. */
  env: SandboxEnv & OidcEnv
}

/** Starts the token service, then the sandbox trusting it; `close()` stops both (once). */
export async function startSandboxWithOidc(
  options: SandboxWithOidcOptions,
): Promise<SandboxWithOidc> {
  const { oidc: tokens, sts, ...aws } = options
  const oidc = await startOidcServer({ requestToken: 'sandbox-request-token', ...tokens })
  let sandbox: Sandbox
  try {
    sandbox = await startSandbox({ ...aws, sts: { ...sts, identityProvider: oidc } })
  } catch (error) {
    await oidc.close()
    throw error
  }
  let closed = false
  return {
    ...sandbox,
    oidc,
    env: { ...sandbox.env, ...oidc.env },
    close: async () => {
      if (closed) return
      closed = true
      await sandbox.close()
      await oidc.close()
    },
  }
}

/**
 * A job's variables with no static AWS keys, so only the credentials of a role assumed over
 * OIDC can sign a request; the run is octo-org/octo-repo's run 1234567890.
 */
export function roleOnlyEnv(sandbox: SandboxWithOidc): Record<string, string | undefined> {
  return {
    ...sandbox.env,
    AWS_ACCESS_KEY_ID: undefined,
    AWS_SECRET_ACCESS_KEY: undefined,
    GITHUB_REPOSITORY: 'octo-org/octo-repo',
    GITHUB_RUN_ID: '1234567890',
  }
}
