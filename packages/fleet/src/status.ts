/**
 * How one host ended, as the `results` output names it:
 * - `success`: the new release serves;
 * - `rolled-back`: it was switched, failed, and the previous release serves again;
 * - `failed-before-switch`: it failed before the switch, nothing changed on it;
 * - `untouched`: SSM never ran the command there (it stopped at `max-errors`);
 * - `cancelled`: the run was cancelled before the host finished;
 * - `failed`: anything else (the rollback failed, the host died or timed out, the command
 *   could not be delivered): its state is not known to be the previous release.
 */
export type HostStatus =
  'success' | 'rolled-back' | 'failed-before-switch' | 'untouched' | 'cancelled' | 'failed'

/** The overall status of a deploy, as the `status` output names it. */
export type FleetStatus = 'success' | 'failed' | 'rolled-back' | 'partial'

/** Hosts that are known to serve the release they had before this run. */
const SERVES_PREVIOUS: ReadonlySet<HostStatus> = new Set([
  'rolled-back',
  'failed-before-switch',
  'untouched',
])

/**
 * The fleet's status from its hosts' statuses:
 * - `success` when every host deployed;
 * - `partial` when some did and some did not (the fleet serves two releases);
 * - `rolled-back` when none did, at least one rolled back, and every host is known to serve
 *   its previous release (rolled back, failed before the switch, or untouched);
 * - `failed` otherwise: nothing deployed and nothing rolled back, or some host cancelled or
 *   in an unknown state.
 */
export function fleetStatus(hosts: readonly HostStatus[]): FleetStatus {
  if (hosts.length === 0) return 'failed'
  const deployed = hosts.filter(status => status === 'success').length
  if (deployed === hosts.length) return 'success'
  if (deployed > 0) return 'partial'
  const previousEverywhere = hosts.every(status => SERVES_PREVIOUS.has(status))
  return previousEverywhere && hosts.includes('rolled-back') ? 'rolled-back' : 'failed'
}
