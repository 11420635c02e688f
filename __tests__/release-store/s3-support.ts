// Shared by the S3 tests: a recorder of what an SDK client sends (real middleware, not a mock).
import { S3Client, S3ServiceException } from '@aws-sdk/client-s3'

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
