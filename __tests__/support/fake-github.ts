import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/** A local stand-in for the few GitHub REST endpoints the suite calls (git refs, deployments), over real HTTP. */
export interface FakeGitHub {
  url: string
  /** Tag name → the object it points at. */
  tags: Map<string, { sha: string; type: 'commit' | 'tag' }>
  /** Annotated tag object sha → commit sha. */
  tagObjects: Map<string, string>
  requests: { method: string; path: string; authorization: string | undefined }[]
  /** Deployments created, with the statuses posted to each. */
  deployments: { id: number; body: Record<string, unknown>; statuses: Record<string, unknown>[] }[]
  close(): Promise<void>
}

async function body(request: IncomingMessage): Promise<unknown> {
  let text = ''
  for await (const chunk of request) text += String(chunk)
  return text ? JSON.parse(text) : undefined
}

export async function startFakeGitHub(owner = 'octo-org', repo = 'octo-repo'): Promise<FakeGitHub> {
  const fake: Omit<FakeGitHub, 'url' | 'close'> = {
    tags: new Map(),
    tagObjects: new Map(),
    requests: [],
    deployments: [],
  }
  const prefix = `/repos/${owner}/${repo}/git/`
  const deploymentsPath = `/repos/${owner}/${repo}/deployments`
  const server: Server = createServer((request, response) => {
    const send = (status: number, payload: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' })
      response.end(JSON.stringify(payload))
    }
    void (async () => {
      const path = decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname)
      fake.requests.push({
        method: request.method ?? '',
        path,
        authorization: request.headers.authorization,
      })
      if (request.method === 'POST' && path === deploymentsPath) {
        const deployment = {
          id: 1000 + fake.deployments.length,
          body: (await body(request)) as Record<string, unknown>,
          statuses: [] as Record<string, unknown>[],
        }
        fake.deployments.push(deployment)
        return send(201, { id: deployment.id, ...deployment.body })
      }
      const statusPath = path.startsWith(`${deploymentsPath}/`)
        ? /^(\d+)\/statuses$/.exec(path.slice(deploymentsPath.length + 1))
        : null
      if (request.method === 'POST' && statusPath) {
        const deployment = fake.deployments.find(d => d.id === Number(statusPath[1]))
        if (!deployment) return send(404, { message: 'Not Found' })
        const status = (await body(request)) as Record<string, unknown>
        deployment.statuses.push(status)
        return send(201, { id: 1, ...status })
      }
      if (!path.startsWith(prefix)) return send(404, { message: 'Not Found' })
      const rest = path.slice(prefix.length)
      if (request.method === 'GET' && rest.startsWith('ref/tags/')) {
        const tag = fake.tags.get(rest.slice('ref/tags/'.length))
        if (!tag) return send(404, { message: 'Not Found' })
        return send(200, { ref: `refs/${rest.slice(4)}`, object: tag })
      }
      if (request.method === 'GET' && rest.startsWith('tags/')) {
        const commit = fake.tagObjects.get(rest.slice('tags/'.length))
        return commit
          ? send(200, { object: { sha: commit, type: 'commit' } })
          : send(404, { message: 'Not Found' })
      }
      if (request.method === 'POST' && rest === 'refs') {
        const { ref, sha } = (await body(request)) as { ref: string; sha: string }
        const tag = ref.replace(/^refs\/tags\//, '')
        if (fake.tags.has(tag)) return send(422, { message: 'Reference already exists' })
        fake.tags.set(tag, { sha, type: 'commit' })
        return send(201, { ref, object: { sha, type: 'commit' } })
      }
      return send(404, { message: 'Not Found' })
    })()
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    ...fake,
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise(resolve => server.close(() => resolve())),
  }
}
