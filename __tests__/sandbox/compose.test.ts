// The sandbox composed with its S3 (s3rver) and STS stand-ins, and with GitHub's OIDC token
// service beside it: commands on instances reach S3 with the AWS CLI as a host with an
// instance role would, OutputS3BucketName gets the full output, and keys that STS issues for
// the service's tokens work against S3.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { AssumeRoleWithWebIdentityCommand, STSClient } from '@aws-sdk/client-sts'
import {
  GetCommandInvocationCommand,
  ListCommandInvocationsCommand,
  SendCommandCommand,
} from '@aws-sdk/client-ssm'
import { startSandbox, type Sandbox, type SandboxOptions } from '../../dev/aws-sandbox/src/index.js'
import { startOidcServer } from '../../dev/github-runner/src/index.js'
import { clients, sandboxS3 } from './helpers.js'

let sandbox: Sandbox
let s3: S3Client

beforeAll(async () => {
  sandbox = await startSandbox({
    instances: 1,
    s3: { buckets: ['artifacts', 'ssm-output'] },
    invocationVisibilityDelayMs: 0,
  })
  s3 = sandboxS3(sandbox)
})
afterAll(async () => {
  s3.destroy()
  await sandbox.close()
})

describe('S3 from the instances', () => {
  it("a host's aws s3 cp reaches the local S3 with the sandbox's environment", async () => {
    await s3.send(
      new PutObjectCommand({ Bucket: 'artifacts', Key: 'app/v1.zip', Body: 'zip-bytes' }),
    )
    const { ssm } = clients(sandbox)
    const instance = sandbox.instances[0]!
    const out = await ssm.send(
      new SendCommandCommand({
        DocumentName: 'AWS-RunShellScript',
        InstanceIds: [instance.id],
        Parameters: {
          commands: [
            'aws s3 cp --only-show-errors s3://artifacts/app/v1.zip release.zip',
            'cat release.zip',
          ],
        },
      }),
    )
    const commandId = out.Command!.CommandId!
    await sandbox.ssm.whenDone(commandId)
    const result = await ssm.send(
      new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instance.id }),
    )
    expect(result.StandardErrorContent).toBe('')
    expect(result.Status).toBe('Success')
    expect(result.StandardOutputContent).toBe('zip-bytes')
    ssm.destroy()
  })

  it('uploads the full output to OutputS3BucketName and reports its URL', async () => {
    const { ssm } = clients(sandbox)
    const instance = sandbox.instances[0]!
    const out = await ssm.send(
      new SendCommandCommand({
        DocumentName: 'AWS-RunShellScript',
        InstanceIds: [instance.id],
        Parameters: { commands: ["head -c 30000 /dev/zero | tr '\\0' x", 'echo problem >&2'] },
        OutputS3BucketName: 'ssm-output',
        OutputS3KeyPrefix: 'deploys/',
      }),
    )
    const commandId = out.Command!.CommandId!
    await sandbox.ssm.whenDone(commandId)
    const result = await ssm.send(
      new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instance.id }),
    )
    expect(result.StandardOutputContent).toHaveLength(24000)
    const key = `deploys/${commandId}/${instance.id}/awsrunShellScript/0.awsrunShellScript/stdout`
    expect(result.StandardOutputUrl).toBe(`${sandbox.env.AWS_ENDPOINT_URL_S3}/ssm-output/${key}`)
    const full = await s3.send(new GetObjectCommand({ Bucket: 'ssm-output', Key: key }))
    expect(await full.Body!.transformToString()).toBe('x'.repeat(30000))
    const stderr = await s3.send(
      new GetObjectCommand({ Bucket: 'ssm-output', Key: key.replace(/stdout$/, 'stderr') }),
    )
    expect(await stderr.Body!.transformToString()).toBe('problem\n')
    const list = await ssm.send(
      new ListCommandInvocationsCommand({ CommandId: commandId, Details: true }),
    )
    expect(list.CommandInvocations?.[0]?.CommandPlugins?.[0]?.StandardOutputUrl).toBe(
      result.StandardOutputUrl,
    )
    ssm.destroy()
  })
})

describe('composed with the STS stand-in, trusting the OIDC token service', () => {
  it('exports the STS endpoint, takes the tokens, and S3 accepts the keys STS issues', async () => {
    const oidc = await startOidcServer({
      requestToken: 'compose-request-token',
      subject: 'repo:octo/app:environment:staging',
    })
    const composed = await startSandbox({
      instances: 1,
      s3: { buckets: ['artifacts'] },
      sts: {
        identityProvider: oidc,
        roles: [
          {
            arn: 'arn:aws:iam::123456789012:role/deploy',
            audience: 'sts.amazonaws.com',
            subject: 'repo:octo/app:*',
          },
        ],
      },
    })
    try {
      const env = { ...composed.env, ...oidc.env }
      const tokenResponse = await fetch(
        `${env.ACTIONS_ID_TOKEN_REQUEST_URL}&audience=sts.amazonaws.com`,
        {
          headers: { authorization: `Bearer ${env.ACTIONS_ID_TOKEN_REQUEST_TOKEN}` },
        },
      )
      const { value: token } = (await tokenResponse.json()) as { value: string }
      const sts = new STSClient({ region: composed.region, endpoint: env.AWS_ENDPOINT_URL_STS! })
      const assumed = await sts.send(
        new AssumeRoleWithWebIdentityCommand({
          RoleArn: 'arn:aws:iam::123456789012:role/deploy',
          RoleSessionName: 'sandbox-test',
          WebIdentityToken: token,
        }),
      )
      sts.destroy()
      const credentials = assumed.Credentials!
      const client = new S3Client({
        region: composed.region,
        endpoint: env.AWS_ENDPOINT_URL_S3!,
        forcePathStyle: true,
        credentials: {
          accessKeyId: credentials.AccessKeyId!,
          secretAccessKey: credentials.SecretAccessKey!,
          sessionToken: credentials.SessionToken!,
        },
      })
      await client.send(new PutObjectCommand({ Bucket: 'artifacts', Key: 'k', Body: 'v' }))
      const back = await client.send(new GetObjectCommand({ Bucket: 'artifacts', Key: 'k' }))
      expect(await back.Body!.transformToString()).toBe('v')
      client.destroy()
    } finally {
      await composed.close()
      await oidc.close()
    }
  })

  it('refuses sts without an identity provider', async () => {
    // As a JavaScript caller could call it: the type requires one.
    const options = { instances: 1, sts: { roles: [] } } as unknown as SandboxOptions
    await expect(startSandbox(options)).rejects.toThrow(/sts needs identityProvider/)
  })
})
