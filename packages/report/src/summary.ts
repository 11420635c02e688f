import { VERSION_RULE, escapeHtml, escapeMarkdown } from '../../kit/src/index.js'

/** GitHub refuses job summaries over 1 MiB; stay well below. */
export const SUMMARY_LIMIT_BYTES = 1024 * 1024
const SUMMARY_BUDGET_BYTES = 1000 * 1024
/** Remote output shown per instance before it is cut. */
export const OUTPUT_LIMIT_CHARS = 8000

/** One instance's deploy result, as ssm-deploy's `results` output has it. */
export interface InstanceResult {
  'instance-id'?: string
  name?: string
  status?: string
  'exit-code'?: number | null
  'previous-version'?: string
  version?: string
  'rolled-back'?: boolean
  'duration-ms'?: number | null
  reason?: string
  output?: string
}

/** One health check result (per URL or per instance), as verify-health's `results` has it. */
export interface HealthResult {
  target?: string
  healthy?: boolean
  status?: string | number
  attempts?: number
  'duration-ms'?: number
  detail?: string
}

/** Everything the summary can show; every field may be missing (it runs after failures). */
export interface SummaryInput {
  status?: string | undefined
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
}

const STATUS_ICON: Record<string, string> = {
  success: '✅',
  deployed: '✅',
  noop: '✅',
  failed: '❌',
  'rolled-back': '↩️',
  'rollback-failed': '🚨',
  partial: '⚠️',
  cancelled: '⏹️',
}

const text = (value: unknown) =>
  escapeMarkdown(value === undefined || value === null ? '' : String(value))
const code = (value: string | undefined) => (value ? `<code>${text(value)}</code>` : '—')

function formatDuration(ms: number | null | undefined): string {
  if (ms === undefined || ms === null || !Number.isFinite(ms)) return '—'
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`
}

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

/** `deploy.yml`, from a file name or a workflow ref (owner/repo/.github/workflows/deploy.yml@ref). */
export function workflowFileName(value: string | undefined): string | undefined {
  if (value === undefined) return undefined
  const fromRef = /(?:^|\/)\.github\/workflows\/([\w.-]+\.ya?ml)(?:@.*)?$/.exec(value)
  return fromRef ? fromRef[1] : value
}

function rollbackSection(input: SummaryInput): string[] {
  const previous = input.previousVersion
  const workflow = workflowFileName(input.rollbackWorkflow)
  if (!previous) return []
  const lines = ['### Roll back', '']
  const safeVersion =
    VERSION_RULE.pattern.test(previous) && previous.length <= VERSION_RULE.maxLength
  const safeWorkflow = workflow !== undefined && /^[\w.-]+\.ya?ml$/.test(workflow)
  if (safeVersion && safeWorkflow) {
    lines.push(
      `To put ${code(previous)} back:`,
      '',
      '```sh',
      `gh workflow run ${workflow} -f version=${previous}`,
      '```',
    )
  } else if (safeVersion) {
    lines.push(`Run this workflow from the Actions tab with \`version\` = ${code(previous)}.`)
  } else {
    lines.push(
      `The previous version ${code(previous)} is not a valid version, so no command is shown.`,
    )
  }
  return [...lines, '']
}

function instanceTable(results: InstanceResult[]): string[] {
  const lines = [
    '| Name | Instance | Status | Exit | Version | Rolled back | Duration | Reason |',
    '|---|---|---|---|---|---|---|---|',
  ]
  for (const r of results) {
    const status = r.status ?? ''
    lines.push(
      `| ${text(r.name) || '—'} | ${code(r['instance-id'])} | ${STATUS_ICON[status] ?? ''} ${text(status)} | ${text(
        r['exit-code'] ?? '—',
      )} | ${code(r['previous-version'])} → ${code(r.version)} | ${r['rolled-back'] ? 'yes' : 'no'} | ${formatDuration(
        r['duration-ms'],
      )} | ${text(r.reason) || '—'} |`,
    )
  }
  return [...lines, '']
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
        r['duration-ms'],
      )} | ${text(r.detail) || '—'} |`,
    )
  }
  return [...lines, '']
}

function outputBlock(result: InstanceResult, limit: number): string {
  const output = result.output ?? ''
  const cut = output.length > limit
  const shown = cut ? output.slice(output.length - limit) : output
  const note = cut ? `\n\n<em>Cut to the last ${limit} of ${output.length} characters.</em>` : ''
  return `<details><summary>Output of ${escapeHtml(result['instance-id'] ?? 'an instance')}</summary>\n\n<pre>${escapeHtml(
    shown,
  )}</pre>${note}\n</details>\n`
}

/**
 * Renders the deploy job summary. Every untrusted value is escaped, missing information is
 * shown as missing, and the result stays under GitHub's 1 MiB limit: remote output is cut
 * first, then left out with a note.
 */
export function renderSummary(input: SummaryInput): string {
  const status = input.status || 'unknown'
  const head = [
    `## ${STATUS_ICON[status] ?? 'ℹ️'} Deploy ${text(status)}${input.environment ? ` to ${text(input.environment)}` : ''}`,
    '',
    `**Version:** ${code(input.previousVersion)} → ${code(input.version)}`,
    '',
  ]
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
  if (results.length > 0) body.push('### Instances', '', ...instanceTable(results))
  else body.push('_No per-instance results: the deploy did not reach the instances._', '')
  if (input.healthResults && input.healthResults.length > 0)
    body.push(...healthTable(input.healthResults))
  const tail = rollbackSection(input)

  const withOutput = results.filter(r => r.output)
  for (let limit = OUTPUT_LIMIT_CHARS; ; limit = Math.floor(limit / 4)) {
    const outputs =
      withOutput.length > 0 && limit >= 200
        ? ['### Output', '', ...withOutput.map(r => outputBlock(r, limit))]
        : withOutput.length > 0
          ? ['_Remote output was left out to stay under the 1 MiB summary limit._', '']
          : []
    const markdown = [...head, ...body, ...tail, ...outputs].join('\n')
    if (Buffer.byteLength(markdown) <= SUMMARY_BUDGET_BYTES || limit < 200) {
      return Buffer.byteLength(markdown) <= SUMMARY_BUDGET_BYTES
        ? markdown
        : [
            ...head,
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
