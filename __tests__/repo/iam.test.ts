import { describe, expect, it } from '@jest/globals'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { repoRoot } from '../support/run-action.js'

interface Statement {
  Sid?: string
  Effect: 'Allow' | 'Deny'
  Action: string | string[]
  Resource?: string | string[]
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
const instance = read('instance-role-policy.json')

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

  it('grants no wildcard action and nothing it does not need', () => {
    const needed = new Set(Object.values(IAM_ACTION_OF).flat())
    for (const statement of deploy.Statement) {
      for (const action of list(statement.Action)) {
        expect(action).not.toContain('*')
        expect(needed.has(action)).toBe(true)
      }
    }
  })

  it('keeps S3 to the artifact prefix', () => {
    for (const statement of deploy.Statement.filter(s =>
      list(s.Action).some(a => a.startsWith('s3:')),
    )) {
      for (const resource of list(statement.Resource))
        expect(resource).toMatch(/^arn:aws:s3:::ARTIFACT_BUCKET(\/APP_NAME\/\*)?$/)
      if (list(statement.Action).includes('s3:ListBucket')) {
        expect(statement.Condition?.StringLike?.['s3:prefix']).toEqual(['APP_NAME/*'])
      }
    }
  })

  it('sends only AWS-RunShellScript, and only to instances with the deploy tag', () => {
    const send = deploy.Statement.filter(s => list(s.Action).includes('ssm:SendCommand'))
    const resources = send.flatMap(s => list(s.Resource))
    expect(resources.filter(r => r.includes(':document/'))).toEqual([
      'arn:aws:ssm:REGION::document/AWS-RunShellScript',
    ])
    const onInstances = send.filter(s => list(s.Resource).some(r => r.includes(':instance/')))
    expect(onInstances).toHaveLength(1)
    expect(onInstances[0]?.Condition?.StringEquals?.['ssm:resourceTag/DeployApp']).toBe('APP_NAME')
    expect(resources.every(r => r !== '*')).toBe(true)
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

describe('every policy', () => {
  it.each([
    ['deploy', deploy],
    ['trust', trust],
    ['instance', instance],
  ])('%s: version 2012-10-17, no ForAllValues, no FullAccess', (_name, policy) => {
    expect(policy.Version).toBe('2012-10-17')
    const text = JSON.stringify(policy)
    expect(text).not.toContain('ForAllValues')
    expect(text).not.toMatch(/FullAccess/i)
  })
  it('the instance role only reads the artifact prefix', () => {
    expect(instance.Statement).toEqual([
      {
        Sid: 'ReadReleaseArtifacts',
        Effect: 'Allow',
        Action: 's3:GetObject',
        Resource: 'arn:aws:s3:::ARTIFACT_BUCKET/APP_NAME/*',
      },
    ])
  })
})
