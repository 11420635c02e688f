// The status action's job summary: one row per instance (what runs there, what it can roll
// back to, its last deploy, the lock), drifted, locked, offline and unreadable hosts flagged.
// Every value came from a host or a tag: each goes through escapeMarkdown.
import { escapeMarkdown } from '../../kit/src/index.js'

/** One host's status as the summary reads it (packages/fleet's HostStatusReport fits). */
export interface StatusRow {
  instanceId: string
  name: string
  /** ok, drifted, locked, offline, no-release or unreadable. */
  state: string
  reason: string
  liveVersion: string
  rollbackVersions: readonly string[]
  lastDeploy?: { time: string; version: string; status: string; mode: string } | undefined
  lock?: { holder: string; since: string } | undefined
  liveSlot?: string | undefined
}

/** What the status page shows. */
export interface StatusInput {
  environment?: string | undefined
  /** The desired version from desired.json; undefined when none was read. */
  desiredVersion?: string | undefined
  /** Why there is no desired version (no bucket given, no desired.json yet). */
  desiredNote?: string | undefined
  hosts: readonly StatusRow[]
}

const FLAGS: Record<string, string> = {
  ok: '✅ ok',
  drifted: '⚠️ drifted',
  locked: '🔒 locked',
  offline: '📴 offline',
  'no-release': '⬜ no release',
  unreadable: '❓ unreadable',
}

const text = (value: string | undefined) => escapeMarkdown(value ?? '')
const code = (value: string | undefined) => (value ? `<code>${text(value)}</code>` : '—')
/** Rollback targets shown in a cell before "and N more". */
const ROLLBACK_SHOWN = 5

function lastDeployCell(last: StatusRow['lastDeploy']): string {
  if (!last || (!last.version && !last.status)) return '—'
  const mode = last.mode === 'rollback' ? ' (rollback)' : ''
  return `${code(last.version)} ${text(last.status)}${mode}${last.time ? ` at ${text(last.time)}` : ''}`
}

function rollbackCell(versions: readonly string[]): string {
  if (versions.length === 0) return '—'
  const shown = versions.slice(0, ROLLBACK_SHOWN).map(code).join(', ')
  const more = versions.length - ROLLBACK_SHOWN
  return more > 0 ? `${shown} and ${more} more` : shown
}

function row(host: StatusRow): string {
  const flag = FLAGS[host.state] ?? `❓ ${text(host.state)}`
  const name = host.name ? ` (${text(host.name)})` : ''
  const live = `${code(host.liveVersion)}${host.liveSlot ? ` on ${text(host.liveSlot)}` : ''}`
  const lock = host.lock
    ? `${text(host.lock.holder) || 'unknown'}${host.lock.since ? ` since ${text(host.lock.since)}` : ''}`
    : '—'
  const cells = [
    `<code>${text(host.instanceId)}</code>${name}`,
    `${flag}${host.reason && host.state !== 'ok' ? `: ${text(host.reason)}` : ''}`,
    live,
    rollbackCell(host.rollbackVersions),
    lastDeployCell(host.lastDeploy),
    lock,
  ]
  return `| ${cells.join(' | ')} |`
}

/** The count of hosts in `state`, as a phrase, or nothing when there are none. */
function counted(hosts: readonly StatusRow[], state: string, words: string): string[] {
  const count = hosts.filter(h => h.state === state).length
  return count > 0 ? [`${count} ${words}`] : []
}

/** The status action's job summary in GitHub Markdown. */
export function renderStatus(input: StatusInput): string {
  const { hosts } = input
  const where = input.environment ? ` of ${text(input.environment)}` : ''
  const flagged = [
    ...counted(hosts, 'drifted', 'drifted'),
    ...counted(hosts, 'locked', 'locked'),
    ...counted(hosts, 'offline', 'offline'),
    ...counted(hosts, 'no-release', 'without a release'),
    ...counted(hosts, 'unreadable', 'unreadable'),
  ]
  const lines = [
    `## Status${where}: ${hosts.length} instance(s)${flagged.length > 0 ? `, ${flagged.join(', ')}` : ', all ok'}`,
    '',
    input.desiredVersion !== undefined
      ? `Desired version (desired.json): ${code(input.desiredVersion)}`
      : `No desired version${input.desiredNote ? ` (${text(input.desiredNote)})` : ''}: drift is not judged.`,
    '',
    '| Instance | State | Live | Can roll back to | Last deploy | Lock |',
    '|---|---|---|---|---|---|',
    ...hosts.map(row),
    '',
  ]
  return lines.join('\n')
}
