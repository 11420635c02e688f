// A local HTTP receiver standing in for a Slack or Teams incoming webhook: it records each POST
// and answers as told (a status and body, or never).
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface ReceivedPost {
  method: string
  path: string
  headers: IncomingHttpHeaders
  body: string
}

export interface WebhookReceiver {
  /** The webhook URL, with a secret-looking path as Slack's have. */
  url: string
  /** The path part of `url`: as secret as the whole URL. */
  secretPath: string
  posts: ReceivedPost[]
  close: () => Promise<void>
}

/** How the receiver answers: a status and a body, or `hang` (never answers). */
export type Answer = { status: number; body?: string } | 'hang'

/** Starts a receiver on a free loopback port. */
export async function startWebhookReceiver(answer: Answer = { status: 200, body: 'ok' }) {
  const posts: ReceivedPost[] = []
  const server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      posts.push({
        method: request.method ?? '',
        path: request.url ?? '',
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      })
      if (answer === 'hang') return
      response.writeHead(answer.status, { 'content-type': 'text/plain' })
      response.end(answer.body ?? '')
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const secretPath = '/services/T0AAAAAAA/B0BBBBBBB/s3cr3tW3bh00kT0k3n'
  return {
    url: `http://127.0.0.1:${port}${secretPath}`,
    secretPath,
    posts,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => resolve()))
    },
  } satisfies WebhookReceiver
}

/** A loopback URL on a port nothing listens on (it was free a moment ago). */
export async function closedPortUrl(): Promise<string> {
  const receiver = await startWebhookReceiver()
  await receiver.close()
  return receiver.url
}
