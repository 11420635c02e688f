/**
 * A small IAM policy evaluator: enough of AWS's evaluation logic to test the suite's policy
 * templates for real. An explicit Deny in any policy wins; a guardrail (SCP or permission
 * boundary) must allow; then an identity or resource policy must allow. Actions and
 * resources take `*` and `?`; conditions take the operators below, with `ForAnyValue:` /
 * `ForAllValues:` and `…IfExists`, and treat a missing key as IAM does.
 */

/** A condition block: operator → key → value(s). */
export type PolicyCondition = Record<
  string,
  Record<string, string | boolean | (string | boolean)[]>
>

/** One statement of a policy document. */
export interface PolicyStatement {
  Sid?: string
  Effect: 'Allow' | 'Deny'
  Action?: string | string[]
  NotAction?: string | string[]
  Resource?: string | string[]
  NotResource?: string | string[]
  /** Resource policies only: `*`, or `{ AWS | Federated: arn | arn[] }`. */
  Principal?: '*' | Record<string, string | string[]>
  Condition?: PolicyCondition
}

/** An IAM policy document. */
export interface PolicyDocument {
  Version?: string
  Statement: PolicyStatement | PolicyStatement[]
}

/** Values of the request context; keys are matched case-insensitively, as IAM does. */
export type RequestContext = Record<string, string | string[] | boolean | undefined>

/** One authorization question: may this principal do `action` on `resource`? */
export interface AuthorizationRequest {
  action: string
  resource: string
  /** The principal's ARN (session, or identity provider), matched against resource policies. */
  principal?: string
  context?: RequestContext
}

/** The policies in force for a request. */
export interface PolicySet {
  identity: PolicyDocument[]
  /** Resource-based policies (a bucket policy). */
  resource?: PolicyDocument[]
  /**
   * The SCPs attached to the account (FullAWSAccess among them), or a permission boundary:
   * none may deny, and one must allow. Absent: no guardrail.
   */
  guardrails?: PolicyDocument[]
}

/** Where a decision came from, in the words AWS's AccessDenied messages use. */
export type PolicyKind =
  'identity-based policy' | 'resource-based policy' | 'service control policy'

/** The outcome of {@link evaluate}. */
export type Decision =
  | { effect: 'allow' }
  | { effect: 'explicit-deny'; by: PolicyKind }
  | { effect: 'implicit-deny'; by: PolicyKind }

const asList = <T>(value: T | T[] | undefined): T[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value]

/** IAM's wildcard match: `*` any run of characters, `?` exactly one. */
export function wildcardMatch(pattern: string, value: string, ignoreCase = false): boolean {
  const source = pattern
    .split('')
    .map(c => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('')
  return new RegExp(`^${source}$`, ignoreCase ? 'si' : 's').test(value)
}

/** ArnLike: the six colon-separated parts are matched one by one. */
function arnLike(pattern: string, value: string): boolean {
  const split = (arn: string) => {
    const parts = arn.split(':')
    return [...parts.slice(0, 5), parts.slice(5).join(':')]
  }
  const [p, v] = [split(pattern), split(value)]
  return p.length === v.length && p.every((part, index) => wildcardMatch(part, v[index] ?? ''))
}

type Matcher = (policyValue: string, requestValue: string) => boolean

const MATCHERS: Record<string, { match: Matcher; negated: boolean }> = {
  StringEquals: { match: (p, v) => p === v, negated: false },
  StringNotEquals: { match: (p, v) => p === v, negated: true },
  StringEqualsIgnoreCase: { match: (p, v) => p.toLowerCase() === v.toLowerCase(), negated: false },
  StringNotEqualsIgnoreCase: {
    match: (p, v) => p.toLowerCase() === v.toLowerCase(),
    negated: true,
  },
  StringLike: { match: (p, v) => wildcardMatch(p, v), negated: false },
  StringNotLike: { match: (p, v) => wildcardMatch(p, v), negated: true },
  ArnEquals: { match: (p, v) => p === v, negated: false },
  ArnNotEquals: { match: (p, v) => p === v, negated: true },
  ArnLike: { match: arnLike, negated: false },
  ArnNotLike: { match: arnLike, negated: true },
  Bool: { match: (p, v) => p.toLowerCase() === v.toLowerCase(), negated: false },
}

function contextValue(context: RequestContext, key: string): string[] | undefined {
  const wanted = key.toLowerCase()
  for (const [name, value] of Object.entries(context)) {
    if (name.toLowerCase() === wanted && value !== undefined) return asList(value).map(String)
  }
  return undefined
}

/** One operator on one key: true when the condition holds. */
function conditionHolds(
  operator: string,
  key: string,
  policyValues: string[],
  context: RequestContext,
): boolean {
  const values = contextValue(context, key)
  if (operator === 'Null') {
    const absent = values === undefined || values.length === 0
    return policyValues.some(p => (p.toLowerCase() === 'true') === absent)
  }
  const qualifier = /^(ForAnyValue|ForAllValues):/.exec(operator)?.[1]
  let name = qualifier ? operator.slice(qualifier.length + 1) : operator
  const ifExists = name.endsWith('IfExists')
  if (ifExists) name = name.slice(0, -'IfExists'.length)
  const matcher = MATCHERS[name]
  if (!matcher) throw new Error(`the sandbox's IAM evaluator does not know operator ${operator}`)
  const matchesOne = (value: string) => policyValues.some(p => matcher.match(p, value))
  if (values === undefined || values.length === 0) {
    // ForAllValues holds vacuously; negated operators hold on a missing key; the rest fail.
    if (qualifier === 'ForAllValues') return true
    if (qualifier === 'ForAnyValue') return false
    return ifExists || matcher.negated
  }
  if (qualifier === 'ForAllValues') {
    return values.every(v => (matcher.negated ? !matchesOne(v) : matchesOne(v)))
  }
  // ForAnyValue, and a single-valued operator given a multi-valued key: any value decides.
  return matcher.negated ? values.some(v => !matchesOne(v)) : values.some(matchesOne)
}

function conditionsHold(condition: PolicyCondition | undefined, context: RequestContext): boolean {
  return Object.entries(condition ?? {}).every(([operator, keys]) =>
    Object.entries(keys).every(([key, value]) =>
      conditionHolds(operator, key, asList(value).map(String), context),
    ),
  )
}

function principalMatches(statement: PolicyStatement, principal: string | undefined): boolean {
  const named = statement.Principal
  if (named === undefined || named === '*') return true
  // AWS (roles, users) or Federated (an identity provider, in a role's trust policy).
  const arns = Object.values(named).flatMap(value => asList(value as string | string[]))
  if (arns.includes('*')) return true
  return principal !== undefined && arns.some(arn => wildcardMatch(arn, principal))
}

function statementApplies(
  statement: PolicyStatement,
  request: AuthorizationRequest,
  isResourcePolicy: boolean,
): boolean {
  const actionMatches = (patterns: string[]) =>
    patterns.some(p => wildcardMatch(p, request.action, true))
  const resourceMatches = (patterns: string[]) =>
    patterns.some(p => wildcardMatch(p, request.resource))
  if (statement.Action !== undefined && !actionMatches(asList(statement.Action))) return false
  if (statement.NotAction !== undefined && actionMatches(asList(statement.NotAction))) return false
  if (statement.Resource !== undefined && !resourceMatches(asList(statement.Resource))) return false
  if (statement.NotResource !== undefined && resourceMatches(asList(statement.NotResource)))
    return false
  if (isResourcePolicy && !principalMatches(statement, request.principal)) return false
  return conditionsHold(statement.Condition, request.context ?? {})
}

/** The effects of the statements in `policies` that apply to the request. */
function effectsOf(
  policies: PolicyDocument[],
  request: AuthorizationRequest,
  isResourcePolicy = false,
): Set<'Allow' | 'Deny'> {
  const effects = new Set<'Allow' | 'Deny'>()
  for (const policy of policies) {
    for (const statement of asList(policy.Statement)) {
      if (statementApplies(statement, request, isResourcePolicy)) effects.add(statement.Effect)
    }
  }
  return effects
}

/** Decides one request as IAM does within one account. */
export function evaluate(policies: PolicySet, request: AuthorizationRequest): Decision {
  const identity = effectsOf(policies.identity, request)
  const resource = effectsOf(policies.resource ?? [], request, true)
  const guarded = policies.guardrails !== undefined
  const guardrails = effectsOf(policies.guardrails ?? [], request)
  if (guardrails.has('Deny')) return { effect: 'explicit-deny', by: 'service control policy' }
  if (resource.has('Deny')) return { effect: 'explicit-deny', by: 'resource-based policy' }
  if (identity.has('Deny')) return { effect: 'explicit-deny', by: 'identity-based policy' }
  if (guarded && !guardrails.has('Allow'))
    return { effect: 'implicit-deny', by: 'service control policy' }
  if (identity.has('Allow') || resource.has('Allow')) return { effect: 'allow' }
  return { effect: 'implicit-deny', by: 'identity-based policy' }
}

/** AWS's AccessDenied wording for a decision that is not `allow`. */
export function denialMessage(
  principal: string,
  request: AuthorizationRequest,
  decision: Exclude<Decision, { effect: 'allow' }>,
): string {
  const onResource = request.resource === '*' ? '' : ` on resource: ${request.resource}`
  const why =
    decision.effect === 'explicit-deny'
      ? `with an explicit deny in a ${decision.by}`
      : `because no ${decision.by} allows the ${request.action} action`
  return `User: ${principal} is not authorized to perform: ${request.action}${onResource} ${why}`
}
