import { describe, expect, it } from '@jest/globals'
import {
  NOTIFY_VALUE_LIMIT,
  notificationBody,
  type InstanceResult,
  type NotificationInput,
} from '../../packages/report/src/index.js'

const RUN_URL = 'https://github.com/octo-org/octo-repo/actions/runs/1234567890'
const host = (over: Partial<InstanceResult>): InstanceResult => ({
  instanceId: 'i-0123456789abcdef0',
  status: 'success',
  exitCode: 0,
  previousVersion: 'v1',
  version: 'v2',
  ...over,
})

/** The parts each chat reads, as plain values. */
function parts(input: NotificationInput) {
  const body = notificationBody(input) as {
    text: string
    blocks: { type: string; text?: { type: string; text: string }; fields?: { text: string }[] }[]
    type: string
    attachments: {
      contentType: string
      content: {
        type: string
        version: string
        body: { type: string; inlines: { type: string; text: string; color?: string }[] }[]
        actions?: { type: string; title: string; url: string }[]
      }
    }[]
  }
  const card = body.attachments[0]?.content
  return {
    body,
    slackHeader: body.blocks.find(b => b.type === 'header')?.text?.text,
    slackFields: body.blocks.find(b => b.fields)?.fields?.map(f => f.text),
    cardTitle: card?.body[0]?.inlines[0],
    cardFacts: card?.body.slice(1).map(block => block.inlines.map(run => run.text).join('')),
    card,
  }
}

describe('notificationBody', () => {
  it('says status, app, environment, version before → after and links the run, for Slack and Teams', () => {
    const { body, slackHeader, slackFields, cardTitle, cardFacts, card } = parts({
      status: 'success',
      environment: 'prod',
      version: 'v2',
      previousVersion: 'v1',
      deployResults: [host({}), host({ instanceId: 'i-0123456789abcdef1' })],
      appName: 'web',
      runUrl: RUN_URL,
    })
    expect(slackHeader).toBe('web: ✅ Deploy of v2 to prod succeeded')
    expect(slackFields).toEqual(['App\nweb', 'Environment\nprod', 'Version\nv1 → v2'])
    expect(body.text).toBe(
      `web: ✅ Deploy of v2 to prod succeeded\nApp: web\nEnvironment: prod\nVersion: v1 → v2\n<${RUN_URL}|Workflow run>`,
    )
    expect(body.blocks.at(-1)).toEqual({
      type: 'section',
      text: { type: 'mrkdwn', text: `<${RUN_URL}|Workflow run>` },
    })
    // Teams' Workflows webhook: a message whose attachment is an Adaptive Card.
    expect(body.type).toBe('message')
    expect(body.attachments[0]?.contentType).toBe('application/vnd.microsoft.card.adaptive')
    expect(card).toMatchObject({ type: 'AdaptiveCard', version: '1.4' })
    expect(cardTitle).toMatchObject({
      type: 'TextRun',
      text: 'web: ✅ Deploy of v2 to prod succeeded',
      color: 'Good',
    })
    expect(cardFacts).toEqual(['App: web', 'Environment: prod', 'Version: v1 → v2'])
    expect(card?.actions).toEqual([{ type: 'Action.OpenUrl', title: 'Workflow run', url: RUN_URL }])
    // Every card element is one that reads no Markdown.
    expect(new Set(card?.body.flatMap(b => [b.type, ...b.inlines.map(i => i.type)]))).toEqual(
      new Set(['RichTextBlock', 'TextRun']),
    )
  })

  it('says what serves after a rollback, and names the version that was rolled back', () => {
    const { slackHeader, cardTitle, cardFacts } = parts({
      status: 'rolled-back',
      environment: 'prod',
      version: 'v2',
      previousVersion: 'v1',
      deployResults: [host({ status: 'rolled-back', rolledBack: true, exitCode: 20 })],
    })
    expect(slackHeader).toBe('↩️ Deploy of v2 to prod rolled back')
    expect(cardTitle?.color).toBe('Attention')
    expect(cardFacts).toEqual([
      'Environment: prod',
      'Version: v1 → v1',
      'This run: v2 (rolled back)',
    ])
  })

  it('counts a mixed fleet, and says unknown without results or a previous version', () => {
    const mixed = parts({
      status: 'partial',
      version: 'v2',
      previousVersion: 'v1',
      deployResults: [
        host({}),
        host({ status: 'failed-before-switch', exitCode: 10 }),
        host({ status: 'failed', exitCode: 30 }),
      ],
    })
    expect(mixed.cardFacts).toContain(
      'Version: v1 → v2 on 1 instance, v1 on 1 instance, unknown on 1',
    )
    // Nothing known about the hosts: what this run tried is not called "not live".
    expect(parts({ status: 'cancelled', version: 'v2' }).cardFacts).toEqual([
      'Version: none → unknown',
    ])
    expect(parts({ status: 'failed', version: 'v2', previousVersion: 'v1' }).cardFacts).toEqual([
      'Version: v1 → v1',
      'This run: v2 (not live)',
    ])
    const bare = parts({})
    expect(bare.slackHeader).toBe('ℹ️ Deploy: status unknown')
    expect(bare.cardFacts).toEqual(['Version: none → unknown'])
    expect(bare.cardTitle?.color).toBe('Warning')
    expect(bare.body.text).not.toContain('Workflow run')
    expect(bare.card?.actions).toBeUndefined()
  })

  it('keeps hostile values as plain text: no Slack link, mention or markup; no card function', () => {
    const hostile =
      '<!channel> & <https://evil.example|click> *bold* {{DATE(2017-02-14T06:08:00Z)}}\nline2'
    const { body, slackHeader, slackFields, cardFacts } = parts({
      status: 'failed',
      environment: hostile,
      version: 'v2',
      appName: hostile,
    })
    const slack = JSON.stringify([body.text, slackHeader, slackFields])
    expect(slack).not.toMatch(/<!channel>|<https:\/\/evil/)
    expect(slackFields).toContain(
      'Environment\n&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt; *bold* {\u200b{DATE(2017-02-14T06:08:00Z)}} line2',
    )
    expect(cardFacts?.[1]).toBe(
      'Environment: <!channel> & <https://evil.example|click> *bold* {\u200b{DATE(2017-02-14T06:08:00Z)}} line2',
    )
  })

  it('cuts long values, keeps the Slack header within 150 characters, and links only a run URL', () => {
    const long = 'v'.repeat(1000)
    const { slackHeader, cardFacts, body } = parts({
      status: 'success',
      version: long,
      environment: '&'.repeat(300),
      runUrl: 'https://github.com/octo/repo/actions/runs/1|<evil>',
    })
    expect(slackHeader!.length).toBeLessThanOrEqual(150)
    expect(cardFacts?.find(f => f.startsWith('Environment: '))).toBe(
      `Environment: ${'&'.repeat(NOTIFY_VALUE_LIMIT - 1)}…`,
    )
    expect(JSON.stringify(body).length).toBeLessThan(8000)
    expect(JSON.stringify(body)).not.toContain('evil')
  })
})
