// The host status probe: a short read-only bash script (status.sh) that reports what the
// engine's layout under the deploy dir says, as one `DEPLOY_STATUS {json}` line; its renderer
// into SSM commands, and the parser of that line (remote output is hostile: every field is
// checked, and anything malformed is left out or makes the whole line unreadable).
import { shellQuote } from '../../kit/src/index.js'
import { validateDeployDir } from './render.js'
import { STATUS_SCRIPT } from './status-script.generated.js'

/** The prefix of the probe's one line; the JSON object follows after one space. */
export const STATUS_PREFIX = 'DEPLOY_STATUS '

/** The end of the embedded probe in the commands; no line of status.sh is this. */
const STATUS_END = 'EC2D_STATUS_END'

/** A release on the host and its last outcome in the history (`good`, `failed`, … or ''). */
export interface ReleaseOnHost {
  release: string
  version: string
  status: string
}

/** The last line of the host's history, its fields checked on the host ('' when not valid). */
export interface LastDeploy {
  time: string
  release: string
  version: string
  run: string
  mode: string
  status: string
  /** Set when the line could not be read (too long). */
  problem?: string
}

/** The lock's holder while another run holds it, as that run wrote it. */
export interface LockHolder {
  holder: string
  /** UTC time the holder started ('' when its text did not say). */
  since: string
}

/** What the probe found on one host. */
export interface HostState {
  /** False when the deploy dir does not exist: nothing was ever deployed there. */
  deployDirPresent: boolean
  /** Why the layout could not be read (an untrusted directory…); nothing inside was read. */
  problem?: string
  /** The release `current` points to ('' when none). */
  current: string
  /** Why `current` is not a release of the engine (points outside releases/, not a link). */
  currentProblem?: string
  /** The releases on disk, oldest first (at most 30, the newest). */
  releases: ReleaseOnHost[]
  lastDeploy?: LastDeploy
  lock?: LockHolder
  /** Blue-green: the slot the proxy sends traffic to. */
  liveSlot?: 'blue' | 'green'
}

/** A release id: `<UTC time>-<version>` (the engine's releases/<id>). */
const RELEASE_ID = /^\d{8}T\d{9}Z-([A-Za-z0-9][A-Za-z0-9._+-]{0,127})$/
const MAX_TEXT = 512

/** The version of a release id, or '' when it is not one. */
export function versionOfRelease(release: string): string {
  return RELEASE_ID.exec(release)?.[1] ?? ''
}

/**
 * The probe as AWS-RunShellScript `commands` for one deploy dir (validated like the engine's
 * `deploy-dir`): the entry shell (sh) checks bash, then runs the embedded probe in bash from a
 * quoted heredoc, with stdin on /dev/null. Nothing is written on the host.
 */
export function statusCommands(deployDir: string): string[] {
  const dir = validateDeployDir(deployDir)
  const missingBash = `${STATUS_PREFIX}${JSON.stringify({ problem: 'bash is not installed' })}`
  return [
    '#!/bin/sh',
    '# ec2-deploy-actions host status probe: reads the deploy dir, changes nothing.',
    `command -v bash >/dev/null 2>&1 || { echo ${shellQuote(missingBash)}; exit 0; }`,
    `EC2D_DEPLOY_DIR=${shellQuote(dir)} exec bash /dev/fd/3 3<<'${STATUS_END}' </dev/null`,
    ...STATUS_SCRIPT.replace(/^#!.*\n/, '')
      .replace(/\n$/, '')
      .split('\n'),
    STATUS_END,
  ]
}

const text = (value: unknown, max = MAX_TEXT): string | undefined =>
  typeof value === 'string' ? value.slice(0, max) : undefined

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

function lastDeployOf(value: unknown): LastDeploy | undefined {
  if (!isRecord(value)) return undefined
  const fields = ['time', 'release', 'version', 'run', 'mode', 'status'] as const
  const last = Object.fromEntries(fields.map(f => [f, text(value[f]) ?? ''])) as Record<
    (typeof fields)[number],
    string
  >
  const problem = text(value['problem'])
  return { ...last, ...(problem !== undefined ? { problem } : {}) }
}

function releasesOf(value: unknown): ReleaseOnHost[] {
  if (!Array.isArray(value)) return []
  return value.slice(-30).flatMap(entry => {
    const release = isRecord(entry) ? text(entry['release']) : undefined
    if (release === undefined || !RELEASE_ID.test(release)) return []
    const status = text((entry as Record<string, unknown>)['status'], 20) ?? ''
    return [{ release, version: versionOfRelease(release), status }]
  })
}

/**
 * Finds and parses the probe's line in a host's output (the last line with the prefix).
 * Returns undefined when there is none or it is not a JSON object: the host is unreadable.
 */
export function parseStatusLine(output: string): HostState | undefined {
  const line = output
    .split(/\r?\n/)
    .reverse()
    .find(l => l.startsWith(STATUS_PREFIX))
  if (line === undefined) return undefined
  let parsed: unknown
  try {
    parsed = JSON.parse(line.slice(STATUS_PREFIX.length))
  } catch {
    return undefined
  }
  if (!isRecord(parsed)) return undefined
  const current = text(parsed['current'], 200) ?? ''
  const problem = text(parsed['problem'])
  const currentProblem = text(parsed['current-problem'])
  const lastDeploy = lastDeployOf(parsed['last-deploy'])
  const lock = isRecord(parsed['lock'])
    ? {
        holder: text(parsed['lock']['holder']) ?? '',
        since: text(parsed['lock']['since'], 40) ?? '',
      }
    : undefined
  const slot = parsed['live-slot']
  return {
    deployDirPresent: parsed['deploy-dir'] === 'present',
    ...(problem !== undefined ? { problem } : {}),
    current: RELEASE_ID.test(current) ? current : '',
    ...(currentProblem !== undefined ? { currentProblem } : {}),
    releases: releasesOf(parsed['releases']),
    ...(lastDeploy ? { lastDeploy } : {}),
    ...(lock ? { lock } : {}),
    ...(slot === 'blue' || slot === 'green' ? { liveSlot: slot } : {}),
  }
}
