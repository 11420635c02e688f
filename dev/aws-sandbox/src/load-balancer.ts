/**
 * Target groups and the real HTTP load balancer in front of each: a listener on loopback that
 * forwards requests only to registered, healthy targets (round robin), health checks every
 * registered target on its interval, and drains deregistered targets for the deregistration
 * delay. Targets are sandbox instances, reached at 127.0.0.1 (shared network) or at their
 * private address (network: 'private') on the target's port.
 */
import { randomBytes } from 'node:crypto'
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { Fleet, SandboxInstance } from './instances.js'

/** How to create a target group; times are in seconds (fractions allowed, for fast tests). */
export interface TargetGroupSpec {
  /** 1–32 letters, digits and hyphens, not starting or ending with a hyphen. */
  name: string
  /** The port targets serve on (the traffic port), unless a target names its own. */
  port: number
  /** Default `/`. */
  healthCheckPath?: string
  /** Default 1. */
  healthCheckIntervalSeconds?: number
  /** Default: the interval, at most 5 s. */
  healthCheckTimeoutSeconds?: number
  /** Consecutive successes that make a target healthy. Default 2. */
  healthyThresholdCount?: number
  /** Consecutive failures that make a target unhealthy. Default 2. */
  unhealthyThresholdCount?: number
  /** HTTP codes of a successful health check: `200`, `200,204` or `200-399`. Default `200-399`. */
  matcher?: string
  /** `deregistration_delay.timeout_seconds`: how long a target drains. Default 3. */
  deregistrationDelaySeconds?: number
  /** Port of the load balancer's listener on 127.0.0.1. Default: a free port. */
  listenerPort?: number
}

/** A target's state as DescribeTargetHealth reports it. */
export interface TargetHealthReport {
  state: 'initial' | 'healthy' | 'unhealthy' | 'draining' | 'unused'
  reason?: string
  description?: string
}

/** What the last failed health check found. */
interface CheckFailure {
  reason: 'Target.ResponseCodeMismatch' | 'Target.Timeout' | 'Target.FailedHealthChecks'
  description: string
}

/** One registered (or draining) target: an instance and a port. */
export class Target {
  readonly instance: SandboxInstance
  readonly port: number
  health: 'initial' | 'healthy' | 'unhealthy' = 'initial'
  /** Set while the target drains after deregistration. */
  drainingUntil: number | undefined
  /** Requests forwarded to it that have not finished. */
  inFlight = 0
  /** Requests forwarded to it since it was registered. */
  served = 0
  checks = 0
  private passes = 0
  private failures = 0
  private lastFailure: CheckFailure | undefined
  /** The pending health check or drain timer. */
  timer: NodeJS.Timeout | undefined
  /** The health check under way, aborted on stop. */
  check: AbortController | undefined
  /** Keep-alive connections the load balancer holds to it. */
  readonly agent = new Agent({ keepAlive: true })

  constructor(instance: SandboxInstance, port: number) {
    this.instance = instance
    this.port = port
  }

  /** Where the load balancer reaches it. */
  get host(): string {
    return this.instance.network ? this.instance.privateIpAddress : '127.0.0.1'
  }

  /** Whether it takes new requests: registered, healthy and its instance running. */
  get inService(): boolean {
    return (
      this.drainingUntil === undefined &&
      this.health === 'healthy' &&
      this.instance.state === 'running'
    )
  }

  /** Back to a fresh registration: `initial`, no checks counted, not draining. */
  restart(): void {
    this.drainingUntil = undefined
    this.health = 'initial'
    this.checks = 0
    this.passes = 0
    this.failures = 0
    this.lastFailure = undefined
  }

  /** Records a health check's outcome and moves the state by the thresholds. */
  recordCheck(failure: CheckFailure | undefined, group: ResolvedTargetGroupSpec): void {
    this.checks += 1
    if (failure === undefined) {
      this.passes += 1
      this.failures = 0
      if (this.passes >= group.healthyThresholdCount) this.health = 'healthy'
    } else {
      this.failures += 1
      this.passes = 0
      this.lastFailure = failure
      if (this.failures >= group.unhealthyThresholdCount) this.health = 'unhealthy'
    }
  }

  /** Its state, reason and description in DescribeTargetHealth's words. */
  report(): TargetHealthReport {
    if (this.drainingUntil !== undefined)
      return {
        state: 'draining',
        reason: 'Target.DeregistrationInProgress',
        description: 'Target deregistration is in progress',
      }
    const state = this.instance.state
    if (state !== 'running')
      return {
        state: 'unused',
        reason: 'Target.InvalidState',
        description: `Target is in the ${state === 'terminated' ? 'terminated' : 'stopped'} state`,
      }
    if (this.health === 'healthy') return { state: 'healthy' }
    if (this.health === 'unhealthy')
      return {
        state: 'unhealthy',
        ...(this.lastFailure ?? {
          reason: 'Target.FailedHealthChecks',
          description: 'Health checks failed',
        }),
      }
    return this.checks === 0
      ? {
          state: 'initial',
          reason: 'Elb.RegistrationInProgress',
          description: 'Target registration is in progress',
        }
      : {
          state: 'initial',
          reason: 'Elb.InitialHealthChecking',
          description: 'Initial health checks in progress',
        }
  }
}

type ResolvedTargetGroupSpec = Required<Omit<TargetGroupSpec, 'listenerPort'>>

const NAME = /^(?!-)[A-Za-z0-9-]{1,32}(?<!-)$/

/** Whether `code` is one of the matcher's codes (`200`, `200,204`, `200-399`). */
export function matcherAccepts(matcher: string, code: number): boolean {
  return matcher.split(',').some(part => {
    const [low, high] = part.trim().split('-').map(Number)
    return low !== undefined && code >= low && code <= (high ?? low)
  })
}

function resolve(spec: TargetGroupSpec): ResolvedTargetGroupSpec {
  if (!NAME.test(spec.name))
    throw new Error(
      `target group name ${JSON.stringify(spec.name)} is not valid: use 1-32 letters, digits and hyphens, not starting or ending with a hyphen`,
    )
  if (!Number.isInteger(spec.port) || spec.port < 1 || spec.port > 65535)
    throw new Error(`target group ${spec.name}: port ${spec.port} is not in 1-65535`)
  const interval = spec.healthCheckIntervalSeconds ?? 1
  return {
    name: spec.name,
    port: spec.port,
    healthCheckPath: spec.healthCheckPath ?? '/',
    healthCheckIntervalSeconds: interval,
    healthCheckTimeoutSeconds: spec.healthCheckTimeoutSeconds ?? Math.min(interval, 5),
    healthyThresholdCount: spec.healthyThresholdCount ?? 2,
    unhealthyThresholdCount: spec.unhealthyThresholdCount ?? 2,
    matcher: spec.matcher ?? '200-399',
    deregistrationDelaySeconds: spec.deregistrationDelaySeconds ?? 3,
  }
}

/** Headers that belong to one connection and are never forwarded (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
])

function forwardable(
  headers: IncomingMessage['headers'] | NodeJS.Dict<string | string[]>,
): OutgoingHttpHeaders {
  const named = String(headers.connection ?? '')
    .split(',')
    .map(name => name.trim().toLowerCase())
  const out: OutgoingHttpHeaders = {}
  for (const [name, value] of Object.entries(headers))
    if (value !== undefined && !HOP_BY_HOP.has(name) && !named.includes(name)) out[name] = value
  return out
}

/** An ALB's own error page for `status`. */
function albError(response: ServerResponse, status: 502 | 503 | 504): void {
  const title = {
    502: '502 Bad Gateway',
    503: '503 Service Temporarily Unavailable',
    504: '504 Gateway Time-out',
  }[status]
  const body = `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n</body>\r\n</html>\r\n`
  if (response.headersSent) {
    response.destroy()
    return
  }
  response.writeHead(status, {
    Server: 'awselb/2.0',
    'Content-Type': 'text/html',
    'Content-Length': Buffer.byteLength(body),
  })
  response.end(body)
}

/** A target group with its load balancer: the listener, the health checks and the drains. */
export class TargetGroup {
  readonly arn: string
  readonly loadBalancerArn: string
  readonly settings: ResolvedTargetGroupSpec
  /** Registered and draining targets, in registration order. */
  private readonly targets: Target[] = []
  private readonly fleet: Fleet
  private server: Server | undefined
  private readonly sockets = new Set<Socket>()
  private nextTarget = 0
  private stopped = false
  /** The listener's URL, `http://127.0.0.1:<port>`. */
  url = ''

  constructor(spec: TargetGroupSpec, fleet: Fleet, where: { region: string; accountId: string }) {
    this.settings = resolve(spec)
    this.fleet = fleet
    const prefix = `arn:aws:elasticloadbalancing:${where.region}:${where.accountId}`
    this.arn = `${prefix}:targetgroup/${spec.name}/${randomBytes(8).toString('hex')}`
    this.loadBalancerArn = `${prefix}:loadbalancer/app/${spec.name}/${randomBytes(8).toString('hex')}`
  }

  get name(): string {
    return this.settings.name
  }

  /** The listener's port. */
  get listenerPort(): number {
    return Number(new URL(this.url).port)
  }

  /** Opens the listener (on `port`, 0 = any free one). */
  async listen(port = 0): Promise<void> {
    const server = createServer({ keepAlive: true }, (request, response) =>
      this.forward(request, response),
    )
    server.on('connection', socket => {
      this.sockets.add(socket)
      socket.once('close', () => this.sockets.delete(socket))
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, '127.0.0.1', () => resolve())
    })
    this.server = server
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  }

  /** The target for an instance id and port, registered or draining. */
  find(instanceId: string, port: number): Target | undefined {
    return this.targets.find(target => target.instance.id === instanceId && target.port === port)
  }

  /** Registered and draining targets. */
  list(): readonly Target[] {
    return this.targets
  }

  /**
   * Registers a target: health checks start. A draining target stops draining and starts
   * over as `initial`; the requests it still serves go on.
   */
  register(instanceId: string, port = this.settings.port): void {
    const existing = this.find(instanceId, port)
    if (existing && existing.drainingUntil === undefined) return
    const target = existing ?? new Target(this.fleet.require(instanceId), port)
    if (existing) {
      clearTimeout(existing.timer)
      existing.restart()
    } else this.targets.push(target)
    this.scheduleCheck(target, 0)
  }

  /** Deregisters a target: no new requests; it drains for the delay, then it is gone. */
  deregister(instanceId: string, port = this.settings.port): void {
    const target = this.find(instanceId, port)
    if (!target || target.drainingUntil !== undefined || this.stopped) return
    clearTimeout(target.timer)
    target.check?.abort()
    const delayMs = this.settings.deregistrationDelaySeconds * 1000
    target.drainingUntil = Date.now() + delayMs
    target.timer = setTimeout(() => this.remove(target), delayMs)
  }

  /** Stops the listener, every health check and drain, and closes every connection. */
  async close(): Promise<void> {
    this.stopped = true
    for (const target of [...this.targets]) this.remove(target)
    const server = this.server
    if (!server) return
    await new Promise<void>(resolve => {
      server.close(() => resolve())
      for (const socket of this.sockets) socket.destroy()
    })
  }

  private remove(target: Target): void {
    clearTimeout(target.timer)
    target.check?.abort()
    target.agent.destroy()
    const index = this.targets.indexOf(target)
    if (index >= 0) this.targets.splice(index, 1)
  }

  private scheduleCheck(target: Target, delayMs: number): void {
    if (this.stopped) return
    target.timer = setTimeout(() => void this.runCheck(target), delayMs)
  }

  private async runCheck(target: Target): Promise<void> {
    if (target.instance.state === 'running') {
      const failure = await this.healthCheck(target)
      if (this.stopped || target.drainingUntil !== undefined || !this.targets.includes(target))
        return
      target.recordCheck(failure, this.settings)
    }
    this.scheduleCheck(target, this.settings.healthCheckIntervalSeconds * 1000)
  }

  /** One health check: GET the path on a new connection; undefined when it passed. */
  private healthCheck(target: Target): Promise<CheckFailure | undefined> {
    const controller = new AbortController()
    target.check = controller
    const timeoutMs = this.settings.healthCheckTimeoutSeconds * 1000
    return new Promise(resolve => {
      const request = httpRequest(
        {
          host: target.host,
          port: target.port,
          path: this.settings.healthCheckPath,
          method: 'GET',
          agent: false,
          signal: controller.signal,
          timeout: timeoutMs,
          headers: { 'User-Agent': 'ELB-HealthChecker/2.0', Connection: 'close' },
        },
        response => {
          response.resume()
          const code = response.statusCode ?? 0
          resolve(
            matcherAccepts(this.settings.matcher, code)
              ? undefined
              : {
                  reason: 'Target.ResponseCodeMismatch',
                  description: `Health checks failed with these codes: [${code}]`,
                },
          )
        },
      )
      request.on('timeout', () => {
        resolve({ reason: 'Target.Timeout', description: 'Request timed out' })
        request.destroy()
      })
      request.on('error', () =>
        resolve({ reason: 'Target.FailedHealthChecks', description: 'Health checks failed' }),
      )
      request.end()
    }).finally(() => {
      if (target.check === controller) target.check = undefined
    }) as Promise<CheckFailure | undefined>
  }

  /** The next in-service target, round robin; undefined when none is. */
  private pick(): Target | undefined {
    const count = this.targets.length
    for (let step = 0; step < count; step += 1) {
      const target = this.targets[(this.nextTarget + step) % count] as Target
      if (target.inService) {
        this.nextTarget = (this.nextTarget + step + 1) % count
        return target
      }
    }
    return undefined
  }

  private forward(request: IncomingMessage, response: ServerResponse): void {
    const target = this.pick()
    if (!target) {
      request.resume()
      albError(response, 503)
      return
    }
    target.inFlight += 1
    target.served += 1
    let finished = false
    const finish = () => {
      if (finished) return
      finished = true
      target.inFlight -= 1
    }
    const client = request.socket.remoteAddress ?? '127.0.0.1'
    const forwardedFor = request.headers['x-forwarded-for']
    const upstream = httpRequest(
      {
        host: target.host,
        port: target.port,
        method: request.method,
        path: request.url,
        agent: target.agent,
        headers: {
          ...forwardable(request.headers),
          'x-forwarded-for': forwardedFor ? `${String(forwardedFor)}, ${client}` : client,
          'x-forwarded-proto': 'http',
          'x-forwarded-port': String(this.listenerPort),
        },
      },
      answer => {
        response.writeHead(answer.statusCode ?? 502, forwardable(answer.headers))
        answer.pipe(response)
        answer.on('end', finish)
        answer.on('error', () => {
          finish()
          response.destroy()
        })
      },
    )
    upstream.on('error', () => {
      finish()
      albError(response, 502)
    })
    response.on('close', () => {
      finish()
      if (!response.writableFinished) upstream.destroy()
    })
    request.pipe(upstream)
  }
}

/** The target groups of one sandbox (`sandbox.elbv2`). */
export class LoadBalancing {
  private readonly groups: TargetGroup[] = []
  readonly fleet: Fleet
  readonly region: string
  readonly accountId: string

  constructor(fleet: Fleet, where: { region: string; accountId: string }) {
    this.fleet = fleet
    this.region = where.region
    this.accountId = where.accountId
  }

  /** Creates a target group and opens its load balancer's listener. */
  async createTargetGroup(spec: TargetGroupSpec): Promise<TargetGroup> {
    if (this.groups.some(group => group.name === spec.name))
      throw new Error(`target group ${spec.name} already exists in the sandbox`)
    const group = new TargetGroup(spec, this.fleet, this)
    await group.listen(spec.listenerPort)
    this.groups.push(group)
    return group
  }

  /** Target groups in creation order. */
  list(): readonly TargetGroup[] {
    return this.groups
  }

  /** The target group with this ARN or name. */
  get(arnOrName: string): TargetGroup | undefined {
    return this.groups.find(group => group.arn === arnOrName || group.name === arnOrName)
  }

  /** Closes every load balancer. */
  async close(): Promise<void> {
    await Promise.all(this.groups.map(group => group.close()))
  }
}
