// The sandbox authorises only what a role's policy allows, and only for credentials issued
// for a role that has one: the default credentials and policy-less roles keep full access.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { DescribeInstancesCommand, EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2'
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3'
import {
  CreateAssociationCommand,
  DescribeInstanceInformationCommand,
  ListCommandInvocationsCommand,
  SSMClient,
} from '@aws-sdk/client-ssm'
import { AssumeRoleWithWebIdentityCommand, STSClient } from '@aws-sdk/client-sts'
import { startSandboxWithOidc, type SandboxWithOidc } from '../support/sandbox-with-oidc.js'

const SUBJECT = 'repo:octo-org/octo-repo:environment:dev'
const SSM_ONLY = 'arn:aws:iam::123456789012:role/ssm-only'
const OPEN = 'arn:aws:iam::123456789012:role/no-policy'
const WEB_ASSOCIATIONS = 'arn:aws:iam::123456789012:role/web-associations'

let sandbox: SandboxWithOidc
const clients: { destroy(): void }[] = []

beforeAll(async () => {
  sandbox = await startSandboxWithOidc({
    instances: [
      { name: 'web-1', tags: { DeployApp: 'web' } },
      { name: 'db-1', tags: { DeployApp: 'db' } },
    ],
    commandMode: 'fast',
    s3: { buckets: ['iam-bucket'] },
    oidc: { subject: SUBJECT },
    sts: {
      roles: [
        {
          arn: SSM_ONLY,
          audience: 'sts.amazonaws.com',
          subject: SUBJECT,
          policy: {
            Version: '2012-10-17',
            Statement: [
              { Effect: 'Allow', Action: 'ssm:DescribeInstanceInformation', Resource: '*' },
            ],
          },
        },
        { arn: OPEN, audience: 'sts.amazonaws.com', subject: SUBJECT },
        {
          arn: WEB_ASSOCIATIONS,
          audience: 'sts.amazonaws.com',
          subject: SUBJECT,
          policy: {
            Version: '2012-10-17',
            Statement: [
              {
                Effect: 'Allow',
                Action: 'ssm:CreateAssociation',
                Resource: 'arn:aws:ssm:us-east-1::document/AWS-RunShellScript',
              },
              {
                Effect: 'Allow',
                Action: 'ssm:CreateAssociation',
                Resource: 'arn:aws:ec2:us-east-1:123456789012:instance/*',
                Condition: { StringEquals: { 'ssm:resourceTag/DeployApp': 'web' } },
              },
            ],
          },
        },
      ],
    },
  })
})

afterAll(async () => {
  for (const client of clients) client.destroy()
  await sandbox?.close()
})

/** SSM, EC2 and S3 clients signing with credentials assumed for `roleArn` over OIDC. */
async function clientsAs(roleArn: string) {
  const sts = new STSClient({ region: sandbox.region, endpoint: sandbox.env.AWS_ENDPOINT_URL_STS! })
  clients.push(sts)
  const { Credentials } = await sts.send(
    new AssumeRoleWithWebIdentityCommand({
      RoleArn: roleArn,
      RoleSessionName: 'sandbox-iam',
      WebIdentityToken: sandbox.oidc.sign({}),
    }),
  )
  const credentials = {
    accessKeyId: Credentials!.AccessKeyId!,
    secretAccessKey: Credentials!.SecretAccessKey!,
    sessionToken: Credentials!.SessionToken!,
  }
  const common = { region: sandbox.region, credentials, maxAttempts: 1 }
  const made = {
    ssm: new SSMClient({ ...common, endpoint: sandbox.env.AWS_ENDPOINT_URL_SSM }),
    ec2: new EC2Client({ ...common, endpoint: sandbox.env.AWS_ENDPOINT_URL_EC2 }),
    s3: new S3Client({ ...common, endpoint: sandbox.s3!.url, forcePathStyle: true }),
  }
  clients.push(...Object.values(made))
  return made
}

const refusal = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('expected a refusal')
    },
    (error: Error & { $metadata: { httpStatusCode?: number } }) => ({
      name: error.name,
      status: error.$metadata.httpStatusCode,
      message: error.message,
    }),
  )

describe('sandbox IAM', () => {
  it("refuses, in each service's own words, what the role's policy does not allow", async () => {
    const { ssm, ec2, s3 } = await clientsAs(SSM_ONLY)
    await ssm.send(new DescribeInstanceInformationCommand({}))
    const session = 'arn:aws:sts::123456789012:assumed-role/ssm-only/sandbox-iam'
    expect(await refusal(ssm.send(new ListCommandInvocationsCommand({})))).toEqual({
      name: 'AccessDeniedException',
      status: 400,
      message: `User: ${session} is not authorized to perform: ssm:ListCommandInvocations because no identity-based policy allows the ssm:ListCommandInvocations action`,
    })
    expect(await refusal(ec2.send(new DescribeInstancesCommand({})))).toEqual({
      name: 'UnauthorizedOperation',
      status: 403,
      message: `You are not authorized to perform this operation. User: ${session} is not authorized to perform: ec2:DescribeInstances because no identity-based policy allows the ec2:DescribeInstances action`,
    })
    expect(
      await refusal(s3.send(new ListObjectsV2Command({ Bucket: 'iam-bucket', Prefix: 'a/' }))),
    ).toMatchObject({ name: 'AccessDenied', status: 403 })
    expect(
      await refusal(
        ec2.send(
          new RunInstancesCommand({ ImageId: 'ami-0123456789abcdef0', MinCount: 1, MaxCount: 1 }),
        ),
      ),
    ).toMatchObject({
      name: 'UnauthorizedOperation',
      status: 403,
      message: expect.stringContaining('not authorized to perform: ec2:RunInstances'),
    })
  })

  it('authorises CreateAssociation on its document and on each instance by its tags, as SendCommand', async () => {
    const { ssm } = await clientsAs(WEB_ASSOCIATIONS)
    const [web, db] = sandbox.instances
    const associate = (instanceId: string) =>
      ssm.send(
        new CreateAssociationCommand({
          Name: 'AWS-RunShellScript',
          InstanceId: instanceId,
          Parameters: { commands: ['true'] },
        }),
      )
    expect((await associate(web!.id)).AssociationDescription?.InstanceId).toBe(web!.id)
    expect(await refusal(associate(db!.id))).toMatchObject({
      name: 'AccessDeniedException',
      message: expect.stringContaining(
        `ssm:CreateAssociation on resource: arn:aws:ec2:us-east-1:123456789012:instance/${db!.id}`,
      ),
    })
  })

  it('leaves a role without a policy, and the default credentials, unrestricted', async () => {
    const { ec2, s3 } = await clientsAs(OPEN)
    const found = await ec2.send(new DescribeInstancesCommand({}))
    expect(found.Reservations).toHaveLength(2)
    await s3.send(new ListObjectsV2Command({ Bucket: 'iam-bucket' }))
    const defaults = new EC2Client({
      region: sandbox.region,
      endpoint: sandbox.env.AWS_ENDPOINT_URL_EC2,
      credentials: {
        accessKeyId: sandbox.env.AWS_ACCESS_KEY_ID,
        secretAccessKey: sandbox.env.AWS_SECRET_ACCESS_KEY,
      },
    })
    clients.push(defaults)
    expect((await defaults.send(new DescribeInstancesCommand({}))).Reservations).toHaveLength(2)
  })
})
