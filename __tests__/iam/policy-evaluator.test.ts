// The sandbox's IAM evaluator: the evaluation rules the attack tests rely on, and the tag
// guardrail (SCP / permission boundary) template, which the sandbox has no EC2 tagging API
// to exercise end to end.
import { describe, expect, it } from '@jest/globals'
import {
  denialMessage,
  evaluate,
  type AuthorizationRequest,
  type PolicyDocument,
  type RequestContext,
} from '../../dev/aws-sandbox/src/index.js'
import { ACCOUNT_ID, APP, BUCKET, instantiate, TAG_ADMIN_ROLE } from './templates.js'

const allow = (statement: Record<string, unknown>): PolicyDocument => ({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', ...statement }],
})
const effect = (policy: PolicyDocument, request: AuthorizationRequest) =>
  evaluate({ identity: [policy] }, request).effect

describe('evaluate', () => {
  const request: AuthorizationRequest = { action: 's3:GetObject', resource: 'arn:aws:s3:::b/k' }

  it('denies what no statement allows, and an explicit Deny beats any Allow', () => {
    expect(evaluate({ identity: [] }, request)).toEqual({
      effect: 'implicit-deny',
      by: 'identity-based policy',
    })
    const both: PolicyDocument = {
      Statement: [
        { Effect: 'Allow', Action: 's3:*', Resource: '*' },
        { Effect: 'Deny', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*' },
      ],
    }
    expect(evaluate({ identity: [both] }, request)).toEqual({
      effect: 'explicit-deny',
      by: 'identity-based policy',
    })
  })

  it('matches actions case-insensitively and with wildcards, resources case-sensitively', () => {
    expect(effect(allow({ Action: 'S3:Get*', Resource: 'arn:aws:s3:::b/?' }), request)).toBe(
      'allow',
    )
    expect(effect(allow({ Action: 's3:GetObject', Resource: 'arn:aws:s3:::B/k' }), request)).toBe(
      'implicit-deny',
    )
    expect(effect(allow({ NotAction: 's3:Put*', Resource: '*' }), request)).toBe('allow')
    expect(effect(allow({ Action: '*', NotResource: 'arn:aws:s3:::b/*' }), request)).toBe(
      'implicit-deny',
    )
  })

  it('requires every operator and key of a condition, and any value of a key', () => {
    const policy = allow({
      Action: 'ssm:SendCommand',
      Resource: '*',
      Condition: {
        StringEquals: {
          'ssm:resourceTag/DeployApp': 'web',
          'ssm:resourceTag/DeployEnvironment': ['dev', 'qa'],
        },
      },
    })
    const send = (tags: Record<string, string>) =>
      effect(policy, {
        action: 'ssm:SendCommand',
        resource: 'arn:aws:ec2:us-east-1:1:instance/i-1',
        context: Object.fromEntries(
          Object.entries(tags).map(([k, v]) => [`ssm:resourceTag/${k}`, v]),
        ),
      })
    expect(send({ DeployApp: 'web', DeployEnvironment: 'qa' })).toBe('allow')
    expect(send({ DeployApp: 'web', DeployEnvironment: 'prod' })).toBe('implicit-deny')
    expect(send({ DeployApp: 'web' })).toBe('implicit-deny')
    expect(send({ DeployApp: 'Web', DeployEnvironment: 'dev' })).toBe('implicit-deny')
  })

  it('treats a missing key as IAM does', () => {
    const on = (condition: Record<string, Record<string, string | string[]>>) =>
      effect(allow({ Action: '*', Resource: '*', Condition: condition }), {
        ...request,
        context: { present: 'x' },
      })
    expect(on({ StringEquals: { absent: 'x' } })).toBe('implicit-deny')
    expect(on({ StringLike: { absent: '*' } })).toBe('implicit-deny')
    expect(on({ StringNotEquals: { absent: 'x' } })).toBe('allow')
    expect(on({ ArnNotLike: { absent: 'arn:*' } })).toBe('allow')
    expect(on({ StringEqualsIfExists: { absent: 'y' } })).toBe('allow')
    expect(on({ Null: { absent: 'true' } })).toBe('allow')
    expect(on({ Null: { present: 'true' } })).toBe('implicit-deny')
    expect(on({ Null: { present: 'false' } })).toBe('allow')
    expect(on({ 'ForAnyValue:StringEquals': { absent: 'x' } })).toBe('implicit-deny')
    // The trap the templates avoid: ForAllValues holds when the key is missing.
    expect(on({ 'ForAllValues:StringEquals': { absent: 'x' } })).toBe('allow')
  })

  it('reads Bool, ArnLike part by part, and ForAnyValue/ForAllValues over many values', () => {
    const on = (
      condition: Record<string, Record<string, string | string[]>>,
      context: RequestContext,
    ) =>
      effect(allow({ Action: '*', Resource: '*', Condition: condition }), { ...request, context })
    expect(on({ Bool: { flag: 'true' } }, { flag: true })).toBe('allow')
    expect(on({ Bool: { flag: 'true' } }, { flag: false })).toBe('implicit-deny')
    const role = 'arn:aws:iam::123456789012:role/tag-admin'
    expect(on({ ArnLike: { p: 'arn:aws:iam::*:role/tag-admin' } }, { p: role })).toBe('allow')
    expect(on({ ArnLike: { p: 'arn:aws:iam::*:role/tag-*' } }, { p: role })).toBe('allow')
    expect(on({ ArnLike: { p: 'arn:aws:iam::*:role/tag-admin' } }, { p: `${role}x` })).toBe(
      'implicit-deny',
    )
    expect(on({ ArnNotLike: { p: 'arn:aws:iam::*:role/tag-admin' } }, { p: role })).toBe(
      'implicit-deny',
    )
    const keys = { k: ['Name', 'DeployApp'] }
    expect(
      on({ 'ForAnyValue:StringEquals': { k: ['DeployApp', 'DeployEnvironment'] } }, keys),
    ).toBe('allow')
    expect(
      on({ 'ForAllValues:StringEquals': { k: ['DeployApp', 'DeployEnvironment'] } }, keys),
    ).toBe('implicit-deny')
  })

  it('refuses to guess an operator it does not know', () => {
    const policy = allow({ Action: '*', Resource: '*', Condition: { DateGreaterThan: { t: '1' } } })
    expect(() => effect(policy, { ...request, context: { t: '2' } })).toThrow(
      /does not know operator DateGreaterThan/,
    )
  })

  it('combines identity, resource and guardrail policies within one account', () => {
    const identity = allow({ Action: 's3:GetObject', Resource: '*' })
    const bucketAllows: PolicyDocument = {
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: 'arn:aws:sts::1:assumed-role/reader/*' },
          Action: 's3:GetObject',
          Resource: '*',
        },
      ],
    }
    const asReader = { ...request, principal: 'arn:aws:sts::1:assumed-role/reader/s' }
    const asOther = { ...request, principal: 'arn:aws:sts::1:assumed-role/other/s' }
    expect(evaluate({ identity: [], resource: [bucketAllows] }, asReader).effect).toBe('allow')
    expect(evaluate({ identity: [], resource: [bucketAllows] }, asOther).effect).toBe(
      'implicit-deny',
    )
    const bucketDenies: PolicyDocument = {
      Statement: [{ Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: '*' }],
    }
    expect(evaluate({ identity: [identity], resource: [bucketDenies] }, asOther)).toEqual({
      effect: 'explicit-deny',
      by: 'resource-based policy',
    })
    // A guardrail must allow too: an SCP that allows only EC2 bounds an S3 allow.
    const ec2Only = allow({ Action: 'ec2:*', Resource: '*' })
    expect(evaluate({ identity: [identity], guardrails: [ec2Only] }, request)).toEqual({
      effect: 'implicit-deny',
      by: 'service control policy',
    })
  })

  it('words denials as AWS does', () => {
    const principal = 'arn:aws:sts::1:assumed-role/deploy-dev/s'
    expect(
      denialMessage(principal, request, { effect: 'implicit-deny', by: 'identity-based policy' }),
    ).toBe(
      'User: arn:aws:sts::1:assumed-role/deploy-dev/s is not authorized to perform: s3:GetObject ' +
        'on resource: arn:aws:s3:::b/k because no identity-based policy allows the s3:GetObject action',
    )
    expect(
      denialMessage(
        principal,
        { action: 'ec2:DescribeInstances', resource: '*' },
        {
          effect: 'explicit-deny',
          by: 'service control policy',
        },
      ),
    ).toBe(
      'User: arn:aws:sts::1:assumed-role/deploy-dev/s is not authorized to perform: ' +
        'ec2:DescribeInstances with an explicit deny in a service control policy',
    )
  })
})

describe('docs/iam/deploy-tags-guardrail.json (as an SCP)', () => {
  const scp = instantiate('deploy-tags-guardrail.json', 'prod')
  // Everyone here holds an identity policy that allows all of EC2: only the guardrail stops them.
  const ec2Admin = allow({ Action: 'ec2:*', Resource: '*' })
  const allowAll = allow({ Action: '*', Resource: '*' })
  const tag = (action: string, principalArn: string, tagKeys: string[]) =>
    evaluate(
      { identity: [ec2Admin], guardrails: [scp, allowAll] },
      {
        action,
        resource: `arn:aws:ec2:us-east-1:${ACCOUNT_ID}:instance/i-0123456789abcdef0`,
        context: { 'aws:PrincipalArn': principalArn, 'aws:TagKeys': tagKeys },
      },
    ).effect
  const developer = `arn:aws:iam::${ACCOUNT_ID}:role/developer`
  const deployDev = `arn:aws:iam::${ACCOUNT_ID}:role/webrtc-deploy-dev`
  const admin = `arn:aws:iam::${ACCOUNT_ID}:role/${TAG_ADMIN_ROLE}`

  it('denies a non-admin CreateTags or DeleteTags on DeployEnvironment or DeployApp', () => {
    expect(tag('ec2:CreateTags', developer, ['DeployEnvironment'])).toBe('explicit-deny')
    expect(tag('ec2:CreateTags', deployDev, ['DeployApp'])).toBe('explicit-deny')
    expect(tag('ec2:DeleteTags', developer, ['DeployEnvironment'])).toBe('explicit-deny')
  })

  it('catches the key hidden among others, and in another letter case', () => {
    expect(tag('ec2:CreateTags', developer, ['Name', 'DeployEnvironment'])).toBe('explicit-deny')
    expect(tag('ec2:CreateTags', developer, ['deployenvironment'])).toBe('explicit-deny')
  })

  it('lets the tag admin role change them, and anyone change other tags', () => {
    expect(tag('ec2:CreateTags', admin, ['DeployEnvironment'])).toBe('allow')
    expect(tag('ec2:CreateTags', developer, ['Name', 'Owner'])).toBe('allow')
    expect(tag('ec2:DescribeInstances', developer, [])).toBe('allow')
  })

  it('would leak with ForAllValues, which is why the template says ForAnyValue', () => {
    const text = JSON.stringify(scp).replace('ForAnyValue:', 'ForAllValues:')
    const leaky = JSON.parse(text) as PolicyDocument
    const decision = evaluate(
      { identity: [ec2Admin], guardrails: [leaky, allowAll] },
      {
        action: 'ec2:CreateTags',
        resource: '*',
        context: { 'aws:PrincipalArn': developer, 'aws:TagKeys': ['Name', 'DeployEnvironment'] },
      },
    )
    expect(decision.effect).toBe('allow')
  })
})

describe('docs/iam/instance-role-policy.json', () => {
  it("lets a prod host read prod's releases and nothing of dev's, nor write", () => {
    const prodHost = instantiate('instance-role-policy.json', 'prod')
    const read = (key: string, action = 's3:GetObject') =>
      evaluate({ identity: [prodHost] }, { action, resource: `arn:aws:s3:::${BUCKET}/${key}` })
        .effect
    expect(read(`${APP}/prod/v1.0.0.zip`)).toBe('allow')
    expect(read(`${APP}/dev/v1.0.0.zip`)).toBe('implicit-deny')
    expect(read(`${APP}/production/v1.0.0.zip`)).toBe('implicit-deny')
    expect(read(`${APP}/prod/v1.0.0.zip`, 's3:PutObject')).toBe('implicit-deny')
  })

  it("lets a prod host list prod's prefix (a missing desired.json is then a 404) and no other", () => {
    const prodHost = instantiate('instance-role-policy.json', 'prod')
    const list = (prefix: string | undefined) =>
      evaluate(
        { identity: [prodHost] },
        {
          action: 's3:ListBucket',
          resource: `arn:aws:s3:::${BUCKET}`,
          ...(prefix === undefined ? {} : { context: { 's3:prefix': prefix } }),
        },
      ).effect
    expect(list(`${APP}/prod/desired.json`)).toBe('allow')
    expect(list(`${APP}/prod/`)).toBe('allow')
    expect(list(`${APP}/dev/desired.json`)).toBe('implicit-deny')
    expect(list(`${APP}/production/`)).toBe('implicit-deny')
    expect(list(undefined)).toBe('implicit-deny')
  })
})
