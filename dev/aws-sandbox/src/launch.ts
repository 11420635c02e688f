/**
 * Instances that launch, as RunInstances makes them: a new directory-instance in `pending`,
 * `running` a moment later, its user data run once as root at boot (cloud-init's
 * scripts-user: only a `#!` script runs), and its SSM agent registering, Online, a moment
 * after it runs. TerminateInstances: `shutting-down` at once (its processes killed, the agent
 * gone), `terminated` a moment later.
 */
import { randomBytes } from 'node:crypto'
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { runScript } from './agent-script.js'
import type { Fleet, InstanceSpec, InstanceStateName, SandboxInstance } from './instances.js'
import { ServiceError } from './protocol.js'

/** How launches behave; read at each launch, so tests may change them while the sandbox runs. */
export interface LaunchSettings {
  /**
   * What every launched instance is besides what RunInstances says: privateDirs, network,
   * path, env, faults… (its `id`, `name`, `state` and `privateIpAddress` are ignored: each
   * instance has its own). The request's tags go over its tags, its InstanceType over its
   * instanceType (default `t3.micro`). `ssmManaged: false` is an image without the SSM
   * agent: it never comes online.
   */
  spec: InstanceSpec
  /** `pending` → `running` after this long. */
  runningAfterMs: number
  /** The agent is Online this long after the instance runs (user data runs meanwhile). */
  agentOnlineAfterMs: number
  /** `shutting-down` → `terminated` after this long. */
  terminatedAfterMs: number
  /** The account's instance limit: a MinCount above it is refused, a MaxCount above it cut. */
  instanceLimit: number
}

/** The default timings: a real launch takes a minute, the sandbox's a fraction of a second. */
export const DEFAULT_LAUNCH_SETTINGS: Readonly<Omit<LaunchSettings, 'spec'>> = {
  runningAfterMs: 100,
  agentOnlineAfterMs: 250,
  terminatedAfterMs: 100,
  instanceLimit: 20,
}

/** A RunInstances request that passed EC2's checks. */
export interface LaunchRequest {
  imageId: string
  minCount: number
  maxCount: number
  instanceType: string | undefined
  /** The tags of its `instance` tag specifications. */
  tags: Record<string, string>
  /** Decoded user data. */
  userData: Buffer | undefined
  iamInstanceProfileArn: string | undefined
}

/** What a launched instance's boot did. */
export interface BootRecord {
  instance: SandboxInstance
  userData: Buffer | undefined
  /** Exit code of the user data script; undefined when none ran (none given, or no `#!`). */
  userDataExitCode: number | undefined
  /** Resolves once cloud-init is done (`var/lib/cloud/instance/boot-finished` written). */
  finished: Promise<void>
  /** Resolves once its agent is Online. */
  online: Promise<void>
}

/** Where cloud-init keeps its files on an instance (relative to the instance directory). */
export const CLOUD_INIT_PATHS = {
  instance: 'var/lib/cloud/instance',
  userData: 'var/lib/cloud/instance/user-data.txt',
  script: 'var/lib/cloud/instance/scripts/part-001',
  bootFinished: 'var/lib/cloud/instance/boot-finished',
  outputLog: 'var/log/cloud-init-output.log',
} as const

/** What the launcher asks of the rest of the sandbox. */
export interface LaunchHooks {
  /** Before the instance runs: e.g. forward the sandbox's endpoints into its own network. */
  prepare(instance: SandboxInstance): Promise<void>
  /** The environment of a root service on the instance; its user data runs in it. */
  environment(instance: SandboxInstance): Record<string, string>
  /** Its agent has registered and is Online (State Manager applies its associations). */
  agentOnline(instance: SandboxInstance): void
}

function singleQuoted(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`
}

/** Launches and terminates the sandbox's instances. */
export class Launcher {
  private readonly boots = new Map<string, BootRecord>()
  private readonly timers = new Set<NodeJS.Timeout>()
  private closed = false

  constructor(
    private readonly fleet: Fleet,
    readonly settings: LaunchSettings,
    private readonly hooks: LaunchHooks,
  ) {}

  /** RunInstances: creates the instances (`pending`) and starts their boot. */
  launch(request: LaunchRequest): SandboxInstance[] {
    const limit = this.settings.instanceLimit
    if (request.minCount > limit) {
      throw new ServiceError(
        'InstanceLimitExceeded',
        `You have requested more instances (${request.minCount}) than your current instance limit of ${limit} allows for the specified instance type.`,
      )
    }
    const {
      id: _id,
      name: _name,
      state: _state,
      privateIpAddress: _ip,
      ...spec
    } = this.settings.spec
    const hasAgent = spec.ssmManaged ?? true
    const reservationId = `r-0${randomBytes(8).toString('hex')}`
    return Array.from({ length: Math.min(request.maxCount, limit) }, (_, launchIndex) => {
      const instance = this.fleet.add({
        ...spec,
        tags: { ...spec.tags, ...request.tags },
        state: 'pending',
        ssmManaged: false,
        imageId: request.imageId,
        reservation: { id: reservationId, launchIndex },
        ...(request.instanceType === undefined ? {} : { instanceType: request.instanceType }),
        ...(request.iamInstanceProfileArn === undefined
          ? {}
          : { iamInstanceProfileArn: request.iamInstanceProfileArn }),
      })
      this.boot(instance, hasAgent, request.userData)
      return instance
    })
  }

  /** TerminateInstances: each instance's state before and after the call. */
  terminate(
    instances: readonly SandboxInstance[],
  ): { instance: SandboxInstance; previous: InstanceStateName }[] {
    return instances.map(instance => {
      const previous = instance.state
      if (previous !== 'shutting-down' && previous !== 'terminated') {
        // Its commands never report back, its services stop, its agent is gone.
        instance.die()
        instance.killAllProcesses()
        instance.state = 'shutting-down'
        this.after(this.settings.terminatedAfterMs, () => {
          instance.state = 'terminated'
        })
      }
      return { instance, previous }
    })
  }

  /** How a launched instance booted; undefined for instances the sandbox started with. */
  bootOf(instanceId: string): BootRecord | undefined {
    return this.boots.get(instanceId)
  }

  /** Stops every pending boot step (the sandbox is closing). */
  close(): void {
    this.closed = true
    for (const timer of this.timers) clearTimeout(timer)
    this.timers.clear()
  }

  private after(ms: number, action: () => void | Promise<void>): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      if (!this.closed) void action()
    }, ms)
    timer.unref()
    this.timers.add(timer)
  }

  private boot(instance: SandboxInstance, hasAgent: boolean, userData: Buffer | undefined): void {
    let finish = () => {}
    let online = () => {}
    const record: BootRecord = {
      instance,
      userData,
      userDataExitCode: undefined,
      finished: new Promise(resolve => (finish = resolve)),
      online: new Promise(resolve => (online = resolve)),
    }
    this.boots.set(instance.id, record)
    this.after(this.settings.runningAfterMs, async () => {
      if (instance.state !== 'pending') return
      try {
        await this.hooks.prepare(instance)
      } catch {
        // The host could not be set up (its network): the launch fails, as EC2's does.
        instance.state = 'terminated'
        return
      }
      if (instance.state !== 'pending' || this.closed) return
      instance.state = 'running'
      if (hasAgent) {
        this.after(this.settings.agentOnlineAfterMs, () => {
          if (instance.state !== 'running') return
          instance.ssmManaged = true
          online()
          this.hooks.agentOnline(instance)
        })
      }
      try {
        record.userDataExitCode = await this.runUserData(instance, userData)
      } catch (error) {
        // The sandbox closed under the boot (its directory is gone); else a sandbox bug.
        if (!this.closed) throw error
      } finally {
        finish()
      }
    })
  }

  /**
   * cloud-init's final stage: the user data kept in user-data.txt and, when it is a `#!`
   * script, run once as root with the bare service environment, its output (both streams)
   * appended to cloud-init-output.log.
   */
  private async runUserData(
    instance: SandboxInstance,
    userData: Buffer | undefined,
  ): Promise<number | undefined> {
    const path = (relative: string) => join(instance.dir, relative)
    const log = path(CLOUD_INIT_PATHS.outputLog)
    mkdirSync(dirname(log), { recursive: true })
    mkdirSync(path(CLOUD_INIT_PATHS.instance), { recursive: true })
    const startedAt = Date.now()
    appendFileSync(
      log,
      `Cloud-init v. sandbox running 'modules:final' at ${new Date(startedAt).toUTCString()}.\n`,
    )
    let exitCode: number | undefined
    if (userData) writeFileSync(path(CLOUD_INIT_PATHS.userData), userData, { mode: 0o600 })
    if (userData && userData.subarray(0, 2).toString('latin1') === '#!') {
      const script = path(CLOUD_INIT_PATHS.script)
      mkdirSync(dirname(script), { recursive: true })
      writeFileSync(script, userData, { mode: 0o700 })
      try {
        const run = runScript({
          instance,
          commandId: 'cloud-init',
          // The script runs by its own #! line, as cloud-init runs it.
          commands: [`exec ${singleQuoted(script)}`],
          workingDirectory: instance.dir,
          env: this.hooks.environment(instance),
          readLimits: { stdout: 0, stderr: 0 },
          files: { script: `${script}.runner`, stdout: log, stderr: log },
        })
        const outcome = await run.done
        exitCode = outcome.exitCode ?? -1
      } catch (error) {
        appendFileSync(log, `${error instanceof Error ? error.message : String(error)}\n`)
        exitCode = 127
      }
      if (exitCode !== 0) {
        appendFileSync(
          log,
          `cc_scripts_user.py[WARNING]: Failed to run module scripts-user (scripts in /var/lib/cloud/instance/scripts)\n`,
        )
      }
    }
    const seconds = ((Date.now() - startedAt) / 1000).toFixed(2)
    appendFileSync(
      log,
      `Cloud-init v. sandbox finished. Datasource DataSourceEc2. Up ${seconds} seconds\n`,
    )
    writeFileSync(path(CLOUD_INIT_PATHS.bootFinished), `${new Date().toISOString()}\n`)
    return exitCode
  }
}
