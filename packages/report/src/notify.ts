// The chat message a deploy posts to a webhook: one JSON body that a Slack incoming webhook and
// a Microsoft Teams Workflows webhook ("When a Teams webhook request is received") both accept.
// Pure: it builds the body and never touches the network.
import { liveFleet } from './live.js'
import { deploymentState, headline, type SummaryInput } from './summary.js'

/** What the notification says; every field may be missing (the summary runs after failures). */
export interface NotificationInput extends Pick<
  SummaryInput,
  'status' | 'mode' | 'environment' | 'version' | 'previousVersion' | 'deployResults' | 'runUrl'
> {
  appName?: string | undefined
}

/** Characters of one value shown before it is cut: versions and names are far shorter. */
export const NOTIFY_VALUE_LIMIT = 128
/** Slack's limit for a header block's text. */
const SLACK_HEADER_LIMIT = 150

/** The run link only in the form the run-URL builder makes: nothing else can reach a link. */
const RUN_URL = /^https:\/\/[A-Za-z0-9.-]+(:\d{1,5})?\/[\w./-]+$/

/**
 * One line of hostile text, cut to `limit`: control characters become spaces, and `{{` is
 * broken with a zero-width space so an Adaptive Card host never reads it as a DATE()/TIME()
 * function.
 */
function oneLine(value: string, limit = NOTIFY_VALUE_LIMIT): string {
  const line = value
    .replace(/\p{Cc}+/gu, ' ')
    .replace(/\{\{/g, '{\u200b{')
    .trim()
  return line.length > limit ? `${line.slice(0, limit - 1)}…` : line
}

/** Slack reads `&`, `<` and `>` as control characters in every text object (links, mentions). */
function slackEscape(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

/** Slack-escaped text within `limit` characters: the text is cut before it is escaped. */
function slackCut(value: string, limit: number): string {
  let shown = slackEscape(value)
  for (let keep = limit; shown.length > limit; keep = Math.max(1, keep - 8))
    shown = slackEscape(oneLine(value, keep))
  return shown
}

/** "v2", "v2 on 3 instances, v1 on 1", or "unknown": what serves after the run. */
function liveNow(input: NotificationInput): string {
  const fleet = liveFleet(input)
  const [only] = fleet.versions
  if (only && fleet.versions.length === 1 && fleet.unknown === 0) return oneLine(only.version)
  const parts = fleet.versions.map(
    v => `${oneLine(v.version)} on ${v.count} instance${v.count === 1 ? '' : 's'}`,
  )
  if (fleet.unknown > 0 && fleet.versions.length > 0) parts.push(`unknown on ${fleet.unknown}`)
  return parts.length > 0 ? parts.join(', ') : 'unknown'
}

/** The facts under the headline, as label and plain value. */
function facts(input: NotificationInput): [string, string][] {
  const rows: [string, string][] = []
  if (input.appName) rows.push(['App', oneLine(input.appName)])
  if (input.environment) rows.push(['Environment', oneLine(input.environment)])
  const after = liveNow(input)
  const before = input.previousVersion ? oneLine(input.previousVersion) : 'none'
  rows.push(['Version', `${before} → ${after}`])
  const tried = input.version ? oneLine(input.version) : undefined
  const live = liveFleet(input).versions
  // Said only when what serves is known: an unknown fleet may well serve it.
  if (tried && live.length > 0 && !live.some(v => oneLine(v.version) === tried)) {
    rows.push([
      'This run',
      `${tried} (${input.status === 'rolled-back' ? 'rolled back' : 'not live'})`,
    ])
  }
  return rows
}

/** Teams colours a TextRun by name. */
const CARD_COLOR = { success: 'Good', failure: 'Attention', error: 'Warning' } as const

/**
 * The notification body. Slack reads `text` (the notification's fallback) and `blocks` (a
 * header, the facts as plain text and the run link); Teams' Workflows webhook reads
 * `type: message` and the Adaptive Card in `attachments`. Each ignores the other's fields.
 * Values are plain text in both: Slack's `&`, `<`, `>` are escaped, Teams' TextRuns do not read
 * Markdown, control characters become spaces, and each value is cut to NOTIFY_VALUE_LIMIT.
 */
export function notificationBody(input: NotificationInput): Record<string, unknown> {
  const app = input.appName ? `${oneLine(input.appName)}: ` : ''
  const title = oneLine(`${app}${headline(input, value => oneLine(value))}`, SLACK_HEADER_LIMIT)
  const rows = facts(input)
  const runUrl = input.runUrl && RUN_URL.test(input.runUrl) ? input.runUrl : undefined
  const summary = [title, ...rows.map(([label, value]) => `${label}: ${value}`)].join('\n')
  const slackText = slackEscape(summary) + (runUrl ? `\n<${runUrl}|Workflow run>` : '')
  const card = {
    type: 'AdaptiveCard',
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    version: '1.4',
    body: [
      {
        type: 'RichTextBlock',
        inlines: [
          {
            type: 'TextRun',
            text: title,
            weight: 'Bolder',
            size: 'Medium',
            color: CARD_COLOR[deploymentState(input.status)],
          },
        ],
      },
      ...rows.map(([label, value]) => ({
        type: 'RichTextBlock',
        spacing: 'Small',
        inlines: [
          { type: 'TextRun', text: `${label}: `, weight: 'Bolder' },
          { type: 'TextRun', text: value },
        ],
      })),
    ],
    ...(runUrl
      ? { actions: [{ type: 'Action.OpenUrl', title: 'Workflow run', url: runUrl }] }
      : {}),
  }
  return {
    text: slackText,
    blocks: [
      {
        type: 'header',
        text: { type: 'plain_text', text: slackCut(title, SLACK_HEADER_LIMIT), emoji: true },
      },
      {
        type: 'section',
        fields: rows.map(([label, value]) => ({
          type: 'plain_text',
          text: slackEscape(`${label}\n${value}`),
          emoji: false,
        })),
      },
      ...(runUrl
        ? [{ type: 'section', text: { type: 'mrkdwn', text: `<${runUrl}|Workflow run>` } }]
        : []),
    ],
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: card,
      },
    ],
  }
}
