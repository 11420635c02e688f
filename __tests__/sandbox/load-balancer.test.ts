// The sandbox's load balancer carries real HTTP: requests (keep-alive, bodies, headers) reach
// only registered, healthy targets; a deregistered target finishes what it has in flight and
// gets nothing new; a private host is reached at its own address; close leaves nothing open.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { Agent, createServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { SendCommandCommand } from '@aws-sdk/client-ssm'
import {
  DeregisterTargetsCommand,
  DescribeTargetHealthCommand,
  RegisterTargetsCommand,
  type TargetHealthDescription,
} from '@aws-sdk/client-elastic-load-balancing-v2'
import {
  sandboxClients,
  startSandbox,
  type Sandbox,
  type TargetGroup,
} from '../../dev/aws-sandbox/src/index.js'
import { stopServer, until, type LoopbackApp } from './helpers.js'

/** What an app answers: who it is and what it received. */
interface Echo {
  name: string
  method: string
  url: string
  body: string
  headers: IncomingHttpHeaders
}

interface App extends LoopbackApp {
  /** Called when a /slow request arrives (it answers 700 ms later). */
  onSlow?: () => void
}

const PRIVATE_APP_PORT = 3000
let sandbox: Sandbox
let group: TargetGroup
let clients: ReturnType<typeof sandboxClients>
const apps: App[] = []

async function startApp(name: string): Promise<App> {
  const app: App = { name, port: 0, server: createServer(), served: 0, healthy: true }
  app.server.on('request', (request, response) => {
    if (request.url === '/health') {
      response.writeHead(app.healthy ? 200 : 503).end()
      return
    }
    app.served += 1
    const chunks: Buffer[] = []
    request.on('data', chunk => chunks.push(chunk as Buffer))
    request.on('end', () => {
      const echo: Echo = {
        name,
        method: request.method ?? '',
        url: request.url ?? '',
        body: Buffer.concat(chunks).toString('utf8'),
        headers: request.headers,
      }
      const send = () =>
        response
          .writeHead(200, { 'content-type': 'application/json', 'x-app': name })
          .end(JSON.stringify(echo))
      if (request.url === '/slow') {
        app.onSlow?.()
        setTimeout(send, 700)
      } else send()
    })
  })
  await new Promise<void>(resolve => app.server.listen(0, '127.0.0.1', resolve))
  app.port = (app.server.address() as AddressInfo).port
  apps.push(app)
  return app
}

const stopApp = (app: App): Promise<void> => stopServer(app.server)

/** One request through `url`; resolves with status, headers, body and whether the socket was reused. */
function send(
  url: string,
  options: { method?: string; body?: string; headers?: Record<string, string>; agent?: Agent } = {},
): Promise<{ status: number; headers: IncomingHttpHeaders; body: string; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      url,
      { method: options.method ?? 'GET', headers: options.headers, agent: options.agent ?? false },
      response => {
        const chunks: Buffer[] = []
        response.on('data', chunk => chunks.push(chunk as Buffer))
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks).toString('utf8'),
            reused: request.reusedSocket,
          }),
        )
        response.on('error', reject)
      },
    )
    request.on('error', reject)
    request.end(options.body)
  })
}

async function describeHealth(target?: TargetGroup): Promise<TargetHealthDescription[]> {
  const out = await clients.elbv2.send(
    new DescribeTargetHealthCommand({ TargetGroupArn: (target ?? group).arn }),
  )
  return out.TargetHealthDescriptions ?? []
}

/** Registers `instance index → app port` pairs and waits until their states are as given. */
async function registerAndWait(
  targets: { index: number; port: number; state: string }[],
): Promise<void> {
  await clients.elbv2.send(
    new RegisterTargetsCommand({
      TargetGroupArn: group.arn,
      Targets: targets.map(t => ({ Id: sandbox.instances[t.index]!.id, Port: t.port })),
    }),
  )
  await until(async () => {
    const rows = await describeHealth()
    return targets.every(t =>
      rows.some(
        row =>
          row.Target?.Id === sandbox.instances[t.index]!.id &&
          row.Target?.Port === t.port &&
          row.TargetHealth?.State === t.state,
      ),
    )
      ? true
      : undefined
  }, 15_000)
}

/** Deregisters every target and waits until they are gone. */
async function deregisterAll(): Promise<void> {
  const rows = await describeHealth()
  if (rows.length > 0)
    await clients.elbv2.send(
      new DeregisterTargetsCommand({
        TargetGroupArn: group.arn,
        Targets: rows.map(row => row.Target!),
      }),
    )
  await until(async () => ((await describeHealth()).length === 0 ? true : undefined), 10_000)
}

/** Counts of `process.getActiveResourcesInfo()` by kind. */
function activeResources(): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1
  return counts
}

beforeAll(async () => {
  sandbox = await startSandbox({
    instances: [{}, {}, {}, {}, { network: 'private' }],
    invocationVisibilityDelayMs: 0,
    targetGroups: [
      {
        name: 'app',
        port: PRIVATE_APP_PORT,
        healthCheckPath: '/health',
        healthCheckIntervalSeconds: 0.2,
        healthyThresholdCount: 2,
        unhealthyThresholdCount: 2,
        deregistrationDelaySeconds: 1.5,
      },
    ],
  })
  group = sandbox.elbv2.get('app')!
  clients = sandboxClients(sandbox)
}, 60_000)

afterAll(async () => {
  clients?.elbv2.destroy()
  clients?.ssm.destroy()
  clients?.ec2.destroy()
  await sandbox?.close()
  await Promise.all(apps.map(stopApp))
})

describe('the load balancer', () => {
  it('forwards keep-alive requests, bodies and headers only to registered, healthy targets', async () => {
    const [a, b, sick, unregistered] = await Promise.all(
      ['a', 'b', 'sick', 'unregistered'].map(startApp),
    )
    sick!.healthy = false
    await registerAndWait([
      { index: 0, port: a!.port, state: 'healthy' },
      { index: 1, port: b!.port, state: 'healthy' },
      { index: 2, port: sick!.port, state: 'unhealthy' },
    ])
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    const counts: Record<string, number> = {}
    const reused: boolean[] = []
    try {
      for (let i = 0; i < 40; i += 1) {
        const body = `payload ${i} ${'x'.repeat(i * 100)}`
        const answer = await send(`${group.url}/orders?n=${i}`, {
          method: 'POST',
          body,
          headers: { 'content-type': 'text/plain', 'x-request-tag': `tag-${i}` },
          agent,
        })
        expect(answer.status).toBe(200)
        const echo = JSON.parse(answer.body) as Echo
        expect(echo).toMatchObject({ method: 'POST', url: `/orders?n=${i}`, body })
        expect(echo.headers).toMatchObject({
          'x-request-tag': `tag-${i}`,
          'content-type': 'text/plain',
          'x-forwarded-for': '127.0.0.1',
          'x-forwarded-proto': 'http',
          'x-forwarded-port': String(group.listenerPort),
        })
        expect(answer.headers['x-app']).toBe(echo.name)
        counts[echo.name] = (counts[echo.name] ?? 0) + 1
        reused.push(answer.reused)
      }
    } finally {
      agent.destroy()
    }
    // Round robin over the two healthy targets; nothing to the unhealthy or unregistered one.
    expect(counts).toEqual({ a: 20, b: 20 })
    expect(sick!.served).toBe(0)
    expect(unregistered!.served).toBe(0)
    // One client connection carried every request.
    expect(reused.filter(Boolean)).toHaveLength(39)
    await deregisterAll()
  })

  it('refuses a target group spec that breaks a rule, naming the value and the rule', async () => {
    await expect(sandbox.elbv2.createTargetGroup({ name: 'web_1', port: 80 })).rejects.toThrow(
      'target group name "web_1" is not valid: use 1-32 letters, digits and hyphens, not starting or ending with a hyphen',
    )
    await expect(sandbox.elbv2.createTargetGroup({ name: 'web', port: 0 })).rejects.toThrow(
      'target group web: port 0 is not in 1-65535',
    )
    await expect(sandbox.elbv2.createTargetGroup({ name: 'app', port: 80 })).rejects.toThrow(
      'target group app already exists in the sandbox',
    )
    expect(sandbox.elbv2.list().map(g => g.name)).toEqual(['app'])
  })

  it('answers 503 as an ALB does when no target is healthy', async () => {
    const empty = await sandbox.elbv2.createTargetGroup({ name: 'empty', port: 8080 })
    expect(sandbox.elbv2.get(empty.arn)).toBe(empty)
    const answer = await send(`${empty.url}/`)
    expect(answer.status).toBe(503)
    expect(answer.headers.server).toBe('awselb/2.0')
    expect(answer.body).toContain('503 Service Temporarily Unavailable')
    expect(await describeHealth(empty)).toEqual([])
  })

  it('lets a request in flight finish when its target is deregistered, and sends it nothing new', async () => {
    const [first, second] = await Promise.all(['first', 'second'].map(startApp))
    await registerAndWait([
      { index: 0, port: first!.port, state: 'healthy' },
      { index: 1, port: second!.port, state: 'healthy' },
    ])
    const arrived = new Promise<App>(resolve => {
      first!.onSlow = () => resolve(first!)
      second!.onSlow = () => resolve(second!)
    })
    const slow = send(`${group.url}/slow`)
    const busy = await arrived
    const other = busy === first ? second! : first!
    const busyIndex = busy === first ? 0 : 1
    await clients.elbv2.send(
      new DeregisterTargetsCommand({
        TargetGroupArn: group.arn,
        Targets: [{ Id: sandbox.instances[busyIndex]!.id, Port: busy.port }],
      }),
    )
    const servedBefore = busy.served
    const during = await Promise.all(Array.from({ length: 10 }, () => send(`${group.url}/now`)))
    expect(during.map(answer => (JSON.parse(answer.body) as Echo).name)).toEqual(
      Array(10).fill(other.name),
    )
    const finished = await slow
    expect(finished.status).toBe(200)
    expect(JSON.parse(finished.body)).toMatchObject({ name: busy.name, url: '/slow' })
    expect(busy.served).toBe(servedBefore)
    const rows = await describeHealth()
    expect(rows.find(row => row.Target?.Port === busy.port)?.TargetHealth?.State).toBe('draining')
    // Registered again while it drains: it starts over as `initial`, then serves again.
    await registerAndWait([{ index: busyIndex, port: busy.port, state: 'healthy' }])
    const after = await Promise.all(Array.from({ length: 4 }, () => send(`${group.url}/now`)))
    expect(new Set(after.map(answer => (JSON.parse(answer.body) as Echo).name))).toEqual(
      new Set([first!.name, second!.name]),
    )
    await deregisterAll()
  })

  it('stops sending to a target whose server stops, once its health checks fail', async () => {
    const [steady, dying] = await Promise.all(['steady', 'dying'].map(startApp))
    await registerAndWait([
      { index: 0, port: steady!.port, state: 'healthy' },
      { index: 1, port: dying!.port, state: 'healthy' },
    ])
    await stopApp(dying!)
    const servedBefore = dying!.served
    await until(async () => {
      const rows = await describeHealth()
      const row = rows.find(r => r.Target?.Port === dying!.port)
      return row?.TargetHealth?.State === 'unhealthy' ? row : undefined
    })
    const answers = await Promise.all(Array.from({ length: 10 }, () => send(`${group.url}/`)))
    expect(answers.map(answer => answer.status)).toEqual(Array(10).fill(200))
    expect(answers.map(answer => (JSON.parse(answer.body) as Echo).name)).toEqual(
      Array(10).fill('steady'),
    )
    expect(dying!.served).toBe(servedBefore)
    await deregisterAll()
  })

  it('reaches a private host at its own address, where its app serves the traffic port', async () => {
    const host = sandbox.instances[4]!
    const sent = await clients.ssm.send(
      new SendCommandCommand({
        DocumentName: 'AWS-RunShellScript',
        InstanceIds: [host.id],
        Parameters: {
          commands: [
            'mkdir -p www && echo "private host" > www/index.html && echo ok > www/health',
            `cd www && nohup python3 -m http.server ${PRIVATE_APP_PORT} --bind 0.0.0.0 >/dev/null 2>&1 &`,
            `for i in $(seq 100); do python3 -c 'import socket; socket.create_connection(("127.0.0.1", ${PRIVATE_APP_PORT}), 1)' 2>/dev/null && exit 0; sleep 0.1; done; exit 1`,
          ],
        },
      }),
    )
    const done = await sandbox.ssm.whenDone(sent.Command!.CommandId!)
    expect(sandbox.ssm.commandStatus(done).status).toBe('Success')
    // Registered without a port: the target group's port, on the host's private address.
    await clients.elbv2.send(
      new RegisterTargetsCommand({ TargetGroupArn: group.arn, Targets: [{ Id: host.id }] }),
    )
    await until(async () =>
      (await describeHealth())[0]?.TargetHealth?.State === 'healthy' ? true : undefined,
    )
    const answer = await send(`${group.url}/index.html`)
    expect(answer.status).toBe(200)
    expect(answer.body).toBe('private host\n')
    await deregisterAll()
  })
})

describe('closing the sandbox', () => {
  it('closes every listener, connection, health check and drain timer', async () => {
    const before = activeResources()
    const own = await startSandbox({
      instances: 2,
      commandMode: 'fast',
      targetGroups: [
        {
          name: 'closing',
          port: 8080,
          healthCheckIntervalSeconds: 0.1,
          deregistrationDelaySeconds: 30,
        },
      ],
    })
    const app = await startApp('closing')
    const closing = own.elbv2.get('closing')!
    closing.register(own.instances[0]!.id, app.port)
    closing.register(own.instances[1]!.id, app.port)
    await until(() =>
      closing.list().every(t => t.report().state === 'healthy') ? true : undefined,
    )
    closing.deregister(own.instances[1]!.id, app.port)
    const agent = new Agent({ keepAlive: true })
    const held = send(`${closing.url}/slow`, { agent }).catch(error => error as Error)
    await until(() => (app.served > 0 ? true : undefined))
    await own.close()
    expect(await held).toMatchObject({ code: 'ECONNRESET' })
    agent.destroy()
    await stopApp(app)
    // Sockets and timers end on the next turns of the event loop (a few more on a loaded
    // machine); the drain timer alone would hold on for 30 s.
    const left = () => {
      const after = activeResources()
      return ['TCPServerWrap', 'TCPSocketWrap', 'Timeout'].filter(
        kind => (after[kind] ?? 0) > (before[kind] ?? 0),
      )
    }
    const leftover = await until(() => (left().length === 0 ? [] : undefined), 2_000).catch(left)
    expect(leftover).toEqual([])
  })
})
