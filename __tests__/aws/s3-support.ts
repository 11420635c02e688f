// Shared by the S3 tests: a recorder of what an SDK client sends (real middleware, not a mock).
import type { S3Client } from '@aws-sdk/client-s3'

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
