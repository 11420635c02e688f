import { EXIT_CODES } from '../../remote/src/index.js'
import type { InstanceResult } from './results.js'

/** What one instance serves after the run: a version, or unknown. */
export type LiveVersion = { version: string } | { unknown: true }

/** True when the instance went back to its previous release (by the engine or afterwards). */
export function wasRolledBack(result: InstanceResult, fleetStatus: string | undefined): boolean {
  return (
    result.rolledBack === true ||
    result.status === 'rolled-back' ||
    (fleetStatus === 'rolled-back' && result.status === 'success')
  )
}

// Exit codes after which the previous release is known to serve: nothing changed.
const UNCHANGED = new Set<number>([EXIT_CODES.failed, EXIT_CODES.lockTimeout])

/**
 * The version an instance serves now. A fleet status of `rolled-back` wins over an instance's
 * own success: verify-health rolls back hosts that deployed fine.
 */
export function liveVersionOf(
  result: InstanceResult,
  fleetStatus: string | undefined,
): LiveVersion {
  const previous = result.previousVersion ?? ''
  const known = (version: string | undefined): LiveVersion =>
    version ? { version } : { unknown: true }
  if (wasRolledBack(result, fleetStatus)) return known(previous)
  if (result.status === 'success') return known(result.version)
  const exit = result.exitCode
  // null: the engine never ran (not delivered, cancelled before it started).
  if (exit === null || exit === undefined || UNCHANGED.has(exit)) return known(previous)
  return { unknown: true }
}

/** How many instances serve each version, most first; `unknown` counts the rest. */
export interface LiveFleet {
  versions: { version: string; count: number }[]
  unknown: number
}

/**
 * What the fleet serves now. Without per-instance results it follows the status: a success
 * serves the new version, a failure or a rollback the previous one.
 */
export function liveFleet(input: {
  status?: string | undefined
  version?: string | undefined
  previousVersion?: string | undefined
  deployResults?: InstanceResult[] | undefined
}): LiveFleet {
  const results = input.deployResults ?? []
  if (results.length === 0) {
    const live =
      input.status === 'success'
        ? input.version
        : input.status === 'failed' || input.status === 'rolled-back'
          ? input.previousVersion
          : undefined
    return live
      ? { versions: [{ version: live, count: 0 }], unknown: 0 }
      : { versions: [], unknown: 1 }
  }
  const counts = new Map<string, number>()
  let unknown = 0
  for (const result of results) {
    const live = liveVersionOf(result, input.status)
    if ('version' in live) counts.set(live.version, (counts.get(live.version) ?? 0) + 1)
    else unknown++
  }
  const versions = [...counts.entries()]
    .map(([version, count]) => ({ version, count }))
    .sort(
      (a, b) =>
        b.count - a.count ||
        Number(b.version === input.version) - Number(a.version === input.version) ||
        a.version.localeCompare(b.version),
    )
  return { versions, unknown }
}
