// Shared helpers of the sandbox tests: real SDK clients pointed at a sandbox, the AWS CLI with
// only the sandbox's environment, and small process/wait utilities.
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import type { Server } from 'node:http'
import { RunInstancesCommand, type EC2Client } from '@aws-sdk/client-ec2'
import { S3Client } from '@aws-sdk/client-s3'
import { GetCommandInvocationCommand, type SSMClient } from '@aws-sdk/client-ssm'
import { sandboxClients, type Sandbox } from '../../dev/aws-sandbox/src/index.js'

/** SDK v3 clients for a sandbox (see sandboxClients). */
export const clients = sandboxClients

/** An S3 client on the sandbox's S3 (path-style), with the sandbox's keys. */
export function sandboxS3(sandbox: Sandbox): S3Client {
  return new S3Client({
    region: sandbox.region,
    endpoint: sandbox.env.AWS_ENDPOINT_URL_S3!,
    forcePathStyle: true,
    credentials: {
      accessKeyId: sandbox.env.AWS_ACCESS_KEY_ID,
      secretAccessKey: sandbox.env.AWS_SECRET_ACCESS_KEY,
    },
  })
}

/** The environment for the AWS CLI: the sandbox's variables and no user AWS config. */
export function cliEnv(sandbox: Sandbox): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('AWS_')) env[name] = value
  }
  return {
    ...env,
    ...sandbox.env,
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_PAGER: '',
  }
}

/** Runs `aws …` against the sandbox; resolves with exit code, stdout and stderr. */
export function awsCli(
  sandbox: Sandbox,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise(resolve => {
    execFile('aws', args, { env: cliEnv(sandbox), timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0
      resolve({ code, stdout, stderr })
    })
  })
}

/** Polls `check` every `intervalMs` until it returns a value other than undefined. */
export async function until<T>(
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 20_000,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`)
    await new Promise(resolve => setTimeout(resolve, intervalMs))
  }
}

/** Polls GetCommandInvocation until its Status is `status` (InvocationDoesNotExist = not yet). */
export async function untilStatus(
  ssm: SSMClient,
  commandId: string,
  instanceId: string,
  status: string,
): Promise<void> {
  await until(async () => {
    try {
      const out = await ssm.send(
        new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }),
      )
      return out.Status === status ? true : undefined
    } catch (error) {
      if ((error as Error).name === 'InvocationDoesNotExist') return undefined
      throw error
    }
  })
}

/** Whether a pid is a live (non-zombie) process. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return false
  }
}

/** The error a promise rejects with (fails the test if it resolves). */
export async function rejection(
  promise: Promise<unknown>,
): Promise<Error & Record<string, unknown>> {
  try {
    await promise
  } catch (error) {
    return error as Error & Record<string, unknown>
  }
  throw new Error('expected the call to fail, it succeeded')
}

/**
 * Launches one instance with RunInstances, tagged with `tags`, with `userData` (plain text,
 * base64-encoded here) when given; resolves with its id.
 */
export async function launchTagged(
  ec2: EC2Client,
  tags: Record<string, string>,
  userData?: string,
): Promise<string> {
  const out = await ec2.send(
    new RunInstancesCommand({
      ImageId: 'ami-0123456789abcdef0',
      MinCount: 1,
      MaxCount: 1,
      TagSpecifications: [
        {
          ResourceType: 'instance',
          Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
        },
      ],
      ...(userData === undefined ? {} : { UserData: Buffer.from(userData).toString('base64') }),
    }),
  )
  return out.Instances![0]!.InstanceId!
}

/** A test app on the machine's loopback, standing in for one shared-network host's. */
export interface LoopbackApp {
  name: string
  port: number
  server: Server
  /** Requests it has answered (health checks excluded). */
  served: number
  /** The health check path answers 503 while false. */
  healthy: boolean
}

/** Stops an HTTP server at once: its listener and every connection, keep-alive ones included. */
export function stopServer(server: Server): Promise<void> {
  server.closeAllConnections()
  return new Promise(resolve => server.close(() => resolve()))
}
