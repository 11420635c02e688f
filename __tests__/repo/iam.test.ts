import { describe, expect, it } from '@jest/globals'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { evaluate, type AuthorizationRequest } from '../../dev/aws-sandbox/src/index.js'
import { ACCOUNT_ID, APP, BUCKET, instantiate, REGION, templateText } from '../iam/templates.js'
import { repoRoot } from '../support/bundled-action.js'

interface Statement {
  Sid?: string
  Effect: 'Allow' | 'Deny'
  Action: string | string[]
  Resource?: string | string[]
  NotResource?: string | string[]
  Principal?: unknown
  Condition?: Record<string, Record<string, string | string[]>>
}
interface Policy {
  Version: string
  Statement: Statement[]
}

const read = (name: string) =>
  JSON.parse(readFileSync(join(repoRoot, 'docs/iam', name), 'utf8')) as Policy
const list = (value: string | string[] | undefined) =>
  value === undefined ? [] : Array.isArray(value) ? value : [value]
const deploy = read('deploy-role-policy.json')
const trust = read('deploy-role-trust-policy.json')
const strictTrust = read('deploy-role-trust-policy-strict.json')
const instance = read('instance-role-policy.json')
const guardrail = read('deploy-tags-guardrail.json')
const bucketPolicy = read('artifact-bucket-policy.json')
const ALL_POLICIES = {
  'deploy-role-policy.json': deploy,
  'deploy-role-trust-policy.json': trust,
  'deploy-role-trust-policy-strict.json': strictTrust,
  'instance-role-policy.json': instance,
  'deploy-tags-guardrail.json': guardrail,
  'artifact-bucket-policy.json': bucketPolicy,
}

/** The IAM action each AWS call of the suite needs. Unknown calls fail the test below. */
const IAM_ACTION_OF: Record<string, string[]> = {
  PutObjectCommand: ['s3:PutObject'],
  GetObjectCommand: ['s3:GetObject'],
  HeadObjectCommand: ['s3:GetObject'],
  ListObjectsV2Command: ['s3:ListBucket'],
  // lib-storage's Upload: PutObject, or Create/UploadPart/Complete (s3:PutObject) and Abort.
  Upload: ['s3:PutObject', 's3:AbortMultipartUpload'],
  DescribeInstancesCommand: ['ec2:DescribeInstances'],
  DescribeInstanceInformationCommand: ['ssm:DescribeInstanceInformation'],
  SendCommandCommand: ['ssm:SendCommand'],
  ListCommandInvocationsCommand: ['ssm:ListCommandInvocations'],
  GetCommandInvocationCommand: ['ssm:GetCommandInvocation'],
  CancelCommandCommand: ['ssm:CancelCommand'],
  DescribeTargetGroupsCommand: ['elasticloadbalancing:DescribeTargetGroups'],
  DescribeTargetGroupAttributesCommand: ['elasticloadbalancing:DescribeTargetGroupAttributes'],
  DescribeTargetHealthCommand: ['elasticloadbalancing:DescribeTargetHealth'],
  RegisterTargetsCommand: ['elasticloadbalancing:RegisterTargets'],
  DeregisterTargetsCommand: ['elasticloadbalancing:DeregisterTargets'],
}

/** A target group of `app` in `environment`, named as the deploy role's policy expects. */
const targetGroupArn = (environment: string, app = APP) =>
  `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT_ID}:targetgroup/${app}-${environment}/0123456789abcdef`

/**
 * A request the suite makes for each IAM action, in environment `dev`: what the dev deploy
 * role must be allowed to do, checked with the sandbox's evaluator on the filled-in template.
 */
const DEV_REQUEST_OF: Record<string, AuthorizationRequest> = {
  's3:PutObject': {
    action: 's3:PutObject',
    resource: `arn:aws:s3:::${BUCKET}/${APP}/dev/deployments/20261201T120000Z-v1.0.0.json`,
    context: { 's3:if-none-match': '*', 's3:ObjectCreationOperation': true },
  },
  's3:GetObject': {
    action: 's3:GetObject',
    resource: `arn:aws:s3:::${BUCKET}/${APP}/dev/v1.0.0.zip`,
  },
  's3:AbortMultipartUpload': {
    action: 's3:AbortMultipartUpload',
    resource: `arn:aws:s3:::${BUCKET}/${APP}/dev/v1.0.0.zip`,
  },
  's3:ListBucket': {
    action: 's3:ListBucket',
    resource: `arn:aws:s3:::${BUCKET}`,
    context: { 's3:prefix': `${APP}/dev/deployments/` },
  },
  'ec2:DescribeInstances': { action: 'ec2:DescribeInstances', resource: '*' },
  'ssm:DescribeInstanceInformation': { action: 'ssm:DescribeInstanceInformation', resource: '*' },
  'ssm:SendCommand': {
    action: 'ssm:SendCommand',
    resource: `arn:aws:ec2:${REGION}:${ACCOUNT_ID}:instance/i-0123456789abcdef0`,
    context: { 'ssm:resourceTag/DeployApp': APP, 'ssm:resourceTag/DeployEnvironment': 'dev' },
  },
  'ssm:ListCommandInvocations': { action: 'ssm:ListCommandInvocations', resource: '*' },
  'ssm:GetCommandInvocation': { action: 'ssm:GetCommandInvocation', resource: '*' },
  'ssm:CancelCommand': { action: 'ssm:CancelCommand', resource: '*' },
  // The Describe calls of ELBv2 take no resource-level permissions: AWS asks for them on '*'.
  'elasticloadbalancing:DescribeTargetGroups': {
    action: 'elasticloadbalancing:DescribeTargetGroups',
    resource: '*',
  },
  'elasticloadbalancing:DescribeTargetGroupAttributes': {
    action: 'elasticloadbalancing:DescribeTargetGroupAttributes',
    resource: '*',
  },
  'elasticloadbalancing:DescribeTargetHealth': {
    action: 'elasticloadbalancing:DescribeTargetHealth',
    resource: '*',
  },
  'elasticloadbalancing:RegisterTargets': {
    action: 'elasticloadbalancing:RegisterTargets',
    resource: targetGroupArn('dev'),
  },
  'elasticloadbalancing:DeregisterTargets': {
    action: 'elasticloadbalancing:DeregisterTargets',
    resource: targetGroupArn('dev'),
  },
}

/** The AWS calls made by the shipped code (packages/ and actions/, not the sandbox). */
function awsCallsInSources(): string[] {
  const calls = new Set<string>()
  for (const top of ['packages', 'actions']) {
    const files = readdirSync(join(repoRoot, top), { recursive: true, encoding: 'utf8' }).filter(
      f => f.endsWith('.ts') && !f.startsWith('sandbox/'),
    )
    for (const file of files) {
      const text = readFileSync(join(repoRoot, top, file), 'utf8')
      for (const [, name] of text.matchAll(/new ([A-Z]\w*Command|Upload)\(/g))
        calls.add(name as string)
    }
  }
  return [...calls].sort()
}

const allows = (policy: Policy, action: string) =>
  policy.Statement.some(s => s.Effect === 'Allow' && list(s.Action).includes(action))

describe('the deploy role policy', () => {
  it('allows every AWS call the suite makes', () => {
    const calls = awsCallsInSources()
    expect(calls.length).toBeGreaterThan(5)
    for (const call of calls) {
      expect({ call, known: call in IAM_ACTION_OF }).toEqual({ call, known: true })
      for (const action of IAM_ACTION_OF[call] ?? [])
        expect({ call, action, allowed: allows(deploy, action) }).toMatchObject({ allowed: true })
    }
  })

  it('allows each of them, as the dev role, on dev resources (evaluated, with the bucket policy)', () => {
    const devRole = instantiate('deploy-role-policy.json', 'dev')
    const devBucket = instantiate('artifact-bucket-policy.json', 'dev')
    const actions = new Set(awsCallsInSources().flatMap(call => IAM_ACTION_OF[call] ?? []))
    actions.add('ssm:SendCommand')
    for (const action of actions) {
      const request = DEV_REQUEST_OF[action]
      expect({ action, known: request !== undefined }).toEqual({ action, known: true })
      const decision = evaluate({ identity: [devRole], resource: [devBucket] }, request!)
      expect({ action, decision }).toEqual({ action, decision: { effect: 'allow' } })
    }
    const document = `arn:aws:ssm:${REGION}::document/AWS-RunShellScript`
    expect(
      evaluate({ identity: [devRole] }, { action: 'ssm:SendCommand', resource: document }).effect,
    ).toBe('allow')
  })

  it('grants no wildcard action and nothing it does not need', () => {
    const needed = new Set(Object.values(IAM_ACTION_OF).flat())
    for (const statement of deploy.Statement) {
      for (const action of list(statement.Action)) {
        expect(action).not.toContain('*')
        expect(needed.has(action)).toBe(true)
      }
    }
  })

  it("keeps S3 to the environment's own prefix", () => {
    const s3Statements = deploy.Statement.filter(s => list(s.Action).some(a => a.startsWith('s3:')))
    expect(s3Statements.length).toBeGreaterThan(0)
    for (const statement of s3Statements) {
      for (const resource of list(statement.Resource))
        expect(resource).toMatch(/^arn:aws:s3:::ARTIFACT_BUCKET(\/APP_NAME\/ENVIRONMENT\/\*)?$/)
      if (list(statement.Action).includes('s3:ListBucket')) {
        expect(statement.Condition).toEqual({
          StringLike: { 's3:prefix': ['APP_NAME/ENVIRONMENT/*'] },
        })
      }
    }
  })

  it('sends only AWS-RunShellScript, and only to instances tagged with its app and environment', () => {
    const send = deploy.Statement.filter(s => list(s.Action).includes('ssm:SendCommand'))
    const resources = send.flatMap(s => list(s.Resource))
    expect(resources.filter(r => r.includes(':document/'))).toEqual([
      'arn:aws:ssm:REGION::document/AWS-RunShellScript',
    ])
    const onInstances = send.filter(s => list(s.Resource).some(r => r.includes(':instance/')))
    expect(onInstances).toHaveLength(1)
    expect(onInstances[0]?.Condition).toEqual({
      StringEquals: {
        'ssm:resourceTag/DeployApp': 'APP_NAME',
        'ssm:resourceTag/DeployEnvironment': 'ENVIRONMENT',
      },
    })
    expect(resources.every(r => r !== '*')).toBe(true)
  })

  it("drains and registers targets only in its app's and environment's target groups", () => {
    const changing = [
      'elasticloadbalancing:RegisterTargets',
      'elasticloadbalancing:DeregisterTargets',
    ]
    const statements = deploy.Statement.filter(s =>
      list(s.Action).some(a => a.startsWith('elasticloadbalancing:')),
    )
    for (const statement of statements) {
      const actions = list(statement.Action)
      if (actions.some(action => changing.includes(action))) {
        expect(actions.sort()).toEqual([...changing].sort())
        expect(statement.Resource).toBe(
          'arn:aws:elasticloadbalancing:REGION:ACCOUNT_ID:targetgroup/APP_NAME-ENVIRONMENT/*',
        )
      } else expect(actions.every(action => action.includes(':Describe'))).toBe(true)
    }
    const devRole = instantiate('deploy-role-policy.json', 'dev')
    for (const action of changing) {
      expect(
        evaluate({ identity: [devRole] }, { action, resource: targetGroupArn('dev') }),
      ).toEqual({
        effect: 'allow',
      })
      // Another environment's group, a group whose name only starts like dev's, another app's.
      for (const resource of [
        targetGroupArn('prod'),
        targetGroupArn('dev-2'),
        targetGroupArn('dev', 'other'),
        targetGroupArn('dev').replace(`:${REGION}:`, ':eu-west-1:'),
      ])
        expect({
          action,
          resource,
          effect: evaluate({ identity: [devRole] }, { action, resource }).effect,
        }).toEqual({
          action,
          resource,
          effect: 'implicit-deny',
        })
    }
  })
})

describe('the trust policy', () => {
  const statement = trust.Statement[0] as Statement
  it('trusts GitHub OIDC for one repository environment, with exact aud and sub', () => {
    expect(trust.Statement).toHaveLength(1)
    expect(statement.Action).toBe('sts:AssumeRoleWithWebIdentity')
    expect(statement.Principal).toEqual({
      Federated: 'arn:aws:iam::ACCOUNT_ID:oidc-provider/token.actions.githubusercontent.com',
    })
    expect(statement.Condition).toEqual({
      StringEquals: {
        'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com',
        'token.actions.githubusercontent.com:sub': 'repo:ORG/REPO:environment:ENVIRONMENT',
      },
    })
  })
})

describe('the strict trust policy', () => {
  it('equals the customised sub: repository, environment and this reusable workflow at one ref', () => {
    expect(strictTrust.Statement).toHaveLength(1)
    const statement = strictTrust.Statement[0] as Statement
    expect(statement.Principal).toEqual(trust.Statement[0]?.Principal)
    expect(statement.Action).toBe('sts:AssumeRoleWithWebIdentity')
    expect(statement.Condition).toEqual({
      StringEquals: {
        'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com',
        'token.actions.githubusercontent.com:sub':
          'repo:ORG/REPO:environment:ENVIRONMENT:job_workflow_ref:WORKFLOW_REPO/.github/workflows/deploy.yml@WORKFLOW_REF',
      },
    })
  })

  it('is documented with the gh api command that customises the subject', () => {
    const readme = readFileSync(join(repoRoot, 'docs/iam/README.md'), 'utf8')
    expect(readme).toContain('gh api --method PUT repos/ORG/REPO/actions/oidc/customization/sub')
    expect(readme).toContain('"include_claim_keys":["repo","context","job_workflow_ref"]')
  })
})

/** The policies whose every statement is fixed: what each must say, word for word. */
const EXACT_STATEMENTS: [string, string, Policy, Statement[]][] = [
  [
    'instance-role-policy.json',
    "the instance role only reads and lists its environment's prefix",
    instance,
    [
      {
        Sid: 'ReadReleaseArtifactsOfThisEnvironment',
        Effect: 'Allow',
        Action: 's3:GetObject',
        Resource: 'arn:aws:s3:::ARTIFACT_BUCKET/APP_NAME/ENVIRONMENT/*',
      },
      {
        Sid: 'ListThisEnvironmentOnly',
        Effect: 'Allow',
        Action: 's3:ListBucket',
        Resource: 'arn:aws:s3:::ARTIFACT_BUCKET',
        Condition: { StringLike: { 's3:prefix': ['APP_NAME/ENVIRONMENT/*'] } },
      },
    ],
  ],
  [
    'deploy-tags-guardrail.json',
    'CreateTags/DeleteTags on either deploy tag key (any case, ForAnyValue) only for the tag admin',
    guardrail,
    [
      {
        Sid: 'OnlyTagAdminsChangeDeployTags',
        Effect: 'Deny',
        Action: ['ec2:CreateTags', 'ec2:DeleteTags'],
        Resource: '*',
        Condition: {
          'ForAnyValue:StringEqualsIgnoreCase': {
            'aws:TagKeys': ['DeployApp', 'DeployEnvironment'],
          },
          ArnNotLike: { 'aws:PrincipalArn': 'arn:aws:iam::*:role/TAG_ADMIN_ROLE' },
        },
      },
    ],
  ],
  [
    'artifact-bucket-policy.json',
    'object-creating writes need If-None-Match, but desired.json, which needs If-Match or If-None-Match',
    bucketPolicy,
    [
      {
        Sid: 'ReleaseObjectsAreWrittenOnce',
        Effect: 'Deny',
        Principal: '*',
        Action: 's3:PutObject',
        NotResource: 'arn:aws:s3:::ARTIFACT_BUCKET/*/desired.json',
        Condition: {
          Null: { 's3:if-none-match': 'true' },
          Bool: { 's3:ObjectCreationOperation': 'true' },
        },
      },
      {
        Sid: 'DesiredReleaseIsCompareAndSwap',
        Effect: 'Deny',
        Principal: '*',
        Action: 's3:PutObject',
        Resource: 'arn:aws:s3:::ARTIFACT_BUCKET/APP_NAME/*/desired.json',
        Condition: {
          Null: { 's3:if-none-match': 'true', 's3:if-match': 'true' },
          Bool: { 's3:ObjectCreationOperation': 'true' },
        },
      },
    ],
  ],
]

describe('the fixed policies', () => {
  it.each(EXACT_STATEMENTS)('%s: %s', (_file, _rule, policy, statements) => {
    expect(policy.Statement).toEqual(statements)
  })
})

describe('every policy', () => {
  it('docs/iam holds exactly the policies tested here', () => {
    const files = readdirSync(join(repoRoot, 'docs/iam')).filter(f => f.endsWith('.json'))
    expect(files.sort()).toEqual(Object.keys(ALL_POLICIES).sort())
  })

  it.each(Object.entries(ALL_POLICIES))(
    '%s: version 2012-10-17, no ForAllValues, no FullAccess',
    (_name, policy) => {
      expect(policy.Version).toBe('2012-10-17')
      const text = JSON.stringify(policy)
      expect(text).not.toContain('ForAllValues')
      expect(text).not.toMatch(/FullAccess/i)
    },
  )
  it.each(Object.keys(ALL_POLICIES))('%s fills in with no placeholder left', file => {
    expect(() => instantiate(file, 'prod')).not.toThrow()
  })

  it.each([
    'deploy-role-policy.json',
    'deploy-role-trust-policy.json',
    'deploy-role-trust-policy-strict.json',
    'instance-role-policy.json',
  ])('%s is per environment', file => {
    expect(templateText(file)).toContain('ENVIRONMENT')
    expect(instantiate(file, 'dev')).not.toEqual(instantiate(file, 'prod'))
  })
})
