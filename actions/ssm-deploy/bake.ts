// Bake time: after each deploy wave but the last, wait, then check the wave's hosts again
// over SSM before the next wave starts. A WaveGate built here, since fleet must not know health.
import { formatDuration, shellQuote, type Logger } from '../../packages/kit/src/index.js'
import type { FleetCommands, GateFailures, Wave, WaveGate } from '../../packages/fleet/src/index.js'
import { checkViaSsm } from '../../packages/health/src/index.js'
import type { RemoteOptions } from '../../packages/remote/src/index.js'

/** How long to bake, and how the check on a host runs. */
export interface BakeOptions {
  bakeTimeMs: number
  remote: RemoteOptions
  /** How long one check may take on a host (the deploy's `timeout`). */
  attemptTimeoutMs: number
  makeCommands: () => FleetCommands
  sleep: (ms: number) => Promise<void>
}

/**
 * The shell a host runs to check the release it serves: health-url with curl (a 2xx or 3xx
 * answer), then health-command in `<deploy-dir>/current`, as run-as when set (runuser, as the
 * engine runs its hooks). Undefined when neither is set: baking then only waits.
 */
export function bakeCheckCommand(remote: RemoteOptions): string | undefined {
  const parts: string[] = []
  if (remote.healthUrl !== undefined) {
    parts.push(
      `curl -fsS -o /dev/null --max-time 10 -- ${shellQuote(remote.healthUrl, 'health-url')}`,
    )
  }
  if (remote.healthCommand !== undefined) {
    const current = shellQuote(`${remote.deployDir}/current`, 'deploy-dir')
    const code = shellQuote(remote.healthCommand, 'health-command')
    const variables = `DEPLOY_DIR=${shellQuote(remote.deployDir, 'deploy-dir')} RELEASE_DIR=${current}`
    parts.push(
      remote.runAs === undefined
        ? `(cd -- ${current} && env ${variables} bash -c ${code})`
        : `(cd -- ${current} && runuser -u ${shellQuote(remote.runAs, 'run-as')} -- env ${variables} bash -c ${code})`,
    )
  }
  return parts.length > 0 ? parts.join(' && ') : undefined
}

/** The bake gate, or undefined when `bake-time` is 0. */
export function bakeGate(options: BakeOptions, logger: Logger): WaveGate | undefined {
  if (options.bakeTimeMs <= 0) return undefined
  const command = bakeCheckCommand(options.remote)
  const { healthRetries = 3, healthIntervalMs = 2000 } = options.remote
  return {
    name: 'bake',
    async afterWave(wave: Wave, serving: readonly string[]): Promise<GateFailures> {
      if (wave.purpose !== 'deploy' || wave.number >= wave.of) return new Map()
      logger.info(
        `wave ${wave.number} of ${wave.of}: baking ${formatDuration(options.bakeTimeMs)}` +
          `${command ? `, then checking ${serving.length} host(s)` : ' (no health-url or health-command: nothing to check)'}`,
      )
      if (!command) {
        await options.sleep(options.bakeTimeMs)
        return new Map()
      }
      const check = await checkViaSsm(
        options.makeCommands,
        {
          instanceIds: serving,
          command,
          retries: healthRetries,
          intervalMs: healthIntervalMs,
          initialDelayMs: options.bakeTimeMs,
          attemptTimeoutMs: options.attemptTimeoutMs,
          timeoutMs: options.bakeTimeMs + options.attemptTimeoutMs * healthRetries,
          sleep: options.sleep,
        },
        logger,
      )
      return new Map(
        check.results
          .filter(result => !result.healthy)
          .map(result => [
            result.target,
            `unhealthy after ${formatDuration(options.bakeTimeMs)} of bake time: ${result.detail}`,
          ]),
      )
    },
  }
}
