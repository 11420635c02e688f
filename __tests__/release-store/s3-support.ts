// Shared by the S3 tests: the sandbox's S3 for a test file, and a recorder of what an SDK client
// sends (real middleware, not a mock).
import { afterAll, beforeAll } from '@jest/globals'
import { S3Client, S3ServiceException } from '@aws-sdk/client-s3'
import { AwsClientFactory } from '../../packages/aws/src/index.js'
import { startS3, type S3Sandbox } from '../../dev/aws-sandbox/src/index.js'

/**
 * Starts the sandbox's S3 (s3rver behind the gateway that answers If-Match / If-None-Match as
 * S3 does) with `bucket` for the test file, points the SDK at it, and stops it afterwards.
 * Read `s3` and `url` inside tests or hooks, once it has started.
 */
export function useSandboxS3(bucket: string): { readonly s3: S3Client; readonly url: string } {
  let s3rver: S3Sandbox | undefined
  let factory: AwsClientFactory | undefined
  let client: S3Client | undefined
  const savedEnv = { ...process.env }
  beforeAll(async () => {
    s3rver = await startS3({ buckets: [bucket] })
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_S3: s3rver.url,
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_REGION: 'us-east-1',
    })
    factory = new AwsClientFactory({ region: 'us-east-1', maxAttempts: 2, component: 'test' })
    client = factory.client(S3Client)
  })
  afterAll(async () => {
    factory?.destroy()
    process.env = savedEnv
    await s3rver?.close()
  })
  return {
    get s3() {
      if (client === undefined) throw new Error('the sandbox S3 has not started yet')
      return client
    },
    get url() {
      if (s3rver === undefined) throw new Error('the sandbox S3 has not started yet')
      return s3rver.url
    },
  }
}

/** What a client sent: command names in order, and the body bytes of each. */
export interface SentLog {
  commands: string[]
  bodyBytes: number
}

/** Records every command the client sends and the size of each request body. */
export function recordRequests(client: S3Client, before?: (command: string) => void): SentLog {
  const log: SentLog = { commands: [], bodyBytes: 0 }
  client.middlewareStack.add(
    (next, context) => async args => {
      const command = (context.commandName ?? '?').replace(/Command$/, '')
      log.commands.push(command)
      before?.(command)
      return next(args)
    },
    { step: 'initialize', name: 'testRecordCommands' },
  )
  client.middlewareStack.add(
    next => async args => {
      const body = (args.request as { body?: unknown }).body
      if (body instanceof Uint8Array) log.bodyBytes += body.byteLength
      else if (typeof body === 'string') log.bodyBytes += Buffer.byteLength(body)
      return next(args)
    },
    { step: 'finalizeRequest', name: 'testCountBody' },
  )
  return log
}

/** A client for aws-sdk-client-mock: it never reaches a network. */
export function offlineS3Client(): S3Client {
  return new S3Client({
    region: 'us-east-1',
    credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
  })
}

/** What S3 answers to a write with `If-None-Match: *` on a key that exists. */
export function preconditionFailed(): S3ServiceException {
  return new S3ServiceException({
    name: 'PreconditionFailed',
    $fault: 'client',
    $metadata: { httpStatusCode: 412 },
    message: 'At least one of the pre-conditions you specified did not hold',
  })
}
