/**
 * Exit codes of the host release engine. They never include 194, which makes the SSM agent
 * reboot the host; a hook that exits 194 is reported as a hook failure with one of these.
 */
export const EXIT_CODES = {
  /** Deployed, or a no-op re-deploy of what is current and healthy (the status says which). */
  ok: 0,
  /** Failed before the switch: `current`, `shared/` and the running service are untouched. */
  failed: 10,
  /** Another deploy held the deploy-dir's lock longer than `lock-timeout`: nothing changed. */
  lockTimeout: 11,
  /** Failed at or after the switch; the previous release is serving again and healthy. */
  rolledBack: 20,
  /** Failed at or after the switch and the way back failed too: a human is needed. */
  rollbackFailed: 21,
  /** The engine itself stopped unexpectedly; the state of the host is unknown. */
  internal: 70,
} as const

/** One of {@link EXIT_CODES}. */
export type EngineExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES]

/** The `status` field of the result line. */
export type EngineStatus =
  'deployed' | 'noop' | 'failed' | 'rolled-back' | 'rollback-failed' | 'error'

const STATUSES: readonly string[] = [
  'deployed',
  'noop',
  'failed',
  'rolled-back',
  'rollback-failed',
  'error',
]

/** The prefix of the engine's final line; the JSON object follows after one space. */
export const RESULT_PREFIX = 'DEPLOY_RESULT '

/** The engine's final, machine-readable line, typed. */
export interface EngineResult {
  status: EngineStatus
  mode: 'deploy' | 'rollback'
  exitCode: number
  /** Version that was current before this run ('' on a first deploy). */
  previousVersion: string
  /** Version this run deployed or switched to ('' when it failed before knowing). */
  version: string
  /** Release id (`<UTC time>-<version>`) of that version on the host, when one was made or chosen. */
  release: string
  /** Release id that was current before this run. */
  previousRelease: string
  /** True when the run failed after the switch and the previous release serves again. */
  rolledBack: boolean
  /** Why it failed, or a note (no-op, rollback target); '' on a plain success. */
  reason: string
  /** Wall time of the whole run on the host. */
  durationMs: number
  /** Wall time of each phase, in the order they ran (lock, preflight, fetch, verify, …). */
  phases: Record<string, number>
  /** What the host warns about (hooks run as root, a shared path missing…); at most 5. */
  warnings: string[]
}

function field<T>(
  record: Record<string, unknown>,
  name: string,
  check: (v: unknown) => v is T,
): T | undefined {
  const value = record[name]
  return check(value) ? value : undefined
}

const isString = (v: unknown): v is string => typeof v === 'string'
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)
const isBoolean = (v: unknown): v is boolean => typeof v === 'boolean'

/**
 * Finds and parses the engine's result line in an SSM output: the last line that starts
 * with `DEPLOY_RESULT `. Tolerates output cut at the front, CRLF and trailing blank lines.
 * Returns undefined when there is no well-formed result line (a killed or truncated run).
 */
export function parseResultLine(output: string): EngineResult | undefined {
  const lines = output.split(/\r?\n/)
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i] ?? ''
    if (!line.startsWith(RESULT_PREFIX)) continue
    let parsed: unknown
    try {
      parsed = JSON.parse(line.slice(RESULT_PREFIX.length))
    } catch {
      return undefined
    }
    return toResult(parsed)
  }
  return undefined
}

function toResult(parsed: unknown): EngineResult | undefined {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined
  const record = parsed as Record<string, unknown>
  const status = field(record, 'status', isString)
  const mode = field(record, 'mode', isString)
  const exitCode = field(record, 'exit-code', isNumber)
  const rolledBack = field(record, 'rolled-back', isBoolean)
  const durationMs = field(record, 'duration-ms', isNumber)
  const phasesRaw = record['phases']
  if (
    status === undefined ||
    !STATUSES.includes(status) ||
    (mode !== 'deploy' && mode !== 'rollback') ||
    exitCode === undefined ||
    rolledBack === undefined ||
    durationMs === undefined ||
    typeof phasesRaw !== 'object' ||
    phasesRaw === null
  ) {
    return undefined
  }
  const phases: Record<string, number> = {}
  for (const [name, ms] of Object.entries(phasesRaw)) {
    if (isNumber(ms)) phases[name] = ms
  }
  const warningsRaw = record['warnings']
  const warnings = Array.isArray(warningsRaw) ? warningsRaw.filter(isString) : []
  return {
    status: status as EngineStatus,
    mode,
    exitCode,
    previousVersion: field(record, 'previous-version', isString) ?? '',
    version: field(record, 'version', isString) ?? '',
    release: field(record, 'release', isString) ?? '',
    previousRelease: field(record, 'previous-release', isString) ?? '',
    rolledBack,
    reason: field(record, 'reason', isString) ?? '',
    durationMs,
    phases,
    warnings,
  }
}

/** A one-line meaning of an engine exit code, for logs and summaries. */
export function describeExitCode(code: number): string {
  switch (code) {
    case EXIT_CODES.ok:
      return 'deployed (or already current and healthy)'
    case EXIT_CODES.failed:
      return 'failed before the switch; nothing changed'
    case EXIT_CODES.lockTimeout:
      return 'another deploy held the lock; nothing changed'
    case EXIT_CODES.rolledBack:
      return 'failed after the switch; rolled back to the previous release'
    case EXIT_CODES.rollbackFailed:
      return 'failed after the switch and the rollback failed; needs a human'
    case EXIT_CODES.internal:
      return 'the engine stopped unexpectedly; state unknown'
    default:
      return `unexpected exit code ${code} (killed, or the engine never started)`
  }
}
