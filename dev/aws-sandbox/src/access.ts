/**
 * Who signed a request, and what their role's policy lets them do. The STS stand-in
 * registers every key pair it issues for a role that has a `policy`; requests signed with
 * such a key are authorised with the IAM evaluator. Any other key (the sandbox's default
 * credentials) is allowed everything, so the sandbox stays open unless a test asks for IAM.
 */
import type { IncomingMessage } from 'node:http'
import type { Fleet } from './instances.js'
import { ServiceError } from './protocol.js'
import {
  type AuthorizationRequest,
  type Decision,
  denialMessage,
  evaluate,
  type PolicyDocument,
} from './iam-policy.js'

/** A principal holding issued credentials. */
export interface SessionPrincipal {
  /** arn:aws:iam::123456789012:role/deploy-dev */
  roleArn: string
  /** arn:aws:sts::123456789012:assumed-role/deploy-dev/<session>: the `User:` of denials. */
  sessionArn: string
  policy: PolicyDocument
}

/** A refused request, and AWS's words for the refusal. */
export interface Denial {
  request: AuthorizationRequest
  message: string
}

/** The access key id of a SigV4 request: Authorization header, or a presigned URL's query. */
export function accessKeyOf(request: IncomingMessage): string | undefined {
  const header = request.headers.authorization
  const fromHeader = typeof header === 'string' ? /Credential=([^/,\s]+)\//.exec(header) : null
  if (fromHeader) return fromHeader[1]
  const query = new URL(request.url ?? '/', 'http://sandbox').searchParams
  return query.get('X-Amz-Credential')?.split('/')[0] ?? undefined
}

/** The principals the sandbox knows, and the resource policies in force. */
export class AccessControl {
  private readonly principals = new Map<string, SessionPrincipal>()
  /** Bucket name → bucket policy. */
  readonly bucketPolicies = new Map<string, PolicyDocument>()

  /** Credentials issued with `accessKeyId` act as `principal`. */
  register(accessKeyId: string, principal: SessionPrincipal): void {
    this.principals.set(accessKeyId, principal)
  }

  /** The principal that signed `request`; undefined for credentials without a policy. */
  principalOf(request: IncomingMessage): SessionPrincipal | undefined {
    const key = accessKeyOf(request)
    return key === undefined ? undefined : this.principals.get(key)
  }

  /**
   * The first of `requests` that `principal`'s policy (with the bucket's policy, when given)
   * does not allow; undefined when all are allowed.
   */
  firstDenial(
    principal: SessionPrincipal,
    requests: AuthorizationRequest[],
    bucket?: string,
  ): Denial | undefined {
    const bucketPolicy = bucket === undefined ? undefined : this.bucketPolicies.get(bucket)
    for (const request of requests) {
      const asked = { ...request, principal: principal.sessionArn }
      const decision: Decision = evaluate(
        { identity: [principal.policy], resource: bucketPolicy ? [bucketPolicy] : [] },
        asked,
      )
      if (decision.effect !== 'allow')
        return { request: asked, message: denialMessage(principal.sessionArn, asked, decision) }
    }
    return undefined
  }
}

/** The refusal message for the first of `requests` the signer of `request` may not make. */
function denialFor(
  access: AccessControl,
  request: IncomingMessage,
  requests: AuthorizationRequest[],
): string | undefined {
  const principal = access.principalOf(request)
  return principal && access.firstDenial(principal, requests)?.message
}

/** The EC2 front end's hook: UnauthorizedOperation (403) for a call the signer may not make. */
export function ec2Authorizer(access: AccessControl) {
  return (operation: string, request: IncomingMessage): void => {
    const denial = denialFor(access, request, [{ action: `ec2:${operation}`, resource: '*' }])
    if (denial) {
      const message = `You are not authorized to perform this operation. ${denial}`
      throw new ServiceError('UnauthorizedOperation', message, 403)
    }
  }
}

/** The SSM front end's hook: AccessDeniedException (400) for a call the signer may not make. */
export function ssmAuthorizer(
  access: AccessControl,
  fleet: Fleet,
  where: { region: string; accountId: string },
) {
  return (operation: string, request: IncomingMessage, input: Record<string, unknown>): void => {
    const denial = denialFor(access, request, ssmRequests(operation, input, fleet, where))
    if (denial) throw new ServiceError('AccessDeniedException', denial, 400)
  }
}

/**
 * The IAM requests of an SSM operation: SendCommand and CreateAssociation name their document
 * and each instance.
 */
export function ssmRequests(
  operation: string,
  input: Record<string, unknown>,
  fleet: Fleet,
  where: { region: string; accountId: string },
): AuthorizationRequest[] {
  const action = `ssm:${operation}`
  if (operation !== 'SendCommand' && operation !== 'CreateAssociation')
    return [{ action, resource: '*' }]
  const named = operation === 'SendCommand' ? input.DocumentName : input.Name
  const document = typeof named === 'string' ? named : ''
  const documentArn = document.startsWith('arn:')
    ? document
    : `arn:aws:ssm:${where.region}::document/${document}`
  const ids = Array.isArray(input.InstanceIds)
    ? input.InstanceIds.map(String)
    : typeof input.InstanceId === 'string'
      ? [input.InstanceId]
      : []
  const instanceArn = (id: string) =>
    `arn:aws:ec2:${where.region}:${where.accountId}:instance/${id}`
  // Targets select by tag: AWS authorises against every instance, known only after the lookup.
  const instances = ids.length > 0 ? ids : ['*']
  return [
    { action, resource: documentArn },
    ...instances.map(id => ({
      action,
      resource: instanceArn(id),
      context: Object.fromEntries(
        [...(fleet.get(id)?.tags ?? [])].map(([key, value]) => [`ssm:resourceTag/${key}`, value]),
      ),
    })),
  ]
}

/**
 * The ELBv2 front end's hook: AccessDenied (403) for a call the signer may not make.
 * RegisterTargets and DeregisterTargets act on the target group's ARN; the Describe calls
 * take no resource-level permissions, so they are asked for on `*`.
 */
export function elbv2Authorizer(access: AccessControl) {
  return (operation: string, request: IncomingMessage, params: URLSearchParams): void => {
    const onGroup = operation === 'RegisterTargets' || operation === 'DeregisterTargets'
    const resource = (onGroup && params.get('TargetGroupArn')) || '*'
    const denial = denialFor(access, request, [
      { action: `elasticloadbalancing:${operation}`, resource },
    ])
    if (denial) throw new ServiceError('AccessDenied', denial, 403)
  }
}
