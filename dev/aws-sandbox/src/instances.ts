/**
 * The fleet model: each EC2 instance is a directory on this machine with tags, a state, an
 * SSM agent (ping status, version) and the fault knobs that make it misbehave.
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { allocateAddressBlock, PrivateNetwork, type AddressBlock } from './network.js'
import { killMarkedProcesses, processWideSet } from './processes.js'

/** EC2 instance states. */
export type InstanceStateName =
  'pending' | 'running' | 'shutting-down' | 'terminated' | 'stopping' | 'stopped'

/** EC2's numeric state codes (the low byte EC2 reports). */
export const INSTANCE_STATE_CODES: Readonly<Record<InstanceStateName, number>> = {
  pending: 0,
  running: 16,
  'shutting-down': 32,
  terminated: 48,
  stopping: 64,
  stopped: 80,
}

/** How an invocation to an unreachable agent ends. */
export type OfflineBehaviour = 'undeliverable' | 'delivery-timeout'

/** The result a fast-mode command reports instead of running a shell. */
export interface FastResult {
  exitCode: number
  stdout?: string
  stderr?: string
  /** How long the "command" takes; 0 by default. */
  durationMs?: number
}

/** What a fast-mode handler is told about the command it stands in for. */
export interface FastCommandContext {
  instance: SandboxInstance
  commandId: string
  commands: readonly string[]
  workingDirectory: string
}

/** Computes a fast-mode result (may be async). */
export type FastCommandHandler = (context: FastCommandContext) => FastResult | Promise<FastResult>

/** Per-instance fault knobs; all can be changed while the sandbox runs. */
export interface InstanceFaults {
  /**
   * The SSM agent is offline: PingStatus `ConnectionLost`. With `true` or `'undeliverable'`,
   * invocations end `Failed`/`Undeliverable`; with `'delivery-timeout'` they stay `Pending`
   * until the command expires and end `TimedOut`/`Delivery Timed Out`.
   */
  agentOffline?: boolean | OfflineBehaviour
  /** The agent picks a command up this many ms late (the invocation stays `Pending`). */
  deliveryDelayMs?: number
  /** A slow host: the invocation is `InProgress` this many ms before its script starts. */
  slowMs?: number
  /**
   * The instance dies this many ms after a command starts running on it: every process it
   * runs is killed, it stops answering (ConnectionLost, EC2 state `stopped`) and the
   * invocation never reports back, so SSM marks it `Delivery Timed Out` when it expires.
   */
  dieAfterMs?: number
  /** `fast` skips spawning a shell and asks the fleet's fast handler for the result. */
  commandMode?: 'shell' | 'fast'
}

/** How to create one instance; everything is optional. */
export interface InstanceSpec {
  /** `i-` and 8 or 17 hex digits; generated when omitted. */
  id?: string
  /** Shorthand for the `Name` tag. */
  name?: string
  tags?: Record<string, string>
  state?: InstanceStateName
  /** Extra environment for every command run on this instance. */
  env?: Record<string, string>
  privateIpAddress?: string
  availabilityZone?: string
  instanceType?: string
  agentVersion?: string
  /** The AMI it was launched from. Default `ami-0sandbox0000000`. */
  imageId?: string
  /** ARN of its instance profile. Default `…:instance-profile/sandbox-instance`. */
  iamInstanceProfileArn?: string
  /** The RunInstances call that made it: its reservation and its index in it. */
  reservation?: { id: string; launchIndex: number }
  /** Registered with SSM (a managed node). Default true. */
  ssmManaged?: boolean
  faults?: InstanceFaults
  /**
   * Absolute directories (such as `/opt`) that are this instance's own: its commands and the
   * services they start see `<instance dir>/root<path>` there, in a private mount namespace.
   * This lets several instances use the same deploy-dir as real hosts do. Needs root.
   */
  privateDirs?: readonly string[]
  /**
   * `private`: the instance has a network of its own, like a host (see network.ts): its own
   * loopback, reached from the machine at its private address. Needs root.
   */
  network?: 'shared' | 'private'
  /** Private network: machine ports reachable inside at 127.0.0.1:<port>, besides the sandbox's. */
  forwardPorts?: readonly number[]
  /**
   * Directories this host has before the agent's PATH, e.g. a newer Node than the machine's.
   * (The agent's PATH is fixed; a host's own tools live in its /usr/local/bin.)
   */
  path?: readonly string[]
}

const INSTANCE_ID = /^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$/

/** True when `value` has the shape of an EC2 instance id. */
export function isInstanceId(value: string): boolean {
  return INSTANCE_ID.test(value)
}

/** One simulated EC2 instance. Its directory is its default working directory. */
export class SandboxInstance {
  readonly id: string
  readonly dir: string
  readonly index: number
  readonly tags: Map<string, string>
  state: InstanceStateName
  env: Record<string, string>
  privateIpAddress: string
  availabilityZone: string
  instanceType: string
  agentVersion: string
  ssmManaged: boolean
  faults: InstanceFaults
  readonly imageId: string
  readonly iamInstanceProfileArn: string | undefined
  readonly reservation: { id: string; launchIndex: number } | undefined
  readonly privateDirs: readonly string[]
  /** Its own network (network: 'private'), else undefined: it shares the machine's. */
  readonly network: PrivateNetwork | undefined
  /** Machine ports forwarded into a private network. */
  readonly forwardPorts: readonly number[]
  /** Directories before the agent's PATH (InstanceSpec.path). */
  readonly path: readonly string[]
  /** The INSTANCE_MARKER value every process this instance starts carries. */
  readonly marker: string
  readonly launchTime: Date
  /** When the agent was last heard from while offline (for LastPingDateTime). */
  private lastSeen: Date
  /** Process groups this instance has started (killed when it dies or the sandbox closes). */
  readonly processGroups = new Set<number>()
  private deathListeners = new Set<() => void>()

  constructor(options: {
    id: string
    dir: string
    index: number
    region: string
    spec: InstanceSpec
    /** Unique to the fleet, so one sandbox never kills another's processes. */
    fleetToken?: string
    /** The fleet's address block, for a private network. */
    addressBlock?: () => AddressBlock
  }) {
    const { id, dir, index, region, spec } = options
    this.id = id
    this.dir = dir
    this.index = index
    this.tags = new Map(Object.entries(spec.tags ?? {}))
    if (spec.name !== undefined) this.tags.set('Name', spec.name)
    this.state = spec.state ?? 'running'
    this.env = { ...spec.env }
    if (spec.network === 'private') {
      if (!options.addressBlock || index >= 240)
        throw new Error(
          'a private network needs an address block with room (at most 240 instances)',
        )
      const block = options.addressBlock()
      this.network = new PrivateNetwork(dir, `${block.prefix}.${index + 10}`, block)
      this.privateIpAddress = this.network.address
    } else {
      this.network = undefined
      this.privateIpAddress =
        spec.privateIpAddress ?? `10.0.${Math.floor(index / 250)}.${(index % 250) + 4}`
    }
    this.forwardPorts = [...(spec.forwardPorts ?? [])]
    this.path = [...(spec.path ?? [])]
    this.availabilityZone = spec.availabilityZone ?? `${region}${'abc'[index % 3]}`
    this.instanceType = spec.instanceType ?? 't3.micro'
    this.agentVersion = spec.agentVersion ?? '3.3.1802.0'
    this.ssmManaged = spec.ssmManaged ?? true
    this.faults = { ...spec.faults }
    this.imageId = spec.imageId ?? 'ami-0sandbox0000000'
    this.iamInstanceProfileArn = spec.iamInstanceProfileArn
    this.reservation = spec.reservation
    this.privateDirs = [...(spec.privateDirs ?? [])]
    this.marker = `${options.fleetToken ?? randomBytes(8).toString('hex')}/${id}`
    this.launchTime = new Date()
    this.lastSeen = new Date()
  }

  /** Path of its network namespace, for `nsenter --net=<netns>`; undefined when shared. */
  get netns(): string | undefined {
    return this.network?.netns
  }

  /** The machine's end of its veth link; undefined when shared. */
  get hostLink(): string | undefined {
    return this.network?.link
  }

  /** The `Name` tag, or undefined. */
  get name(): string | undefined {
    return this.tags.get('Name')
  }

  /** Whether the agent answers: running, managed and not marked offline. */
  get agentOnline(): boolean {
    return this.state === 'running' && this.ssmManaged && !this.faults.agentOffline
  }

  /** SSM's PingStatus for this instance. */
  get pingStatus(): 'Online' | 'ConnectionLost' {
    return this.agentOnline ? 'Online' : 'ConnectionLost'
  }

  /** When the agent last pinged: now while online, else when it was last seen online. */
  get lastPingDateTime(): Date {
    if (this.agentOnline) this.lastSeen = new Date()
    return this.lastSeen
  }

  /** What happens to invocations while the agent cannot be reached. */
  get offlineBehaviour(): OfflineBehaviour {
    return this.faults.agentOffline === 'delivery-timeout' ? 'delivery-timeout' : 'undeliverable'
  }

  /** Marks the agent offline (ConnectionLost) or back online. */
  setAgentOffline(offline: boolean | OfflineBehaviour): void {
    if (offline && this.agentOnline) this.lastSeen = new Date()
    this.faults.agentOffline = offline
  }

  /** Called when the instance dies; returns the unsubscribe function. */
  onDeath(listener: () => void): () => void {
    this.deathListeners.add(listener)
    return () => this.deathListeners.delete(listener)
  }

  /**
   * The host dies now: the process groups of its commands are SIGKILLed, the agent stops
   * answering and EC2 reports it `stopped`. Running invocations never report back. Services
   * that left those groups keep running (tests revive the host and find them), until
   * killAllProcesses() or the sandbox's close.
   */
  die(): void {
    if (this.agentOnline) this.lastSeen = new Date()
    this.killProcessGroups()
    this.state = 'stopped'
    for (const listener of [...this.deathListeners]) listener()
  }

  /** Brings a dead or stopped instance back: running, agent online. */
  revive(): void {
    this.state = 'running'
    this.faults.agentOffline = false
  }

  /**
   * SIGKILLs every process this instance started: its commands' process groups, and the
   * services that left them (found by their INSTANCE_MARKER).
   */
  killAllProcesses(): void {
    this.killProcessGroups()
    killMarkedProcesses(this.marker)
  }

  /** SIGKILLs the process groups of the commands this instance ran. */
  killProcessGroups(): void {
    for (const group of this.processGroups) killProcessGroup(group)
    this.processGroups.clear()
  }
}

/** The PATH the SSM agent gives its commands: systemd's default for services. */
export const SSM_AGENT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

/**
 * The one tool hosts take from the machine's own PATH: `aws`. A host's AWS CLI must honour
 * AWS_ENDPOINT_URL_S3 to reach the sandbox's S3 (CLI 1.29+ / 2.13+), and the one in the
 * agent's PATH here may predate it (Debian 12's is 2.9), so hosts run the CLI the machine's
 * user would run. Everything else comes from the agent's PATH, as on a host.
 */
function hostTools(dir: string): string {
  mkdirSync(dir, { recursive: true })
  const machinePath = `'${(process.env.PATH ?? SSM_AGENT_PATH).replaceAll("'", `'\\''`)}'`
  writeFileSync(join(dir, 'aws'), `#!/bin/sh\nPATH=${machinePath} exec aws "$@"\n`, {
    mode: 0o755,
  })
  return dir
}

/** SIGKILLs a process group, ignoring one that is already gone. */
export function killProcessGroup(groupId: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(-groupId, signal)
  } catch {
    // already gone
  }
}

/** Fleets whose processes are not all killed yet; killed if this process exits first. */
const openFleets = processWideSet<Fleet>('open-fleets', fleets => {
  for (const fleet of fleets) fleet.killAllProcesses()
})

/** The set of instances of one sandbox. */
export class Fleet {
  readonly rootDir: string
  readonly region: string
  /** The INSTANCE_MARKER prefix of this fleet's processes. */
  readonly token = randomBytes(8).toString('hex')
  private readonly byId = new Map<string, SandboxInstance>()
  private addressBlock: AddressBlock | undefined

  /** Tools every host has that the machine's own PATH cannot give them (see hostTools). */
  readonly hostBin: string

  constructor(options: { rootDir: string; region: string }) {
    this.rootDir = options.rootDir
    this.region = options.region
    this.hostBin = hostTools(join(options.rootDir, '.host-bin'))
    openFleets.add(this)
  }

  /** The PATH of the agent's commands on `instance`. */
  agentPath(instance: SandboxInstance): string {
    return [this.hostBin, ...instance.path, SSM_AGENT_PATH].join(':')
  }

  /** Creates an instance and its directory. */
  add(spec: InstanceSpec = {}): SandboxInstance {
    const id = spec.id ?? `i-0${randomBytes(8).toString('hex')}`
    if (!isInstanceId(id)) {
      throw new Error(
        `instance id ${JSON.stringify(id)} is not valid: use i- and 8 or 17 hex digits`,
      )
    }
    if (this.byId.has(id)) throw new Error(`instance id ${id} already exists in the sandbox`)
    const dir = join(this.rootDir, id)
    mkdirSync(dir, { recursive: true })
    const instance = new SandboxInstance({
      id,
      dir,
      index: this.byId.size,
      region: this.region,
      spec,
      fleetToken: this.token,
      addressBlock: () => (this.addressBlock ??= allocateAddressBlock()),
    })
    this.byId.set(id, instance)
    return instance
  }

  /** The instance with this id, or undefined. */
  get(id: string): SandboxInstance | undefined {
    return this.byId.get(id)
  }

  /** The instance with this id; throws when there is none. */
  require(id: string): SandboxInstance {
    const instance = this.byId.get(id)
    if (!instance) throw new Error(`no sandbox instance ${id}`)
    return instance
  }

  /** Instances in creation order. */
  list(): SandboxInstance[] {
    return [...this.byId.values()]
  }

  /** The first instance whose Name tag is `name`. */
  byName(name: string): SandboxInstance | undefined {
    return this.list().find(instance => instance.name === name)
  }

  /** Kills every process any instance started (the sandbox's close; also at process exit). */
  killAllProcesses(): void {
    for (const instance of this.byId.values()) instance.killProcessGroups()
    killMarkedProcesses(`${this.token}/`)
    for (const instance of this.byId.values()) instance.network?.close()
    openFleets.delete(this)
  }
}

/**
 * EC2's filter-value wildcards: `*` matches any run of characters (including none), `?`
 * exactly one, and a backslash escapes the next character. Matching is case-sensitive and
 * anchored at both ends.
 */
export function ec2WildcardMatch(pattern: string, value: string): boolean {
  let source = '^'
  for (let i = 0; i < pattern.length; i += 1) {
    const char = pattern[i] as string
    if (char === '\\' && i + 1 < pattern.length) {
      i += 1
      source += escapeRegExp(pattern[i] as string)
    } else if (char === '*') source += '[\\s\\S]*'
    else if (char === '?') source += '[\\s\\S]'
    else source += escapeRegExp(char)
  }
  return new RegExp(`${source}$`, 'u').test(value)
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
}
