/**
 * What the EC2 and SSM front ends share: the service error type, the HTTP server wrapper
 * (counting, throttling, latency) and opaque pagination tokens.
 */
import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Faults } from './faults.js'

/** An error the service answers with: its wire code, message and HTTP status. */
export class ServiceError extends Error {
  readonly code: string
  readonly status: number
  constructor(code: string, message: string, status = 400) {
    super(message)
    this.name = 'ServiceError'
    this.code = code
    this.status = status
  }
}

/** A response a front end writes. */
export interface WireResponse {
  status: number
  contentType: string
  body: string
}

/** What a protocol front end implements. */
export interface ServiceFrontEnd {
  /** `ec2`, `ssm`, …: used by fault selectors. */
  readonly service: string
  /** Names the operation of a request, or throws a ServiceError. */
  operationOf(request: IncomingMessage, body: string): string
  /** Answers one admitted call. */
  handle(
    operation: string,
    request: IncomingMessage,
    body: string,
    requestId: string,
  ): Promise<WireResponse>
  /** The service's answer to a throttled call. */
  throttled(operation: string, requestId: string): WireResponse
  /** The service's answer to a ServiceError. */
  error(error: ServiceError, requestId: string): WireResponse
}

/** A started HTTP endpoint. */
export interface Endpoint {
  url: string
  server: Server
  close(): Promise<void>
}

const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms))

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of request) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

/** Serves one front end on 127.0.0.1 (port 0 = any free port). */
export async function serve(
  frontEnd: ServiceFrontEnd,
  faults: Faults,
  port = 0,
): Promise<Endpoint> {
  const server = createServer((request, response) => {
    void answer(frontEnd, faults, request, response)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => resolve())
  })
  const address = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${address.port}`,
    server,
    close: () =>
      new Promise<void>(resolve => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

async function answer(
  frontEnd: ServiceFrontEnd,
  faults: Faults,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const requestId = randomUUID()
  let reply: WireResponse
  try {
    const body = await readBody(request)
    let operation: string
    try {
      operation = frontEnd.operationOf(request, body)
    } catch (error) {
      reply = replyToError(frontEnd, error, requestId)
      return write(response, reply, requestId)
    }
    const { throttled, latencyMs } = faults.admit(frontEnd.service, operation)
    if (latencyMs > 0) await sleep(latencyMs)
    if (throttled) reply = frontEnd.throttled(operation, requestId)
    else {
      try {
        reply = await frontEnd.handle(operation, request, body, requestId)
      } catch (error) {
        reply = replyToError(frontEnd, error, requestId)
      }
    }
  } catch (error) {
    reply = replyToError(frontEnd, error, requestId)
  }
  write(response, reply, requestId)
}

function replyToError(frontEnd: ServiceFrontEnd, error: unknown, requestId: string): WireResponse {
  if (error instanceof ServiceError) return frontEnd.error(error, requestId)
  const message = error instanceof Error ? error.message : String(error)
  return frontEnd.error(new ServiceError('InternalServerError', message, 500), requestId)
}

function write(response: ServerResponse, reply: WireResponse, requestId: string): void {
  if (response.destroyed) return
  response.writeHead(reply.status, {
    'Content-Type': reply.contentType,
    'Content-Length': Buffer.byteLength(reply.body),
    'x-amzn-RequestId': requestId,
  })
  response.end(reply.body)
}

/** An opaque NextToken holding an offset into one listing. */
export function encodeToken(listing: string, offset: number): string {
  return Buffer.from(JSON.stringify({ l: listing, o: offset })).toString('base64url')
}

/** Reads a NextToken made by encodeToken for the same listing; undefined when invalid. */
export function decodeToken(token: string, listing: string): number | undefined {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as unknown
    if (typeof parsed !== 'object' || parsed === null) return undefined
    const { l, o } = parsed as { l?: unknown; o?: unknown }
    if (l !== listing || typeof o !== 'number' || !Number.isInteger(o) || o < 0) return undefined
    return o
  } catch {
    return undefined
  }
}
