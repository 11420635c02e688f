import { VERSION_RULE, escapeHtml, fitsRule } from '../../kit/src/index.js'
import { RESULT_PREFIX, describeExitCode } from '../../remote/src/index.js'
import { liveFleet, liveVersionOf, wasRolledBack, type LiveFleet } from './live.js'
import { code, formatDuration, text } from './markdown.js'
import { dispatchByHand, pickerSection } from './picker.js'
import { parseDispatchTarget, rollbackCommand } from './rollback.js'
import type { HealthResult, InstanceResult, RollbackVersion, WaveResult } from './results.js'
import { wavesSection } from './waves.js'

/** GitHub refuses job summaries over 1 MiB; stay well below. */
export const SUMMARY_LIMIT_BYTES = 1024 * 1024
const SUMMARY_BUDGET_BYTES = 1000 * 1024
/** Remote output shown per instance before it is cut. */
export const OUTPUT_LIMIT_CHARS = 8000

/** Everything the summary can show; every field may be missing (it runs after failures). */
export interface SummaryInput {
  status?: string | undefined
  /** `rollback` when the run put an earlier version back (the heading says so). */
  mode?: string | undefined
  environment?: string | undefined
  version?: string | undefined
  previousVersion?: string | undefined
  artifactUri?: string | undefined
  artifactSha256?: string | undefined
  artifactSize?: number | undefined
  deployResults?: InstanceResult[] | undefined
  healthResults?: HealthResult[] | undefined
  commandId?: string | undefined
  region?: string | undefined
  rollbackWorkflow?: string | undefined
  runUrl?: string | undefined
  /** ssm-deploy's waves: a table when there was more than one, or a switch back. */
  waves?: WaveResult[] | undefined
  /** The versions a rollback may use, newest first (record-release's `rollback-versions`). */
  rollbackVersions?: RollbackVersion[] | undefined
}

/** Icon and words of a status, for the heading and the instance rows. */
const OUTCOMES: Record<string, { icon: string; words: string }> = {
  success: { icon: '✅', words: 'succeeded' },
  deployed: { icon: '✅', words: 'succeeded' },
  noop: { icon: '✅', words: 'succeeded (it was already live)' },
  failed: { icon: '❌', words: 'failed' },
  'rolled-back': { icon: '↩️', words: 'rolled back' },
  'rollback-failed': { icon: '🚨', words: 'failed, and so did its rollback' },
  partial: { icon: '⚠️', words: 'partly failed' },
  cancelled: { icon: '⏹️', words: 'was cancelled' },
  // Host statuses of ssm-deploy's results (packages/fleet/src/status.ts).
  'failed-before-switch': { icon: '❌', words: 'failed before the switch' },
  untouched: { icon: '⏸️', words: 'was not started' },
}
const outcomeOf = (status: string | undefined) =>
  status !== undefined && Object.hasOwn(OUTCOMES, status) ? OUTCOMES[status] : undefined

function formatSize(bytes: number | undefined): string {
  if (bytes === undefined || !Number.isFinite(bytes)) return ''
  const units = ['B', 'KiB', 'MiB', 'GiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`
}

/** An AWS console link, only for values that cannot smuggle anything into the URL. */
function consoleLinks(input: SummaryInput): string[] {
  const links: string[] = []
  const region =
    input.region && /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/.test(input.region) ? input.region : undefined
  if (region && input.commandId && /^[0-9a-f-]{36}$/.test(input.commandId)) {
    links.push(
      `[SSM command ${input.commandId}](https://${region}.console.aws.amazon.com/systems-manager/run-command/${input.commandId}?region=${region})`,
    )
  }
  const s3 = input.artifactUri
    ? /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/(.+)$/.exec(input.artifactUri)
    : null
  if (region && s3) {
    const [, bucket, key] = s3 as unknown as [string, string, string]
    links.push(
      `[S3 object](https://s3.console.aws.amazon.com/s3/object/${bucket}?region=${region}&prefix=${encodeURIComponent(key)})`,
    )
  }
  return links
}

/**
 * What the run did, as a sentence after its icon ("✅ Deploy of v1.2.0 to develop succeeded"),
 * each value shown through `show` (the caller's escaping). The summary's heading and the
 * webhook notification both say it.
 */
export function headline(
  input: Pick<SummaryInput, 'status' | 'mode' | 'environment' | 'version'>,
  show: (value: string) => string,
): string {
  const version = input.version ? ` ${show(input.version)}` : ''
  const environment = input.environment ? ` ${show(input.environment)}` : ''
  const rollback = input.mode === 'rollback'
  const subject = rollback
    ? `Rollback${environment && ` of${environment}`}${version && ` to${version}`}`
    : `Deploy${version && ` of${version}`}${environment && ` to${environment}`}`
  const outcome = outcomeOf(input.status)
  if (outcome === undefined) {
    return input.status
      ? `ℹ️ ${subject} ended as “${show(input.status)}”`
      : `ℹ️ ${subject}: status unknown`
  }
  const words = rollback && input.status === 'rolled-back' ? 'failed and was undone' : outcome.words
  return `${outcome.icon} ${subject} ${words}`
}

/** The heading: "## ↩️ Deploy of v1.2.0 to develop rolled back". */
function heading(input: SummaryInput): string {
  return `## ${headline(input, text)}`
}

/** "Live now: v1.1.0 (v1.2.0 was rolled back)": what serves after the run, not what was tried. */
function liveLine(input: SummaryInput): string {
  const fleet = liveFleet(input)
  const { version, previousVersion: previous } = input
  let live: string
  if (fleet.versions.length === 0) live = 'unknown'
  else if (fleet.versions.length === 1 && fleet.unknown === 0)
    live = code(fleet.versions[0]?.version)
  else {
    const parts = fleet.versions.map(
      v => `${code(v.version)} on ${v.count} instance${v.count === 1 ? '' : 's'}`,
    )
    if (fleet.unknown > 0) parts.push(`unknown on ${fleet.unknown}`)
    live = parts.join(', ')
  }
  const serves = (v: string | undefined) => fleet.versions.some(l => l.version === v)
  let note = ''
  if (fleet.versions.length === 0) note = version ? ` (this run: ${code(version)})` : ''
  else if (version && !serves(version)) {
    note = ` (${code(version)} was ${input.status === 'rolled-back' ? 'rolled back' : 'not deployed'})`
  } else if (previous && previous !== version) note = ` (before: ${code(previous)})`
  return `**Live now:** ${live}${note}`
}

function instanceLabel(r: InstanceResult): string {
  return `${r.name ? `${text(r.name)} ` : ''}${code(r.instanceId)}`
}

function instanceOutcome(r: InstanceResult, fleetStatus: string | undefined): string {
  if (wasRolledBack(r, fleetStatus)) return '↩️ rolled back'
  if (r.status === 'success') return '✅ deployed'
  const outcome = outcomeOf(r.status)
  if (r.status === 'failed-before-switch' || r.status === 'untouched')
    return `${outcome?.icon ?? ''} ${outcome?.words ?? ''}`
  return outcome ? `${outcome.icon} ${text(r.status)}` : text(r.status) || '—'
}

/**
 * "v1 → v2": what the host served before the run and what it serves now. Nothing live before
 * (a first deploy) shows as ∅; a previous version the result does not give, as —.
 */
function beforeAfter(r: InstanceResult, fleetStatus: string | undefined): string {
  const previous = r.previousVersion
  const before = typeof previous === 'string' ? (previous === '' ? '∅' : code(previous)) : '—'
  const live = liveVersionOf(r, fleetStatus)
  return `${before} → ${'version' in live ? code(live.version) : 'unknown'}`
}

/** One short row per instance; why it failed and its warnings go below the table. */
function instanceTable(results: InstanceResult[], fleetStatus: string | undefined): string[] {
  const lines = ['| Instance | Result | Before → after | Took |', '|---|---|---|---|']
  for (const r of results) {
    lines.push(
      `| ${instanceLabel(r)} | ${instanceOutcome(r, fleetStatus)} | ${beforeAfter(
        r,
        fleetStatus,
      )} | ${formatDuration(r.durationMs)} |`,
    )
  }
  return [...lines, '']
}

/** Why each instance that did not simply deploy ended as it did. */
function detailList(results: InstanceResult[]): string[] {
  const lines: string[] = []
  for (const r of results) {
    const exit = r.exitCode
    const known = exit !== undefined && exit !== null
    if (!r.reason && (r.status === 'success' || !known)) continue
    const why = r.reason ? text(r.reason) : describeExitCode(exit as number)
    lines.push(`- ${instanceLabel(r)}${known ? ` (exit ${exit})` : ''}: ${why}`)
  }
  return lines.length > 0 ? ['**Details**', '', ...lines, ''] : []
}

function warningList(results: InstanceResult[]): string[] {
  const lines = results.flatMap(r =>
    (Array.isArray(r.warnings) ? r.warnings : [])
      .filter((w): w is string => typeof w === 'string' && w !== '')
      .map(w => `- ${instanceLabel(r)}: ${text(w)}`),
  )
  return lines.length > 0 ? ['**Warnings**', '', ...lines, ''] : []
}

function healthTable(results: HealthResult[]): string[] {
  const lines = [
    '### Health',
    '',
    '| Target | Healthy | Status | Attempts | Duration | Detail |',
    '|---|---|---|---|---|---|',
  ]
  for (const r of results) {
    lines.push(
      `| ${text(r.target)} | ${r.healthy ? '✅ yes' : '❌ no'} | ${text(r.status ?? '—')} | ${text(r.attempts ?? '—')} | ${formatDuration(
        r.durationMs,
      )} | ${text(r.detail) || '—'} |`,
    )
  }
  return [...lines, '']
}

/**
 * How to put the previous version back, if it is not what serves now: the exact
 * `gh workflow run` line when the workflow ref and the environment are known.
 */
function rollbackSection(input: SummaryInput, fleet: LiveFleet): string[] {
  const previous = input.previousVersion
  if (!previous) return []
  if (fleet.unknown === 0 && fleet.versions.every(v => v.version === previous)) return []
  const lines = ['### Roll back', '']
  const target = parseDispatchTarget(input.rollbackWorkflow)
  const command =
    target && input.environment ? rollbackCommand(target, input.environment, previous) : undefined
  const safeVersion = fitsRule(previous, VERSION_RULE)
  if (command) {
    lines.push(
      `To put ${code(previous)} back on ${text(input.environment)}:`,
      '',
      '```sh',
      command,
      '```',
    )
  } else if (safeVersion) {
    lines.push(dispatchByHand(code(previous), input.environment))
  } else {
    lines.push(
      `The previous version ${code(previous)} is not a valid version, so no command is shown.`,
    )
  }
  return [...lines, '']
}

/** The engine's own lines (phase markers, the result line) are for the action, not the reader. */
const ENGINE_LINE = new RegExp(`^(::deploy-phase:: |${RESULT_PREFIX})`)

/** The host's output as a reader wants it: without the engine's machine lines. */
export function readableOutput(output: string): string {
  return output
    .split('\n')
    .filter(line => !ENGINE_LINE.test(line))
    .join('\n')
}

function outputBlock(result: InstanceResult, limit: number): string {
  const output = readableOutput(result.output ?? '')
  const cut = output.length > limit
  const shown = cut ? output.slice(output.length - limit) : output
  const note = cut ? `\n\n<em>Cut to the last ${limit} of ${output.length} characters.</em>` : ''
  const label = `${result.name ? `${result.name} ` : ''}${result.instanceId ?? 'an instance'}`
  return `<details><summary>Output of ${text(label)}</summary>\n\n<pre>${escapeHtml(
    shown,
  )}</pre>${note}\n</details>\n`
}

/**
 * Renders the deploy job summary. Every untrusted value is escaped, missing information is
 * shown as missing, and the result stays under GitHub's 1 MiB limit: remote output is cut
 * first, then left out with a note.
 */
export function renderSummary(input: SummaryInput): string {
  const head = [heading(input), '', liveLine(input), '']
  if (input.artifactUri || input.artifactSha256) {
    head.push(
      `**Artifact:** ${code(input.artifactUri)}${input.artifactSize !== undefined ? ` (${formatSize(input.artifactSize)})` : ''}` +
        (input.artifactSha256 ? `, sha256 ${code(input.artifactSha256)}` : ''),
      '',
    )
  }
  const links = consoleLinks(input)
  if (input.runUrl && /^https:\/\/[\w.-]+\/[\w./-]+$/.test(input.runUrl))
    links.push(`[Workflow run](${input.runUrl})`)
  if (links.length > 0) head.push(links.join(' · '), '')

  const results = input.deployResults ?? []
  const body: string[] = []
  if (results.length > 0) {
    body.push(
      '### Instances',
      '',
      ...instanceTable(results, input.status),
      ...detailList(results),
      ...warningList(results),
    )
  } else body.push('_No per-instance results: the deploy did not reach the instances._', '')
  if (input.healthResults && input.healthResults.length > 0)
    body.push(...healthTable(input.healthResults))
  const fleet = liveFleet(input)
  const live =
    fleet.unknown === 0 && fleet.versions.length === 1 ? fleet.versions[0]?.version : undefined
  const rollback = rollbackSection(input, fleet)
  const offered = rollback.length > 0 ? input.previousVersion : undefined
  const shown = new Set([live, offered].filter((v): v is string => v !== undefined))
  const tail = [...rollback, ...pickerSection(input, shown, rollback.length > 0)]
  const waves = wavesSection(input.waves)

  const withOutput = results.filter(r => r.output)
  for (let limit = OUTPUT_LIMIT_CHARS; ; limit = Math.floor(limit / 4)) {
    const outputs =
      withOutput.length > 0 && limit >= 200
        ? ['### Output', '', ...withOutput.map(r => outputBlock(r, limit))]
        : withOutput.length > 0
          ? ['_Remote output was left out to stay under the 1 MiB summary limit._', '']
          : []
    const markdown = [...head, ...waves, ...body, ...tail, ...outputs].join('\n')
    if (Buffer.byteLength(markdown) <= SUMMARY_BUDGET_BYTES || limit < 200) {
      return Buffer.byteLength(markdown) <= SUMMARY_BUDGET_BYTES
        ? markdown
        : [
            ...head,
            ...waves,
            `_${results.length} instance results were too many to show within the 1 MiB summary limit._`,
            '',
            ...tail,
          ].join('\n')
    }
  }
}

/** The GitHub deployment status for a deploy status. */
export function deploymentState(status: string | undefined): 'success' | 'failure' | 'error' {
  if (status === 'success' || status === 'deployed' || status === 'noop') return 'success'
  if (
    status === 'failed' ||
    status === 'rolled-back' ||
    status === 'rollback-failed' ||
    status === 'partial'
  )
    return 'failure'
  return 'error'
}
