// Running commands on sandbox hosts through the real SSM front end, and the S3 client a deploy
// job would have: shared by the bootstrap tests.
import { S3Client } from '@aws-sdk/client-s3'
import {
  GetCommandInvocationCommand,
  SendCommandCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm'
import type { Sandbox } from '../../../dev/aws-sandbox/src/index.js'

/** An S3 client on the sandbox's S3, as the deploy job has one. */
export function sandboxS3(sandbox: Sandbox): S3Client {
  return new S3Client({
    region: sandbox.region,
    endpoint: sandbox.env.AWS_ENDPOINT_URL_S3,
    forcePathStyle: true,
    credentials: {
      accessKeyId: sandbox.env.AWS_ACCESS_KEY_ID,
      secretAccessKey: sandbox.env.AWS_SECRET_ACCESS_KEY,
    },
  })
}

/** What one host's invocation ended with. */
export interface HostRun {
  code: number
  status: string
  stdout: string
  stderr: string
}

/** The invocation of `commandId` on `instanceId`, once it is done. */
export async function invocationOf(
  ssm: SSMClient,
  commandId: string,
  instanceId: string,
): Promise<HostRun> {
  const out = await ssm.send(
    new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }),
  )
  return {
    code: out.ResponseCode ?? -1,
    status: out.Status ?? '',
    stdout: out.StandardOutputContent ?? '',
    stderr: out.StandardErrorContent ?? '',
  }
}

/** Sends AWS-RunShellScript `commands` to each instance and waits for every invocation. */
export async function runOnHosts(
  sandbox: Sandbox,
  ssm: SSMClient,
  instanceIds: string[],
  commands: string[],
): Promise<HostRun[]> {
  const sent = await ssm.send(
    new SendCommandCommand({
      DocumentName: 'AWS-RunShellScript',
      InstanceIds: instanceIds,
      Parameters: { commands },
    }),
  )
  const commandId = sent.Command?.CommandId ?? ''
  await sandbox.ssm.whenDone(commandId)
  return Promise.all(instanceIds.map(id => invocationOf(ssm, commandId, id)))
}
