/**
 * Service-level fault knobs (throttling, latency) and the per-operation call counters that
 * tests and benchmarks read. Instance-level faults (offline agent, slow or dying host) live on
 * the instances themselves (see instances.ts).
 */

/** Which calls a throttling or latency rule applies to; omitted fields match everything. */
export interface CallSelector {
  /** `ec2`, `ssm` or `elbv2` (or another service name a composed server uses). */
  service?: string
  /** Operation names, e.g. `['ListCommandInvocations']`. */
  operations?: readonly string[]
}

interface ThrottleNextRule {
  kind: 'next'
  remaining: number
  selector: CallSelector
}
interface ThrottleRateRule {
  kind: 'rate'
  fraction: number
  selector: CallSelector
}
interface ThrottleBucketRule {
  kind: 'bucket'
  perSecond: number
  burst: number
  tokens: number
  refilledAt: number
  selector: CallSelector
}
type ThrottleRule = ThrottleNextRule | ThrottleRateRule | ThrottleBucketRule

/** One call the sandbox received. */
export interface CallRecord {
  service: string
  operation: string
  /** `Date.now()` when the request arrived. */
  at: number
  throttled: boolean
}

function matches(selector: CallSelector, service: string, operation: string): boolean {
  if (selector.service !== undefined && selector.service !== service) return false
  if (selector.operations !== undefined && !selector.operations.includes(operation)) return false
  return true
}

/** A small seedable PRNG (mulberry32), so throttling by rate is reproducible in tests. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * Throttling and latency rules shared by every service of one sandbox, plus the record of
 * calls. All knobs can be changed while the sandbox runs.
 */
export class Faults {
  private rules: ThrottleRule[] = []
  private latencies: { ms: number; selector: CallSelector }[] = []
  private random: () => number
  /** Calls received per operation (throttled ones included), e.g. `calls.SendCommand`. */
  readonly calls: Record<string, number> = {}
  /** Calls answered with a throttling error, per operation. */
  readonly throttled: Record<string, number> = {}
  /** Every call in arrival order (service, operation, time, throttled). */
  readonly log: CallRecord[] = []

  constructor(seed = 1) {
    this.random = seededRandom(seed)
  }

  /** The next `count` matching calls fail with the service's throttling error. */
  throttleNext(count: number, selector: CallSelector = {}): this {
    this.rules.push({ kind: 'next', remaining: count, selector })
    return this
  }

  /** Each matching call fails with probability `fraction` (0–1), from a seeded PRNG. */
  throttleRate(fraction: number, selector: CallSelector = {}): this {
    if (!(fraction >= 0 && fraction <= 1))
      throw new RangeError(`throttle fraction ${fraction} is not in 0..1`)
    this.rules.push({ kind: 'rate', fraction, selector })
    return this
  }

  /**
   * A token bucket like the real per-account API rate limits: `perSecond` calls a second
   * with bursts of up to `burst`; calls beyond it are throttled.
   */
  throttleAbove(perSecond: number, burst: number, selector: CallSelector = {}): this {
    this.rules.push({
      kind: 'bucket',
      perSecond,
      burst,
      tokens: burst,
      refilledAt: Date.now(),
      selector,
    })
    return this
  }

  /** Every matching response is delayed by `ms` (rules add up). */
  addLatency(ms: number, selector: CallSelector = {}): this {
    this.latencies.push({ ms, selector })
    return this
  }

  /** Removes every throttling and latency rule (counters are kept). */
  clear(): this {
    this.rules = []
    this.latencies = []
    return this
  }

  /** Resets the call counters and the call log. */
  resetCounters(): void {
    for (const key of Object.keys(this.calls)) delete this.calls[key]
    for (const key of Object.keys(this.throttled)) delete this.throttled[key]
    this.log.length = 0
  }

  /** Calls of `operation` received since `since` (a `Date.now()` value). */
  callsSince(operation: string, since: number): number {
    return this.log.filter(call => call.operation === operation && call.at >= since).length
  }

  /** Counts a call and decides whether it is throttled. Used by the service front ends. */
  admit(service: string, operation: string): { throttled: boolean; latencyMs: number } {
    const now = Date.now()
    let throttled = false
    for (const rule of this.rules) {
      if (!matches(rule.selector, service, operation)) continue
      if (rule.kind === 'next') {
        if (rule.remaining > 0) {
          rule.remaining -= 1
          throttled = true
        }
      } else if (rule.kind === 'rate') {
        if (this.random() < rule.fraction) throttled = true
      } else {
        const elapsed = (now - rule.refilledAt) / 1000
        rule.tokens = Math.min(rule.burst, rule.tokens + elapsed * rule.perSecond)
        rule.refilledAt = now
        if (rule.tokens >= 1) rule.tokens -= 1
        else throttled = true
      }
      if (throttled) break
    }
    this.rules = this.rules.filter(rule => rule.kind !== 'next' || rule.remaining > 0)
    this.calls[operation] = (this.calls[operation] ?? 0) + 1
    if (throttled) this.throttled[operation] = (this.throttled[operation] ?? 0) + 1
    this.log.push({ service, operation, at: now, throttled })
    const latencyMs = this.latencies
      .filter(rule => matches(rule.selector, service, operation))
      .reduce((sum, rule) => sum + rule.ms, 0)
    return { throttled, latencyMs }
  }
}
