/**
 * A local stand-in for GitHub's workflow-artifact backend, real HTTP on 127.0.0.1, enough
 * for @actions/artifact v6 to upload and download unchanged:
 * - the Twirp JSON "results" service (requests arrive with proto field names) (ArtifactService: CreateArtifact, FinalizeArtifact,
 *   ListArtifacts, GetSignedArtifactURL), at ACTIONS_RESULTS_URL, with a bearer token;
 * - the blob store behind the signed URLs it hands out: Azure's Put Block and Put Block
 *   List for uploads, a plain GET for downloads.
 * `env()` gives the variables a step needs to reach it (ACTIONS_RUNTIME_TOKEN is a JWT
 * whose `scp` claim carries the run and job backend ids, as the runner's does).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

const SERVICE = '/twirp/github.actions.results.api.v1.ArtifactService/'
const RUN_BACKEND_ID = 'c0ffee00-0000-4000-8000-000000000001'
const JOB_BACKEND_ID = 'c0ffee00-0000-4000-8000-000000000002'
const SIGNATURE = 'stand-in-signature'

export interface StoredArtifact {
  id: number
  name: string
  /** The CreateArtifact request as received (expiresAt carries the retention). */
  createRequest: Record<string, unknown>
  blocks: Map<string, Buffer>
  content?: Buffer
  finalized: boolean
  /** The FinalizeArtifact request's hash, e.g. 'sha256:…'. */
  hash?: string | undefined
}

function base64url(value: string): string {
  return Buffer.from(value).toString('base64url')
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of request) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

export class ArtifactServiceStandIn {
  readonly artifacts = new Map<string, StoredArtifact>()
  readonly token = [
    base64url(JSON.stringify({ alg: 'none', typ: 'JWT' })),
    base64url(
      JSON.stringify({
        scp: `Actions.GenericRead Actions.Results:${RUN_BACKEND_ID}:${JOB_BACKEND_ID}`,
      }),
    ),
    'unsigned',
  ].join('.')
  private server: Server | undefined
  private nextId = 1000

  get baseUrl(): string {
    const address = this.server?.address() as AddressInfo | undefined
    if (!address) throw new Error('the artifact stand-in is not started')
    return `http://127.0.0.1:${address.port}`
  }

  async start(): Promise<this> {
    this.server = createServer((request, response) => {
      this.handle(request, response).catch((error: unknown) => {
        response.writeHead(500, { 'content-type': 'application/json' })
        response.end(JSON.stringify({ code: 'internal', msg: String(error) }))
      })
    })
    await new Promise<void>(done => this.server?.listen(0, '127.0.0.1', done))
    return this
  }

  async stop(): Promise<void> {
    await new Promise<void>(done => (this.server ? this.server.close(() => done()) : done()))
  }

  /** What the runner would put in a step's environment. */
  env(): Record<string, string> {
    return { ACTIONS_RUNTIME_TOKEN: this.token, ACTIONS_RESULTS_URL: `${this.baseUrl}/` }
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', this.baseUrl)
    const body = await readBody(request)
    if (url.pathname.startsWith(SERVICE) && request.method === 'POST') {
      if (request.headers.authorization !== `Bearer ${this.token}`) {
        return this.json(response, 401, { code: 'unauthenticated', msg: 'bad token' })
      }
      const method = url.pathname.slice(SERVICE.length)
      return this.twirp(
        method,
        JSON.parse(body.toString('utf8')) as Record<string, unknown>,
        response,
      )
    }
    const blob = /^\/blob\/(\d+)$/.exec(url.pathname)
    const artifact = blob ? this.byId(Number(blob[1])) : undefined
    if (!artifact || url.searchParams.get('sig') !== SIGNATURE) {
      response.writeHead(403).end()
      return
    }
    if (request.method === 'PUT' && url.searchParams.get('comp') === 'block') {
      artifact.blocks.set(url.searchParams.get('blockid') ?? '', body)
      response.writeHead(201, { 'x-ms-request-id': 'stand-in' }).end()
      return
    }
    if (request.method === 'PUT' && url.searchParams.get('comp') === 'blocklist') {
      const ids = [...body.toString('utf8').matchAll(/<(?:Latest|Uncommitted|Committed)>([^<]*)</g)]
      artifact.content = Buffer.concat(
        ids.map(([, id]) => artifact.blocks.get(id ?? '') ?? Buffer.alloc(0)),
      )
      response.writeHead(201, { 'x-ms-request-id': 'stand-in' }).end()
      return
    }
    if (request.method === 'GET' && artifact.content) {
      response.writeHead(200, {
        'content-type': 'application/zip',
        'content-length': artifact.content.length,
      })
      response.end(artifact.content)
      return
    }
    response.writeHead(404).end()
  }

  private twirp(method: string, request: Record<string, unknown>, response: ServerResponse): void {
    const name = String(request.name ?? '')
    switch (method) {
      case 'CreateArtifact': {
        const artifact: StoredArtifact = {
          id: this.nextId++,
          name,
          createRequest: request,
          blocks: new Map(),
          finalized: false,
        }
        this.artifacts.set(name, artifact)
        return this.json(response, 200, {
          ok: true,
          signedUploadUrl: `${this.baseUrl}/blob/${artifact.id}?sig=${SIGNATURE}`,
        })
      }
      case 'FinalizeArtifact': {
        const artifact = this.artifacts.get(name)
        if (!artifact?.content) return this.json(response, 404, { code: 'not_found', msg: name })
        artifact.finalized = true
        artifact.hash = typeof request.hash === 'string' ? request.hash : undefined
        return this.json(response, 200, { ok: true, artifactId: String(artifact.id) })
      }
      case 'ListArtifacts': {
        // The client sends proto field names (name_filter); accept JSON names as well.
        const nameFilter = request.name_filter ?? request.nameFilter
        const idFilter = request.id_filter ?? request.idFilter
        const byName = typeof nameFilter === 'string' ? nameFilter : undefined
        const byId = idFilter !== undefined ? Number(idFilter) : undefined
        const found = [...this.artifacts.values()].filter(
          a =>
            a.finalized &&
            (byName === undefined || a.name === byName) &&
            (byId === undefined || a.id === byId),
        )
        return this.json(response, 200, {
          artifacts: found.map(a => ({
            workflowRunBackendId: RUN_BACKEND_ID,
            workflowJobRunBackendId: JOB_BACKEND_ID,
            databaseId: String(a.id),
            name: a.name,
            size: String(a.content?.length ?? 0),
            createdAt: '2026-01-01T00:00:00Z',
          })),
        })
      }
      case 'GetSignedArtifactURL': {
        const artifact = this.artifacts.get(name)
        if (!artifact) return this.json(response, 404, { code: 'not_found', msg: name })
        return this.json(response, 200, {
          signedUrl: `${this.baseUrl}/blob/${artifact.id}?sig=${SIGNATURE}`,
        })
      }
      default:
        return this.json(response, 404, { code: 'bad_route', msg: method })
    }
  }

  private byId(id: number): StoredArtifact | undefined {
    return [...this.artifacts.values()].find(a => a.id === id)
  }

  private json(response: ServerResponse, status: number, body: unknown): void {
    response.writeHead(status, { 'content-type': 'application/json' })
    response.end(JSON.stringify(body))
  }
}
