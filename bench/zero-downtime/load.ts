/**
 * The pure parts of the zero-downtime benchmark: the open-loop schedule, how an answer is
 * judged, the percentile, and the table and last line it prints. No I/O here, so the test in
 * __tests__/bench/ checks each of them.
 */

/**
 * An open-loop schedule: request i is due `i / rate` seconds after the start, whatever became of
 * the ones before it (a slow or refused request never delays the next, as with real users).
 */
export class OpenLoopSchedule {
  /** Milliseconds between two requests. */
  readonly intervalMs: number
  /** Requests in the whole schedule. */
  readonly total: number

  constructor(ratePerSecond: number, durationMs: number) {
    if (!(ratePerSecond > 0) || !Number.isFinite(ratePerSecond))
      throw new Error(
        `rate ${ratePerSecond} is not allowed: use a number of requests per second > 0`,
      )
    if (!(durationMs > 0) || !Number.isFinite(durationMs))
      throw new Error(`duration ${durationMs} ms is not allowed: use a number > 0`)
    this.intervalMs = 1000 / ratePerSecond
    this.total = Math.ceil((durationMs * ratePerSecond) / 1000)
  }

  /** When request `index` (0-based) is due, in ms after the start. */
  dueAt(index: number): number {
    return index * this.intervalMs
  }

  /** How many requests are due by `elapsedMs` after the start (those to have started by then). */
  dueBy(elapsedMs: number): number {
    if (elapsedMs < 0) return 0
    return Math.min(this.total, Math.floor(elapsedMs / this.intervalMs) + 1)
  }
}

/** What became of one request. */
export type Outcome = 'ok' | 'connection' | 'timeout' | 'status' | 'body'

/** One request of the load: its outcome and its latency from the moment it was due. */
export interface Sample {
  outcome: Outcome
  latencyMs: number
}

/** What the client got: a status and body, or an error before any answer. */
export type Answer =
  { status: number; body: string } | { error: 'connection' | 'timeout'; detail?: string }

/**
 * Judges an answer: a connection error or timeout, a non-2xx status, or a body the app would
 * not send (`expectedBody`: the app's answers, e.g. the old and the new version's greeting).
 */
export function judge(answer: Answer, expectedBody: (body: string) => boolean): Outcome {
  if ('error' in answer) return answer.error
  if (answer.status < 200 || answer.status > 299) return 'status'
  return expectedBody(answer.body) ? 'ok' : 'body'
}

/** The nearest-rank percentile `p` (0 < p ≤ 100) of `values`; NaN when there are none. */
export function percentile(values: readonly number[], p: number): number {
  if (!(p > 0 && p <= 100)) throw new Error(`percentile ${p} is not in (0, 100]`)
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.ceil((p / 100) * sorted.length) - 1] as number
}

/** The numbers of one mode's load. */
export interface LoadSummary {
  requests: number
  failed: number
  /** Failed requests by outcome. */
  failures: Partial<Record<Exclude<Outcome, 'ok'>, number>>
  /** Over every request, failed or not, in ms. */
  p50Ms: number
  p99Ms: number
  maxMs: number
}

export function summarize(samples: readonly Sample[]): LoadSummary {
  const failures: LoadSummary['failures'] = {}
  for (const { outcome } of samples)
    if (outcome !== 'ok') failures[outcome] = (failures[outcome] ?? 0) + 1
  const latencies = samples.map(sample => sample.latencyMs)
  return {
    requests: samples.length,
    failed: Object.values(failures).reduce((sum, n) => sum + n, 0),
    failures,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies.length ? Math.max(...latencies) : Number.NaN,
  }
}

/** One mode of the benchmark, measured or not. */
export interface ModeResult {
  /** Its column's heading, e.g. `1. in-place, 3 hosts, load balancer`. */
  name: string
  /** Whether the mode is meant to drop no request (the load balancer and blue-green). */
  zeroDowntime: boolean
  /** The deploy's status (ssm-deploy's `status` output), or why it did not run. */
  deploy: string
  /** Seconds the deploy took. */
  deploySeconds?: number
  /** The load's numbers; absent when the mode did not run. */
  load?: LoadSummary
  /** What the benchmark saw the deploy do, e.g. `3 of 3 hosts drained`. */
  note?: string
}

const ms = (value: number) => (Number.isNaN(value) ? '-' : value.toFixed(1))

function failureCell(load: LoadSummary): string {
  const kinds = Object.entries(load.failures).map(([kind, n]) => `${n} ${kind}`)
  return kinds.length ? `${load.failed} (${kinds.join(', ')})` : '0'
}

/** The modes side by side, one column each, as a Markdown table. */
export function resultTable(modes: readonly ModeResult[]): string {
  const rows: [string, (mode: ModeResult) => string][] = [
    ['deploy', mode => mode.deploy],
    [
      'deploy time (s)',
      mode => (mode.deploySeconds === undefined ? '-' : mode.deploySeconds.toFixed(1)),
    ],
    ['requests', mode => (mode.load ? String(mode.load.requests) : '-')],
    ['failed requests', mode => (mode.load ? failureCell(mode.load) : 'not run')],
    ['p50 latency (ms)', mode => (mode.load ? ms(mode.load.p50Ms) : '-')],
    ['p99 latency (ms)', mode => (mode.load ? ms(mode.load.p99Ms) : '-')],
    ['max latency (ms)', mode => (mode.load ? ms(mode.load.maxMs) : '-')],
    ['seen', mode => mode.note ?? '-'],
  ]
  const cell = (text: string) => text.replace(/\|/g, '\\|')
  const head = `| | ${modes.map(mode => cell(mode.name)).join(' | ')} |`
  const rule = `| --- | ${modes.map(() => '---:').join(' | ')} |`
  const body = rows.map(
    ([label, value]) => `| ${label} | ${modes.map(m => cell(value(m))).join(' | ')} |`,
  )
  return [head, rule, ...body].join('\n')
}

/**
 * The last line: `failed requests: N of M` for the zero-downtime mode that failed the most
 * requests (on a tie, the one that sent more). When none of them ran, it says so instead.
 */
export function lastLine(modes: readonly ModeResult[]): string {
  const measured = modes
    .filter(mode => mode.zeroDowntime)
    .flatMap(mode => (mode.load ? [mode.load] : []))
  if (measured.length === 0) return 'failed requests: not measured (no zero-downtime mode ran)'
  const worst = measured.reduce((a, b) =>
    b.failed > a.failed || (b.failed === a.failed && b.requests > a.requests) ? b : a,
  )
  return `failed requests: ${worst.failed} of ${worst.requests}`
}
