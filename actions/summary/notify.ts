// The webhook notification of the summary action: checking `notify-webhook` without ever
// showing it (it is a secret: whoever has the URL can post to the channel), and posting the
// message with a deadline. A post that fails is the caller's warning, never a failed step.
import { ConfigurationError, describeValue, sleep } from '../../packages/kit/src/index.js'

/** How long the post may take in all, both attempts included. */
export const NOTIFY_TIMEOUT_MS = 10_000
const RETRY_DELAY_MS = 1_000
const INPUT = 'notify-webhook'

/** Where the notification goes. */
export interface NotifyWebhook {
  url: string
}

/**
 * The forms of the webhook URL to mask in the log before anything runs: as given, as parsed,
 * and its path and query (where Slack's and Teams' URLs keep their secret part), even when
 * the value is not a valid URL.
 */
export function webhookSecrets(raw: string | undefined): string[] {
  if (raw === undefined) return []
  const secrets = new Set([raw])
  if (URL.canParse(raw)) {
    const url = new URL(raw)
    secrets.add(url.href)
    const secretPart = `${url.pathname}${url.search}`
    // A bare "/" or a short path would mask ordinary words all over the log.
    if (secretPart.length >= 12) secrets.add(secretPart)
  }
  return [...secrets]
}

function isLoopback(hostname: string): boolean {
  return (
    hostname === 'localhost' ||
    hostname === '[::1]' ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname)
  )
}

/**
 * Checks `notify-webhook`: an https URL, or http to a loopback address (a receiver on the
 * runner itself), without a user or password. The error names the input and the rule but
 * never the value.
 */
export function readNotifyWebhook(raw: string): NotifyWebhook {
  const refuse = (why: string) =>
    new ConfigurationError(
      `input '${INPUT}' is not valid: ${why}; use an https URL (http only to a loopback ` +
        'address such as 127.0.0.1). The value is a secret and is not shown.',
    )
  if (!URL.canParse(raw) || /\s/.test(raw)) throw refuse('it is not a URL')
  const url = new URL(raw)
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url.hostname))) {
    const scheme = /^[a-z][a-z0-9+.-]*:$/.test(url.protocol) ? url.protocol : 'its scheme'
    throw refuse(
      url.protocol === 'http:'
        ? 'it uses http to a host that is not a loopback address, so the message and the URL would cross the network in clear text'
        : `it uses ${scheme}`,
    )
  }
  if (url.username || url.password) throw refuse('it holds a user or a password')
  return { url: url.href }
}

/** What became of the post. */
export type NotifyOutcome =
  | { delivered: true; status: number; attempts: number }
  | { delivered: false; problem: string; attempts: number }

/** Options of {@link postNotification}; tests shorten the waits. */
export interface PostOptions {
  timeoutMs?: number
  retryDelayMs?: number
  sleep?: (ms: number) => Promise<void>
}

/** Network failures by the code Node gives them: their message may name the host. */
const NETWORK_PROBLEMS: Record<string, string> = {
  ECONNREFUSED: 'the connection was refused',
  ECONNRESET: 'the connection was reset',
  ENOTFOUND: 'the host name did not resolve (DNS)',
  EAI_AGAIN: 'the host name could not be resolved for now (DNS)',
  EHOSTUNREACH: 'the host is unreachable',
  ENETUNREACH: 'the network is unreachable',
  UND_ERR_SOCKET: 'the connection closed before an answer',
  UND_ERR_CONNECT_TIMEOUT: 'the connection timed out',
}

/** Why a fetch threw, by error code only (never its message, which may hold the URL's host). */
function networkProblem(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown; errors?: { code?: unknown }[] } }).cause
  const code = cause?.code ?? cause?.errors?.[0]?.code
  if (typeof code !== 'string' || !/^[A-Z0-9_]{1,40}$/.test(code)) return 'a network error'
  return NETWORK_PROBLEMS[code] ?? `a network or TLS error (${code})`
}

/** The first bytes of an error answer (Slack says e.g. "invalid_payload"), shown escaped. */
async function answerExcerpt(response: Response): Promise<string> {
  const reader = response.body?.getReader()
  if (!reader) return ''
  const { value } = await reader.read()
  await reader.cancel().catch(() => undefined)
  const text = new TextDecoder().decode(value ?? new Uint8Array()).trim()
  return text === '' ? '' : `: ${describeValue(text, 200)}`
}

/**
 * POSTs `body` as JSON to the webhook. One retry, after a network error or a 5xx answer; none
 * after a timeout (the receiver may have taken it) or a 4xx. Redirects are not followed. The
 * whole post ends within `timeoutMs`. Never throws.
 */
export async function postNotification(
  webhook: NotifyWebhook,
  body: unknown,
  options: PostOptions = {},
): Promise<NotifyOutcome> {
  const timeoutMs = options.timeoutMs ?? NOTIFY_TIMEOUT_MS
  const retryDelayMs = options.retryDelayMs ?? RETRY_DELAY_MS
  const wait = options.sleep ?? sleep
  const deadline = AbortSignal.timeout(timeoutMs)
  const started = Date.now()
  const timedOut = (attempts: number): NotifyOutcome => ({
    delivered: false,
    problem: `no answer within ${Math.round(timeoutMs / 1000)} s`,
    attempts,
  })
  for (let attempt = 1; ; attempt++) {
    let problem: string
    let retryable: boolean
    try {
      const response = await fetch(webhook.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'ec2-deploy-actions' },
        body: JSON.stringify(body),
        redirect: 'manual',
        signal: deadline,
      })
      if (response.ok) {
        await response.body?.cancel().catch(() => undefined)
        return { delivered: true, status: response.status, attempts: attempt }
      }
      problem = `the webhook answered HTTP ${response.status}${await answerExcerpt(response)}`
      retryable = response.status >= 500
    } catch (error) {
      if (deadline.aborted) return timedOut(attempt)
      problem = networkProblem(error)
      retryable = true
    }
    const timeLeft = timeoutMs - (Date.now() - started)
    if (!retryable || attempt >= 2 || timeLeft <= retryDelayMs) {
      return { delivered: false, problem, attempts: attempt }
    }
    await wait(retryDelayMs)
  }
}
