// Running commands on sandbox hosts through the real SSM front end, and the deployment record
// of app web in prod: shared by the bootstrap tests.
import {
  GetCommandInvocationCommand,
  SendCommandCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm'
import type { Sandbox } from '../../../dev/aws-sandbox/src/index.js'
import type { DeploymentRecord } from '../../../packages/release-store/src/index.js'

/** The record a deploy of `version` of app web to prod writes (all but its time). */
export function webProdRecord(
  bucket: string,
  version: string,
  artifact: { sha256: string; size: number },
): Omit<DeploymentRecord, 'time'> {
  return {
    app: 'web',
    environment: 'prod',
    version,
    bucket,
    key: `web/prod/${version}.zip`,
    ...artifact,
    runUrl: 'https://github.com/acme/web/actions/runs/2',
    commit: 'c0ffee0000000000000000000000000000000002',
    actor: 'octocat',
    mode: 'deploy',
  }
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
