import {
  backoffWindow,
  ConfigurationError,
  describeValue,
  errorMessage,
  sleep as realSleep,
  type Logger,
} from '../../kit/src/index.js'

/** What a healthy answer looks like. */
export interface HttpExpectation {
  /** Accepted status codes. */
  statuses: readonly number[]
  /** A substring, or a regular expression, the body must contain. */
  body?: string | RegExp | undefined
  /** The version the service must report. */
  version?: string | undefined
  /** Where the version is read: 'auto', 'body', 'json:<dot.path>' or 'header:<name>'. */
  versionSource: string
}

/** How often and how long a check tries, over HTTP or through SSM. */
export interface CheckTiming {
  /** Attempts per URL or host, the first included. */
  retries: number
  /** First wait between attempts; it doubles, up to 8 times this. */
  intervalMs: number
  initialDelayMs: number
  /** How long one attempt may take: one request, or one check on a host. */
  attemptTimeoutMs: number
  /** For the whole check: no attempt starts after it. */
  timeoutMs: number
  sleep?: (ms: number) => Promise<void>
}

export interface HttpCheckOptions extends CheckTiming {
  urls: readonly string[]
  expect: HttpExpectation
  random?: () => number
}

/** One target's verdict, as the `results` output has it. */
export interface TargetResult {
  target: string
  healthy: boolean
  /** The last HTTP status (or SSM exit code), '' when there was no answer. */
  status: string
  attempts: number
  durationMs: number
  detail: string
}

export interface CheckReport {
  healthy: boolean
  attempts: number
  durationMs: number
  results: TargetResult[]
}

/** Parses `expect-body`: `/regex/flags` is a regular expression, anything else a substring. */
export function parseBodyExpectation(
  input: string,
  raw: string | undefined,
): string | RegExp | undefined {
  if (raw === undefined) return undefined
  const regex = /^\/(.+)\/([dgimsuy]*)$/s.exec(raw)
  if (!regex) return raw
  try {
    return new RegExp(regex[1] as string, (regex[2] as string).replace('g', ''))
  } catch (error) {
    throw new ConfigurationError(
      `input '${input}': ${describeValue(raw)} is not a valid regular expression (${errorMessage(error)})`,
    )
  }
}

/** Parses `expect-status`: codes and `2xx`-style classes, separated by commas. */
export function parseStatuses(input: string, raw: string): number[] {
  const statuses: number[] = []
  for (const part of raw
    .split(',')
    .map(p => p.trim())
    .filter(Boolean)) {
    const range = /^([1-5])xx$/i.exec(part)
    if (range) {
      const base = Number(range[1]) * 100
      for (let code = base; code < base + 100; code++) statuses.push(code)
    } else if (/^[1-5]\d\d$/.test(part)) statuses.push(Number(part))
    else
      throw new ConfigurationError(
        `input '${input}': ${describeValue(part)} is not valid: use status codes such as '200' or classes such as '2xx'`,
      )
  }
  if (statuses.length === 0)
    throw new ConfigurationError(`input '${input}' is empty: use e.g. '200'`)
  return statuses
}

/** Checks `version-source` and returns it. */
export function parseVersionSource(input: string, raw: string): string {
  if (/^(auto|body|json:[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*|header:[A-Za-z0-9-]+)$/.test(raw))
    return raw
  throw new ConfigurationError(
    `input '${input}': ${describeValue(raw)} is not valid: use 'auto', 'body', 'json:<field.path>' or 'header:<name>'`,
  )
}

/** Checks that every URL is http(s) and has no credentials in it. */
export function parseUrls(input: string, urls: readonly string[]): string[] {
  return urls.map(raw => {
    let url: URL
    try {
      url = new URL(raw)
    } catch {
      throw new ConfigurationError(`input '${input}': ${describeValue(raw)} is not a URL`)
    }
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.username || url.password) {
      throw new ConfigurationError(
        `input '${input}': ${describeValue(raw)} is not valid: use http(s) URLs without credentials`,
      )
    }
    return raw
  })
}

function jsonField(body: string, path: string): string | undefined {
  try {
    let value: unknown = JSON.parse(body)
    for (const key of path.split('.')) {
      if (typeof value !== 'object' || value === null) return undefined
      value = (value as Record<string, unknown>)[key]
    }
    return value === undefined || value === null || typeof value === 'object'
      ? undefined
      : String(value)
  } catch {
    return undefined
  }
}

/** Whether a response reports `version`; returns a reason when it does not. */
function versionProblem(
  response: { headers: Headers; body: string },
  version: string,
  source: string,
): string | undefined {
  const served = (() => {
    if (source.startsWith('json:')) return jsonField(response.body, source.slice(5))
    if (source.startsWith('header:')) return response.headers.get(source.slice(7)) ?? undefined
    if (source === 'body') return response.body.includes(version) ? version : undefined
    return (
      jsonField(response.body, 'version') ??
      response.headers.get('x-app-version') ??
      response.headers.get('x-version') ??
      (response.body.includes(version) ? version : undefined)
    )
  })()
  if (served === version) return undefined
  return served === undefined
    ? `no version found (${source}): the endpoint must return ${describeValue(version)} as ` +
        `${whereVersionIsRead(source)}, e.g. read from the release's REVISION file or ` +
        "$DEPLOY_VERSION; to skip this check, leave input 'expect-version' empty " +
        "(deploy.yml: 'verify-version: false')"
    : `serves version ${JSON.stringify(served)}, not ${JSON.stringify(version)}`
}

/** Where a version source looks, for a person. */
function whereVersionIsRead(source: string): string {
  if (source.startsWith('json:')) return `the JSON field ${source.slice(5)}`
  if (source.startsWith('header:')) return `the header ${source.slice(7)}`
  if (source === 'body') return 'text in the body'
  return 'the JSON field version, the header X-App-Version, or text in the body'
}

/** One attempt: undefined when healthy, else why not. */
async function attempt(
  url: string,
  expect: HttpExpectation,
  timeoutMs: number,
): Promise<{ status: string; problem?: string }> {
  let response: Response
  try {
    response = await fetch(url, {
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'follow',
      headers: { 'cache-control': 'no-cache' },
    })
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code
    return {
      status: '',
      problem:
        (error as Error).name === 'TimeoutError'
          ? `no answer within ${timeoutMs} ms`
          : (cause ?? errorMessage(error)),
    }
  }
  const body = await response.text().catch(() => '')
  const status = String(response.status)
  if (!expect.statuses.includes(response.status)) return { status, problem: `status ${status}` }
  if (expect.body !== undefined) {
    const found =
      typeof expect.body === 'string' ? body.includes(expect.body) : expect.body.test(body)
    if (!found) return { status, problem: `body does not match ${String(expect.body)}` }
  }
  if (expect.version !== undefined) {
    const problem = versionProblem(
      { headers: response.headers, body },
      expect.version,
      expect.versionSource,
    )
    if (problem) return { status, problem }
  }
  return { status }
}

/**
 * Checks every URL from the runner until it is healthy or its attempts or the overall timeout
 * run out. Waits grow exponentially with jitter (half fixed, half random), so hosts that restart
 * together are not hit in lockstep. Logs one line per attempt: URL, outcome, elapsed.
 */
export async function checkUrls(options: HttpCheckOptions, logger: Logger): Promise<CheckReport> {
  const wait = options.sleep ?? realSleep
  const random = options.random ?? Math.random
  const started = Date.now()
  const deadline = started + options.timeoutMs
  if (options.initialDelayMs > 0) {
    logger.info(`Waiting ${options.initialDelayMs} ms before the first health check`)
    await wait(options.initialDelayMs)
  }
  const results = await Promise.all(
    options.urls.map(async (url): Promise<TargetResult> => {
      const begin = Date.now()
      let last: { status: string; problem?: string } = { status: '', problem: 'not checked' }
      let attempts = 0
      for (let n = 1; n <= options.retries; n++) {
        attempts = n
        last = await attempt(
          url,
          options.expect,
          Math.min(options.attemptTimeoutMs, Math.max(1, deadline - Date.now())),
        )
        const elapsed = Date.now() - started
        logger.info(
          `${url} attempt ${n}/${options.retries}: ${last.problem ? `unhealthy (${last.problem})` : `healthy (${last.status})`}, ${elapsed} ms`,
        )
        if (!last.problem) break
        const window = backoffWindow(n - 1, options.intervalMs)
        const delay = Math.round(window / 2 + random() * (window / 2))
        if (n === options.retries || Date.now() + delay >= deadline) break
        await wait(delay)
      }
      return {
        target: url,
        healthy: !last.problem,
        status: last.status,
        attempts,
        durationMs: Date.now() - begin,
        detail: last.problem ?? '',
      }
    }),
  )
  return {
    healthy: results.every(r => r.healthy),
    attempts: Math.max(0, ...results.map(r => r.attempts)),
    durationMs: Date.now() - started,
    results,
  }
}
