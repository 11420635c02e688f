// summary's notify-webhook, bundled and run as the runner runs it, against a local receiver.
import { afterEach, describe, expect, it } from '@jest/globals'
import { runBundledAction, type ActionRun } from '../support/bundled-action.js'
import {
  closedPortUrl,
  startWebhookReceiver,
  type WebhookReceiver,
} from '../support/webhook-receiver.js'

const RUN_URL = 'https://github.com/octo-org/octo-repo/actions/runs/1234567890'
const DEPLOY = {
  status: 'success',
  environment: 'prod',
  version: 'v2',
  'previous-version': 'v1',
  'app-name': 'web',
}

let receiver: WebhookReceiver | undefined
afterEach(async () => {
  await receiver?.close()
  receiver = undefined
})

/** The summary of DEPLOY, run with `notify-webhook` set to `url`. */
function summaryNotifying(url: string, timeoutMs?: number): Promise<ActionRun> {
  return runBundledAction('summary', {
    inputs: { ...DEPLOY, 'notify-webhook': url },
    ...(timeoutMs ? { timeoutMs } : {}),
  })
}

/** Everything the run showed anywhere, except the runner's own add-mask commands. */
function shown(run: ActionRun): string {
  const log = `${run.stdout}\n${run.stderr}`
    .split('\n')
    .filter(line => !line.startsWith('::add-mask::'))
    .join('\n')
  return [log, run.summary, JSON.stringify(run.outputs), run.envFile].join('\n')
}

/** The URL is masked, and appears nowhere else: not the whole, not its secret path. */
function expectKeptSecret(run: ActionRun, url: string, secretPath: string): void {
  const masks = run.stdout.split('\n').filter(line => line.startsWith('::add-mask::'))
  expect(masks).toEqual(expect.arrayContaining([`::add-mask::${url}`, `::add-mask::${secretPath}`]))
  expect(shown(run)).not.toContain(secretPath)
  expect(shown(run)).not.toContain('s3cr3t')
}

describe('summary notify-webhook, bundled, against a local receiver', () => {
  it('posts one JSON message that Slack and Teams both read, and never shows the URL', async () => {
    receiver = await startWebhookReceiver({ status: 200, body: 'ok' })
    const run = await summaryNotifying(receiver.url)
    expect(run.errors).toEqual([])
    expect(run.warnings).toEqual([])
    expect(run.exitCode).toBe(0)
    expect(run.summary).toContain('## ✅ Deploy of v2 to prod succeeded')
    expect(run.stdout).toContain('Posted the notification to the webhook: HTTP 200.')
    expect(receiver.posts).toHaveLength(1)
    const [post] = receiver.posts
    expect(post?.method).toBe('POST')
    expect(post?.path).toBe(receiver.secretPath)
    expect(post?.headers['content-type']).toBe('application/json')
    const body = JSON.parse(post?.body ?? '') as Record<string, unknown>
    // Slack: text and blocks.
    expect(body.text).toBe(
      `web: ✅ Deploy of v2 to prod succeeded\nApp: web\nEnvironment: prod\nVersion: v1 → v2\n<${RUN_URL}|Workflow run>`,
    )
    expect(body.blocks).toEqual([
      {
        type: 'header',
        text: { type: 'plain_text', text: 'web: ✅ Deploy of v2 to prod succeeded', emoji: true },
      },
      {
        type: 'section',
        fields: ['App\nweb', 'Environment\nprod', 'Version\nv1 → v2'].map(text => ({
          type: 'plain_text',
          text,
          emoji: false,
        })),
      },
      { type: 'section', text: { type: 'mrkdwn', text: `<${RUN_URL}|Workflow run>` } },
    ])
    // Teams (Workflows): a message with an Adaptive Card attachment.
    expect(body).toMatchObject({
      type: 'message',
      attachments: [
        {
          contentType: 'application/vnd.microsoft.card.adaptive',
          contentUrl: null,
          content: {
            type: 'AdaptiveCard',
            version: '1.4',
            actions: [{ type: 'Action.OpenUrl', title: 'Workflow run', url: RUN_URL }],
          },
        },
      ],
    })
    expectKeptSecret(run, receiver.url, receiver.secretPath)
  })

  it('a receiver answering 500: one retry, then a warning with the status; the step passes', async () => {
    receiver = await startWebhookReceiver({ status: 500, body: 'internal_error' })
    const run = await summaryNotifying(receiver.url)
    expect(run.exitCode).toBe(0)
    expect(run.errors).toEqual([])
    expect(receiver.posts).toHaveLength(2)
    expect(run.warnings).toEqual([
      `input 'notify-webhook': the notification was not delivered: the webhook answered HTTP 500: "internal_error" (2 attempts). The deploy's result is unchanged.`,
    ])
    expect(run.summary).toContain('## ✅ Deploy of v2 to prod succeeded')
    expectKeptSecret(run, receiver.url, receiver.secretPath)
  })

  it('a 4xx answer is not retried', async () => {
    receiver = await startWebhookReceiver({ status: 404, body: 'no_service' })
    const run = await summaryNotifying(receiver.url)
    expect(run.exitCode).toBe(0)
    expect(receiver.posts).toHaveLength(1)
    expect(run.warnings.join('\n')).toContain('the webhook answered HTTP 404: "no_service".')
  })

  it('a closed port: a warning that the connection was refused; the step passes', async () => {
    const url = await closedPortUrl()
    const run = await summaryNotifying(url)
    expect(run.exitCode).toBe(0)
    expect(run.errors).toEqual([])
    expect(run.warnings).toEqual([
      `input 'notify-webhook': the notification was not delivered: the connection was refused (2 attempts). The deploy's result is unchanged.`,
    ])
    expectKeptSecret(run, url, new URL(url).pathname)
  })

  it('a receiver that never answers: a warning after 10 s; the step passes', async () => {
    receiver = await startWebhookReceiver('hang')
    const started = Date.now()
    const run = await summaryNotifying(receiver.url, 30_000)
    const took = Date.now() - started
    expect(run.exitCode).toBe(0)
    expect(run.signal).toBeNull()
    expect(run.warnings).toEqual([
      `input 'notify-webhook': the notification was not delivered: no answer within 10 s. The deploy's result is unchanged.`,
    ])
    expect(receiver.posts).toHaveLength(1)
    expect(took).toBeGreaterThanOrEqual(10_000)
    expect(took).toBeLessThan(20_000)
    expectKeptSecret(run, receiver.url, receiver.secretPath)
  }, 40_000)

  it.each([
    [
      'http://hooks.example.com/services/T0AAAAAAA/B0BBBBBBB/s3cr3tW3bh00kT0k3n',
      'it uses http to a host that is not a loopback address, so the message and the URL would cross the network in clear text',
    ],
    ['ftp://hooks.example.com/services/T0AAAAAAA/B0BBBBBBB/s3cr3tW3bh00kT0k3n', 'it uses ftp:'],
    ['https://user:s3cr3t@hooks.example.com/services/x', 'it holds a user or a password'],
    ['hooks.example.com/s3cr3t', 'it is not a URL'],
  ])('refuses %s after the summary, naming the input but not the value', async (url, why) => {
    const run = await summaryNotifying(url)
    expect(run.exitCode).toBe(1)
    expect(run.errors).toEqual([
      `input 'notify-webhook' is not valid: ${why}; use an https URL (http only to a loopback address such as 127.0.0.1). The value is a secret and is not shown.`,
    ])
    // The summary runs after failures: it is written first, and the value is masked at once.
    expect(run.summary).toContain('## ✅ Deploy of v2 to prod succeeded')
    expect(run.stdout).toContain(`::add-mask::${url}`)
    expect(shown(run)).not.toContain('s3cr3t')
    expect(shown(run)).not.toContain('hooks.example.com')
  })

  it('posts nothing and says nothing without notify-webhook', async () => {
    const run = await runBundledAction('summary', { inputs: DEPLOY })
    expect(run.exitCode).toBe(0)
    expect(run.stdout).not.toContain('notification')
    expect(run.stdout).not.toContain('::add-mask::')
  })
})
