// The rollout in waves, as the summary shows it: one row per wave, and a line for the hosts the
// run switched back after a wave failed (ssm-deploy's `waves` output, read back as hostile).
import { code, count, formatDuration, text } from './markdown.js'
import type { WaveResult } from './results.js'

/** Instance ids are listed in a wave's row up to this many; more are only counted. */
const WAVE_IDS_SHOWN = 3
/** Past this many waves, runs of waves that passed, or never started, share one row. */
const WAVE_ROWS = 30
/** Rows shown at most, so that no `waves` input can outgrow the summary. */
const ROW_LIMIT = 200
/** Outcomes whose runs of waves share a row. */
const MERGED = new Set(['passed', 'not-started'])

const OUTCOMES: Record<string, string> = {
  passed: '✅ passed',
  failed: '❌ failed',
  'not-started': '⏸️ not started',
  reverted: '↩️ deployed, then switched back',
}

const wholeNumber = (value: unknown): number | undefined =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined

function instancesOf(wave: WaveResult): string[] | undefined {
  return Array.isArray(wave.instanceIds)
    ? wave.instanceIds.filter((id): id is string => typeof id === 'string')
    : undefined
}

function hostsCell(wave: WaveResult): string {
  const ids = instancesOf(wave)
  if (ids === undefined) return '—'
  if (ids.length === 0 || ids.length > WAVE_IDS_SHOWN) return String(ids.length)
  return `${ids.length}: ${ids.map(id => code(id)).join(', ')}`
}

function resultCell(wave: WaveResult): string {
  const outcome = typeof wave.outcome === 'string' ? wave.outcome : ''
  const words = (Object.hasOwn(OUTCOMES, outcome) ? OUTCOMES[outcome] : text(outcome)) || '—'
  const succeeded = wholeNumber(wave.succeeded)
  const failed = wholeNumber(wave.failed)
  if (outcome === 'not-started' || (succeeded === undefined && failed === undefined)) return words
  const counts = [
    succeeded !== undefined ? `${succeeded} succeeded` : undefined,
    failed ? `${failed} failed` : undefined,
  ].filter(Boolean)
  return counts.length > 0 ? `${words}: ${counts.join(', ')}` : words
}

/** A row standing for waves `first`–`last`, all with the same outcome. */
function runRow(run: WaveResult[]): string {
  const sum = (value: (w: WaveResult) => number | undefined) =>
    run.reduce((total, w) => total + (value(w) ?? 0), 0)
  const passed = run[0]?.outcome === 'passed'
  const merged: WaveResult = {
    instanceIds: run.flatMap(w => instancesOf(w) ?? []),
    outcome: run[0]?.outcome,
    ...(passed ? { succeeded: sum(w => wholeNumber(w.succeeded)) } : {}),
  }
  const took = passed ? formatDuration(sum(w => wholeNumber(w.durationMs))) : '—'
  return `| ${run[0]?.wave}–${run.at(-1)?.wave} | ${hostsCell(merged)} | ${resultCell(merged)} | ${took} |`
}

function waveRows(waves: WaveResult[]): string[] {
  const row = (w: WaveResult) =>
    `| ${w.wave} | ${hostsCell(w)} | ${resultCell(w)} | ${formatDuration(w.durationMs)} |`
  if (waves.length <= WAVE_ROWS) return waves.map(row)
  const rows: string[] = []
  let run: WaveResult[] = []
  const flush = () => {
    if (run.length >= 3) rows.push(runRow(run))
    else rows.push(...run.map(row))
    run = []
  }
  for (const wave of waves) {
    if (run.length > 0 && run[0]?.outcome !== wave.outcome) flush()
    if (MERGED.has(String(wave.outcome))) run.push(wave)
    else rows.push(row(wave))
  }
  flush()
  return rows
}

/** "Switched back 3 hosts to their previous release after wave 2 failed." */
function revertLine(revert: WaveResult, waves: WaveResult[]): string {
  const ids = instancesOf(revert)
  const switched = wholeNumber(revert.succeeded) ?? ids?.length
  const failedWave = waves.filter(w => w.outcome === 'failed').at(-1)?.wave
  const hosts = switched === undefined ? 'the hosts it had deployed' : count(switched, 'host')
  const after = failedWave === undefined ? 'a wave failed' : `wave ${failedWave} failed`
  const stuck = wholeNumber(revert.failed)
  return (
    `↩️ The run switched back ${hosts} to their previous release after ${after} ` +
    `(${formatDuration(revert.durationMs)}).` +
    (stuck ? ` ${count(stuck, 'host')} could not be switched back: see the details below.` : '')
  )
}

/**
 * The `### Waves` section: shown when the rollout had more than one wave or switched hosts
 * back; nothing otherwise. Entries without a whole wave number are left out.
 */
export function wavesSection(input: readonly WaveResult[] | undefined): string[] {
  const entries = (input ?? []).filter(w => wholeNumber(w.wave) !== undefined)
  const waves = entries
    .filter(w => (w.wave as number) > 0)
    .sort((a, b) => (a.wave as number) - (b.wave as number))
  const revert = entries.find(w => w.wave === 0)
  if (waves.length <= 1 && revert === undefined) return []
  const lines = ['### Waves', '']
  const rows = waveRows(waves)
  if (rows.length > 0)
    lines.push(
      '| Wave | Hosts | Result | Took |',
      '|---|---|---|---|',
      ...rows.slice(0, ROW_LIMIT),
      '',
    )
  if (rows.length > ROW_LIMIT)
    lines.push(`_${rows.length - ROW_LIMIT} more rows are not shown._`, '')
  if (revert) lines.push(revertLine(revert, waves), '')
  return lines
}
