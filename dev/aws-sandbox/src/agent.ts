/**
 * The SSM agent on every sandbox instance: it takes a delivered invocation, marks it
 * InProgress, enforces its executionTimeout, runs its commands (a real `sh`, see
 * agent-script.ts, or the fast handler), uploads the full output when the command asks, and
 * reports how it ended. The host's fault knobs act here: a slow host, a host that dies.
 */
import { readFileSync, statSync } from 'node:fs'
import { isAbsolute, join } from 'node:path'
import { type RunningScript, runScript } from './agent-script.js'
import type { FastCommandHandler, FastResult, Fleet, SandboxInstance } from './instances.js'
import { OUTPUT_LIMITS } from './ssm-answers.js'
import {
  type CommandRecord,
  type InvocationRecord,
  type InvocationStatus,
  later,
  setStatus,
  TERMINAL,
} from './ssm-records.js'

/** What the agent needs to know; read at each use, so it may change while the sandbox runs. */
export interface AgentSettings {
  region: string
  /** Environment given to every command on every instance (before the instance's own env). */
  instanceEnv: Record<string, string>
  /** Computes results in fast command mode (default: exit 0, no output). */
  fastHandler: FastCommandHandler
  /**
   * Uploads an invocation's full output when the command names OutputS3BucketName, as the
   * agent does (`<prefix>/<command>/<instance>/awsrunShellScript/0.awsrunShellScript/stdout`
   * and `stderr`), and returns the URL to report. Undefined: the option is only echoed.
   */
  outputUploader: ((bucket: string, key: string, body: Buffer) => Promise<string>) | undefined
}

/**
 * The environment a root service gets on `instance` under systemd (the SSM agent, cloud-init):
 * the minimal PATH, no HOME, no LANG, then the sandbox's AWS environment (the instance role)
 * and the instance's own `env`.
 */
export function serviceEnvironment(
  fleet: Fleet,
  settings: Pick<AgentSettings, 'instanceEnv'>,
  instance: SandboxInstance,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    PATH: fleet.agentPath(instance),
    ...extra,
    ...settings.instanceEnv,
    ...instance.env,
  }
}

/** How the agent tells SSM that an invocation ended. */
export type AgentReport = (
  command: CommandRecord,
  invocation: InvocationRecord,
  status: InvocationStatus,
  details: string,
  responseCode: number,
) => void

/** The agent of every instance of one fleet. */
export class Agent {
  constructor(
    private readonly fleet: Fleet,
    private readonly settings: AgentSettings,
    private readonly report: AgentReport,
  ) {}

  /** Starts a delivered invocation on its instance. */
  start(command: CommandRecord, invocation: InvocationRecord): void {
    const instance = invocation.instance
    setStatus(invocation, 'InProgress', 'In Progress')
    invocation.startedAt = new Date()
    invocation.release = instance.onDeath(() => this.lose(invocation))
    later(invocation, command.executionTimeoutSeconds * 1000, () => {
      if (TERMINAL.has(invocation.status) || invocation.lost) return
      invocation.stopping = 'timeout'
      if (invocation.script) invocation.script.kill()
      else this.report(command, invocation, 'TimedOut', 'Execution Timed Out', -1)
    })
    if (instance.faults.dieAfterMs !== undefined) {
      later(invocation, instance.faults.dieAfterMs, () => {
        if (!TERMINAL.has(invocation.status)) instance.die()
      })
    }
    later(invocation, instance.faults.slowMs ?? 0, () => {
      if (TERMINAL.has(invocation.status) || invocation.lost || invocation.stopping) return
      if (instance.faults.commandMode === 'fast') this.runFast(command, invocation)
      else this.runShell(command, invocation)
    })
  }

  /**
   * CancelCommand reaching the agent: a running script is killed and the invocation is
   * `Cancelling` until it exits. False when nothing runs (SSM then cancels it itself).
   */
  cancel(invocation: InvocationRecord): boolean {
    if (invocation.status !== 'InProgress' || !invocation.script || invocation.lost) return false
    invocation.stopping = 'cancel'
    setStatus(invocation, 'Cancelling', 'Cancelling')
    invocation.script.kill()
    return true
  }

  private workingDirectoryOf(command: CommandRecord, instance: SandboxInstance): string {
    const requested = command.workingDirectory
    if (requested === '') return instance.dir
    return isAbsolute(requested) ? requested : join(instance.dir, requested)
  }

  private runShell(command: CommandRecord, invocation: InvocationRecord): void {
    const instance = invocation.instance
    const cwd = this.workingDirectoryOf(command, instance)
    let isDirectory = false
    try {
      isDirectory = statSync(cwd).isDirectory()
    } catch {
      isDirectory = false
    }
    if (!isDirectory) {
      invocation.stderr = `failed to run commands: workingDirectory ${cwd} does not exist or is not a directory\n`
      return this.report(command, invocation, 'Failed', 'Failed', 1)
    }
    let script: RunningScript
    try {
      script = runScript({
        instance,
        commandId: command.id,
        commands: command.commands,
        workingDirectory: cwd,
        env: serviceEnvironment(this.fleet, this.settings, instance, {
          AWS_SSM_INSTANCE_ID: instance.id,
          AWS_SSM_REGION_NAME: this.settings.region,
        }),
        readLimits: {
          stdout: OUTPUT_LIMITS.standardOutput + 1,
          stderr: OUTPUT_LIMITS.standardError + 1,
        },
      })
    } catch (error) {
      // The host could not start the script (no fds or processes left): the agent reports a failure.
      invocation.stderr = `failed to run commands: ${error instanceof Error ? error.message : String(error)}\n`
      return this.report(command, invocation, 'Failed', 'Failed', 1)
    }
    invocation.script = script
    void script.done.then(async outcome => {
      invocation.script = undefined
      if (invocation.lost || TERMINAL.has(invocation.status)) return
      invocation.stdout = outcome.stdout
      invocation.stderr = outcome.stderr
      // The agent uploads the full output before it reports the result.
      await this.uploadOutput(command, invocation, script.orchestrationDir)
      if (invocation.lost || TERMINAL.has(invocation.status)) return
      if (invocation.stopping === 'timeout')
        return this.report(command, invocation, 'TimedOut', 'Execution Timed Out', -1)
      if (invocation.stopping === 'cancel')
        return this.report(command, invocation, 'Cancelled', 'Cancelled', -1)
      const code = outcome.exitCode ?? -1
      if (code === 0) this.report(command, invocation, 'Success', 'Success', 0)
      else this.report(command, invocation, 'Failed', 'Failed', code)
    })
  }

  private runFast(command: CommandRecord, invocation: InvocationRecord): void {
    void Promise.resolve()
      .then(() =>
        this.settings.fastHandler({
          instance: invocation.instance,
          commandId: command.id,
          commands: command.commands,
          workingDirectory: this.workingDirectoryOf(command, invocation.instance),
        }),
      )
      .then(
        result => result,
        (error: unknown): FastResult => ({
          exitCode: 1,
          stderr: `${error instanceof Error ? error.message : String(error)}\n`,
        }),
      )
      .then(result => {
        const complete = () => {
          if (invocation.lost || TERMINAL.has(invocation.status) || invocation.stopping) return
          invocation.stdout = result.stdout ?? ''
          invocation.stderr = result.stderr ?? ''
          if (result.exitCode === 0) this.report(command, invocation, 'Success', 'Success', 0)
          else this.report(command, invocation, 'Failed', 'Failed', result.exitCode)
        }
        const duration = result.durationMs ?? 0
        if (duration > 0) later(invocation, duration, complete)
        else complete()
      })
  }

  private async uploadOutput(
    command: CommandRecord,
    invocation: InvocationRecord,
    dir: string,
  ): Promise<void> {
    const bucket = command.output.OutputS3BucketName
    const upload = this.settings.outputUploader
    if (bucket === '' || !upload) return
    const prefix = command.output.OutputS3KeyPrefix.replace(/\/+$/, '')
    for (const stream of ['stdout', 'stderr'] as const) {
      let body: Buffer
      try {
        body = readFileSync(join(dir, stream))
      } catch {
        continue
      }
      const key = [
        prefix,
        command.id,
        invocation.instance.id,
        'awsrunShellScript/0.awsrunShellScript',
        stream,
      ]
        .filter(part => part !== '')
        .join('/')
      try {
        invocation.outputUrls[stream] = await upload(bucket, key, body)
      } catch {
        // As on a host whose role may not write the bucket: the result is still reported.
      }
    }
  }

  /** The host died under a running invocation: it never reports back. */
  private lose(invocation: InvocationRecord): void {
    if (TERMINAL.has(invocation.status)) return
    invocation.lost = true
    invocation.script?.kill()
    for (const timer of invocation.timers) clearTimeout(timer)
    invocation.timers.clear()
  }
}
