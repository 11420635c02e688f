import { backoffWindow, sleep as realSleep, type Logger } from '../../kit/src/index.js'
import { FleetCommands, type InstanceOutcome } from '../../fleet/src/index.js'
import type { CheckReport, CheckTiming, TargetResult } from './http.js'

export interface SsmCheckOptions extends CheckTiming {
  instanceIds: readonly string[]
  /** Shell code that exits 0 when the host is healthy, e.g. `systemctl is-active app`. */
  command: string
}

/**
 * Runs the health command on every host through SSM (for hosts the runner cannot reach),
 * retrying the hosts that are not healthy yet. Every SSM guarantee of FleetCommands holds:
 * an undeliverable or timed-out check is unhealthy, never healthy.
 */
export async function checkViaSsm(
  makeCommands: () => FleetCommands,
  options: SsmCheckOptions,
  logger: Logger,
): Promise<CheckReport> {
  const wait = options.sleep ?? realSleep
  const started = Date.now()
  const deadline = started + options.timeoutMs
  if (options.initialDelayMs > 0) await wait(options.initialDelayMs)
  const last = new Map<string, { outcome: InstanceOutcome; attempts: number }>()
  let pending = [...options.instanceIds]
  for (let n = 1; n <= options.retries && pending.length > 0; n++) {
    const commands = makeCommands()
    const command = {
      instanceIds: pending,
      commands: [options.command],
      comment: 'health check',
      executionTimeoutSeconds: Math.max(1, Math.ceil(options.attemptTimeoutMs / 1000)),
      deliveryTimeoutSeconds: 60,
      maxConcurrency: '100%',
      maxErrors: '100%',
    }
    const outcomes = await commands.wait(
      await commands.send(command),
      commands.deadlineFor(command, Date.now()),
    )
    for (const outcome of outcomes) {
      last.set(outcome.instanceId, { outcome, attempts: n })
      const elapsed = Date.now() - started
      logger.info(
        `${outcome.instanceId} attempt ${n}/${options.retries}: ${
          outcome.verdict === 'success' ? 'healthy' : `unhealthy (${outcome.reason})`
        }, ${elapsed} ms`,
      )
    }
    pending = outcomes.filter(o => o.verdict !== 'success').map(o => o.instanceId)
    const window = backoffWindow(n - 1, options.intervalMs)
    if (pending.length === 0 || n === options.retries || Date.now() + window >= deadline) break
    await wait(window)
  }
  const results: TargetResult[] = options.instanceIds.map(id => {
    const seen = last.get(id)
    return {
      target: id,
      healthy: seen?.outcome.verdict === 'success',
      status:
        seen?.outcome.exitCode === undefined
          ? (seen?.outcome.status ?? '')
          : String(seen.outcome.exitCode),
      attempts: seen?.attempts ?? 0,
      durationMs: Date.now() - started,
      detail: seen?.outcome.verdict === 'success' ? '' : (seen?.outcome.reason ?? 'not checked'),
    }
  })
  return {
    healthy: results.every(r => r.healthy),
    attempts: Math.max(0, ...results.map(r => r.attempts)),
    durationMs: Date.now() - started,
    results,
  }
}
