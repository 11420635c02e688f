// The load balancer gate against the sandbox's ELBv2 endpoint and its real loopback load
// balancer, with real HTTP apps standing in for each host's: drains take the deregistration
// delay, hosts come back on their own ports and must turn healthy, hosts outside a group are
// left alone, and traffic through the load balancer never fails while hosts restart in turn.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { Agent, createServer, request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  DescribeTargetGroupAttributesCommand,
  DescribeTargetGroupsCommand,
  ElasticLoadBalancingV2Client,
  RegisterTargetsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2'
import { mockClient } from 'aws-sdk-client-mock'
import { ConfigurationError, memoryLogger } from '../../packages/kit/src/index.js'
import {
  TARGET_GROUP_ARN,
  TargetGroupGate,
  type TargetGroupGateOptions,
  type Wave,
} from '../../packages/fleet/src/index.js'
import {
  sandboxClients,
  startSandbox,
  type Sandbox,
  type TargetGroup,
} from '../../dev/aws-sandbox/src/index.js'
import { rejection, stopServer, until, type LoopbackApp } from '../sandbox/helpers.js'

type App = LoopbackApp

let sandbox: Sandbox
let clients: ReturnType<typeof sandboxClients>
let web: TargetGroup
let api: TargetGroup
const apps: App[] = []
const GROUP = {
  port: 8080,
  healthCheckPath: '/health',
  healthCheckIntervalSeconds: 0.2,
  healthyThresholdCount: 2,
  unhealthyThresholdCount: 2,
}
/** Fast, but still bounded as in production: the sandbox's clock, real polling. */
const FAST: Omit<TargetGroupGateOptions, 'targetGroupArns'> = {
  drainTimeoutMs: 10_000,
  drainSlackMs: 2_000,
  healthySlackMs: 1_000,
  pollIntervalMs: 100,
}

function listen(app: App): Promise<void> {
  app.server = createServer((request, response) => {
    if (request.url === '/health') {
      response.writeHead(app.healthy ? 200 : 503).end()
      return
    }
    app.served += 1
    response.writeHead(200, { 'content-type': 'text/plain' }).end(app.name)
  })
  return new Promise(resolve => app.server.listen(app.port, '127.0.0.1', resolve))
}

async function startApp(name: string): Promise<App> {
  const app: App = { name, port: 0, server: createServer(), served: 0, healthy: true }
  await listen(app)
  app.port = (app.server.address() as AddressInfo).port
  apps.push(app)
  return app
}

const stopApp = (app: App): Promise<void> => stopServer(app.server)

const host = (index: number) => sandbox.instances[index]!.id
const wave = (...instanceIds: string[]): Wave => ({
  number: 1,
  of: 1,
  purpose: 'deploy',
  instanceIds,
})

function gate(groups: TargetGroup[], options: Partial<TargetGroupGateOptions> = {}) {
  const logger = memoryLogger()
  const made = new TargetGroupGate(clients.elbv2, logger, {
    ...FAST,
    targetGroupArns: groups.map(group => group.arn),
    ...options,
  })
  return { gate: made, logger }
}

/** Registers `host index → app` in `group` and waits until all are healthy. */
async function registerHealthy(group: TargetGroup, targets: [number, App][]): Promise<void> {
  await clients.elbv2.send(
    new RegisterTargetsCommand({
      TargetGroupArn: group.arn,
      Targets: targets.map(([index, app]) => ({ Id: host(index), Port: app.port })),
    }),
  )
  await until(() =>
    targets.every(([index, app]) => group.find(host(index), app.port)?.report().state === 'healthy')
      ? true
      : undefined,
  )
}

/** A new target group with this deregistration delay, host 0 healthy in it. */
async function hostIn(name: string, deregistrationDelaySeconds: number) {
  const group = await sandbox.elbv2.createTargetGroup({
    name,
    ...GROUP,
    deregistrationDelaySeconds,
  })
  const app = await startApp(name)
  await registerHealthy(group, [[0, app]])
  return { group, app }
}

/** Every registered or draining target of a group, as `host index:port state`. */
function targetsOf(group: TargetGroup): string[] {
  return group
    .list()
    .map(
      target =>
        `${sandbox.instances.findIndex(i => i.id === target.instance.id)}:${target.port} ${target.report().state}`,
    )
    .sort()
}

async function clear(group: TargetGroup): Promise<void> {
  for (const target of [...group.list()]) group.deregister(target.instance.id, target.port)
  await until(() => (group.list().length === 0 ? true : undefined))
}

beforeAll(async () => {
  sandbox = await startSandbox({
    instances: 5,
    commandMode: 'fast',
    targetGroups: [
      { name: 'web', ...GROUP, deregistrationDelaySeconds: 1.5 },
      { name: 'api', ...GROUP, deregistrationDelaySeconds: 1 },
    ],
  })
  clients = sandboxClients(sandbox)
  web = sandbox.elbv2.get('web')!
  api = sandbox.elbv2.get('api')!
}, 60_000)

afterAll(async () => {
  for (const client of Object.values(clients ?? {})) client.destroy()
  await sandbox?.close()
  await Promise.all(apps.filter(app => app.server.listening).map(stopApp))
})

describe('the load balancer gate', () => {
  it('drains a host for the deregistration delay, then registers it again until healthy', async () => {
    const app = await startApp('a')
    await registerHealthy(web, [[0, app]])
    const { gate: lb, logger } = gate([web])

    const started = Date.now()
    expect(await lb.beforeWave(wave(host(0)))).toEqual(new Map())
    // Gone only after the delay of 1.5 s: the sandbox reports `draining` until then.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500)
    expect(targetsOf(web)).toEqual([])

    expect(await lb.afterWave(wave(host(0)), [host(0)])).toEqual(new Map())
    expect(targetsOf(web)).toEqual([`0:${app.port} healthy`])
    expect(logger.lines).toEqual(
      expect.arrayContaining([
        'info: load balancer: target group web: deregistration delay 1.5 s, healthy after 2 check(s) 1 s apart',
        expect.stringMatching(
          new RegExp(
            `^info: load balancer: deregistered ${host(0)} \\(port ${app.port}\\) from target group web; draining for up to 3.5 s`,
          ),
        ),
        expect.stringMatching(
          new RegExp(
            `^info: load balancer: ${host(0)} drained from target group web in 1\\.\\d s$`,
          ),
        ),
        expect.stringMatching(
          new RegExp(
            `^info: load balancer: registered ${host(0)} \\(port ${app.port}\\) in target group web again`,
          ),
        ),
        expect.stringMatching(
          new RegExp(`^info: load balancer: ${host(0)} healthy in target group web after`),
        ),
      ]),
    )
    await clear(web)
  })

  it('goes on with a warning once drain-timeout has passed, leaving the host draining', async () => {
    const { group: slow, app } = await hostIn('slow-drain', 30)
    const { gate: lb, logger } = gate([slow], { drainTimeoutMs: 800 })

    const started = Date.now()
    expect(await lb.beforeWave(wave(host(0)))).toEqual(new Map())
    const took = Date.now() - started
    expect(took).toBeGreaterThanOrEqual(800)
    expect(took).toBeLessThan(5_000)
    expect(targetsOf(slow)).toEqual([`0:${app.port} draining`])
    expect(logger.lines).toContain(
      'warning: load balancer: drain-timeout 800ms is shorter than the deregistration delay of target group slow-drain (30 s): requests still in flight to a host after drain-timeout may be cut',
    )
    expect(logger.lines).toContain(
      `warning: load balancer: ${host(0)} still draining in target group slow-drain after 0.8 s (drain-timeout): deploying anyway; requests still in flight to it may be cut`,
    )
  })

  it('fails a host that never turns healthy, with the reason ELBv2 gives, within its bound', async () => {
    const app = await startApp('sick')
    await registerHealthy(web, [[1, app]])
    const { gate: lb } = gate([web])
    await lb.beforeWave(wave(host(1)))
    app.healthy = false

    const started = Date.now()
    const failures = await lb.afterWave(wave(host(1)), [host(1)])
    const took = Date.now() - started
    // Interval 1 s × threshold 2 + 1 s of slack.
    expect([...failures]).toEqual([
      [
        host(1),
        'not healthy in target group web after 3 s: Target.ResponseCodeMismatch (Health checks failed with these codes: [503])',
      ],
    ])
    expect(took).toBeGreaterThanOrEqual(3_000)
    expect(took).toBeLessThan(6_000)
    // Registered (so that the load balancer takes it once it recovers), but not in service.
    expect(targetsOf(web)).toEqual([`1:${app.port} unhealthy`])
    await clear(web)
  })

  it('leaves a host alone where it is not registered, and brings each back to its own ports only', async () => {
    const [first, second, other] = await Promise.all(['p1', 'p2', 'other'].map(startApp))
    // Host 2 serves web on two ports and is not in api; host 3 is in api only; host 4 in none.
    await registerHealthy(web, [
      [2, first!],
      [2, second!],
    ])
    await registerHealthy(api, [[3, other!]])
    const { gate: lb, logger } = gate([web, api])
    const hosts = wave(host(2), host(3), host(4))

    await lb.beforeWave(hosts)
    expect(targetsOf(web)).toEqual([])
    expect(targetsOf(api)).toEqual([])
    expect(logger.lines).toEqual(
      expect.arrayContaining([
        `info: load balancer: ${host(3)}, ${host(4)} not registered in target group web: left alone there`,
        `info: load balancer: ${host(2)}, ${host(4)} not registered in target group api: left alone there`,
      ]),
    )

    expect(await lb.afterWave(hosts, [host(2), host(3), host(4)])).toEqual(new Map())
    expect(targetsOf(web)).toEqual([`2:${first!.port} healthy`, `2:${second!.port} healthy`].sort())
    expect(targetsOf(api)).toEqual([`3:${other!.port} healthy`])
    await Promise.all([clear(web), clear(api)])
  })

  it('keeps a host that serves no release out of the load balancer', async () => {
    const app = await startApp('broken')
    await registerHealthy(web, [[1, app]])
    const { gate: lb, logger } = gate([web])
    await lb.beforeWave(wave(host(1)))
    expect(await lb.afterWave(wave(host(1)), [])).toEqual(new Map())
    expect(targetsOf(web)).toEqual([])
    expect(logger.lines).toContain(
      `warning: load balancer: ${host(1)} serve(s) no release: kept out of target group web`,
    )
  })

  it('loses no request while each of two hosts is drained, restarted and brought back', async () => {
    const [a, b] = await Promise.all(['a', 'b'].map(startApp))
    await registerHealthy(web, [
      [0, a!],
      [1, b!],
    ])
    const { gate: lb } = gate([web])
    const load = constantLoad(web.url)
    try {
      await until(() => (load.ok > 20 ? true : undefined))
      for (const [index, app] of [
        [0, a!],
        [1, b!],
      ] as const) {
        await lb.beforeWave(wave(host(index)))
        // The deploy: the app stops (every connection cut) and starts again on its port.
        await stopApp(app)
        await new Promise(resolve => setTimeout(resolve, 200))
        const servedBefore = app.served
        await listen(app)
        expect(await lb.afterWave(wave(host(index)), [host(index)])).toEqual(new Map())
        await until(() => (app.served > servedBefore ? true : undefined))
      }
    } finally {
      await load.stop()
    }
    expect(load.failures).toEqual([])
    expect(load.ok).toBeGreaterThan(100)
    await clear(web)
  }, 60_000)
})

describe('bounded polling', () => {
  it('gives up on a drain at the bound of an injected clock, with one poll per interval', async () => {
    const { group: slow } = await hostIn('virtual-clock', 3600)
    let clock = 0
    const sleeps: number[] = []
    const { gate: lb, logger } = gate([slow], {
      drainTimeoutMs: 60_000,
      pollIntervalMs: 5_000,
      now: () => clock,
      sleep: async ms => {
        sleeps.push(ms)
        clock += ms
      },
    })
    await lb.beforeWave(wave(host(0)))
    // 60 s at 5 s a round: 12 sleeps, and the 13th reading finds the bound passed.
    expect(sleeps).toEqual(Array(12).fill(5_000))
    expect(logger.lines).toContain(
      `warning: load balancer: ${host(0)} still draining in target group virtual-clock after 60 s (drain-timeout): deploying anyway; requests still in flight to it may be cut`,
    )
  })
})

describe('target groups the gate refuses', () => {
  it('names the input and the ARN when a target group does not exist', async () => {
    const missing = web.arn.replace(/[0-9a-f]{16}$/, '0123456789abcdef')
    expect(missing).toMatch(TARGET_GROUP_ARN)
    const lb = new TargetGroupGate(clients.elbv2, memoryLogger(), {
      ...FAST,
      targetGroupArns: [missing],
    })
    const error = await rejection(lb.prepare())
    expect(error).toBeInstanceOf(ConfigurationError)
    expect(error.message).toBe(
      `input 'target-group-arns': ELBv2 did not find "${missing}" (TargetGroupNotFound: One or more target groups not found): check each ARN, and that 'aws-region' is its region`,
    )
  })

  // The sandbox's target groups are all of type instance: this corner is mocked.
  it('refuses a target group of type ip, before any host is touched', async () => {
    const arn =
      'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/by-ip/0123456789abcdef'
    const elbv2 = mockClient(ElasticLoadBalancingV2Client)
    elbv2.on(DescribeTargetGroupsCommand).resolves({
      TargetGroups: [{ TargetGroupArn: arn, TargetGroupName: 'by-ip', TargetType: 'ip' }],
    })
    elbv2.on(DescribeTargetGroupAttributesCommand).resolves({ Attributes: [] })
    try {
      const lb = new TargetGroupGate(
        new ElasticLoadBalancingV2Client({ region: 'us-east-1' }),
        memoryLogger(),
        { ...FAST, targetGroupArns: [arn] },
      )
      const error = await rejection(lb.beforeWave(wave('i-0123456789abcdef0')))
      expect(error).toBeInstanceOf(ConfigurationError)
      expect(error.message).toBe(
        `input 'target-group-arns': target group "by-ip" has target type "ip": the deploy deregisters and registers instances, so use target groups of target type 'instance'`,
      )
      expect(elbv2.calls().map(call => call.args[0].constructor.name)).toEqual([
        'DescribeTargetGroupsCommand',
      ])
    } finally {
      elbv2.restore()
    }
  })
})

/** Requests one after another through `url` (keep-alive), counting answers and failures. */
function constantLoad(url: string) {
  const agent = new Agent({ keepAlive: true, maxSockets: 4 })
  const state = { ok: 0, failures: [] as string[], running: true }
  const one = () =>
    new Promise<void>(resolve => {
      const request = httpRequest(url, { agent }, response => {
        response.resume()
        response.on('end', () => {
          if (response.statusCode === 200) state.ok += 1
          else state.failures.push(`HTTP ${response.statusCode}`)
          resolve()
        })
      })
      request.on('error', error => {
        state.failures.push(error.message)
        resolve()
      })
      request.end()
    })
  const workers = Array.from({ length: 4 }, async () => {
    while (state.running) {
      await one()
      await new Promise(resolve => setTimeout(resolve, 5))
    }
  })
  return {
    get ok() {
      return state.ok
    },
    failures: state.failures,
    async stop() {
      state.running = false
      await Promise.all(workers)
      agent.destroy()
    },
  }
}
