import { errorMessage } from './errors.js'
import type { Logger } from './logger.js'

export interface RetryOptions {
  /** Shown in log lines: "<label>: attempt 2 of 5 failed …". */
  label: string
  /** Total attempts, including the first. */
  attempts: number
  /** Cap of the first backoff window, in ms; doubles each attempt. */
  baseDelayMs: number
  /** Largest backoff window, in ms. */
  maxDelayMs: number
  logger?: Logger
  /** Whether an error is worth another attempt; default: every error. */
  retryable?: (error: unknown) => boolean
  /** Injectable for tests, so they never wait. */
  sleep?: (ms: number) => Promise<void>
  /** Injectable for tests; returns [0, 1). */
  random?: () => number
}

export const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))

/**
 * The backoff window before retry number `retry` (0-based): `baseDelayMs` doubled at each
 * retry, at most `maxDelayMs` (by default 8 base windows: 1, 2, 4, 8, 8, … × base).
 */
export function backoffWindow(
  retry: number,
  baseDelayMs: number,
  maxDelayMs: number = baseDelayMs * 8,
): number {
  return Math.min(maxDelayMs, baseDelayMs * 2 ** retry)
}

/**
 * The delay before retry number `retry` (0-based) with "full jitter": a uniform draw from
 * [0, backoffWindow). Spreading retries this way keeps many clients from retrying in
 * lockstep.
 */
export function fullJitterDelay(
  retry: number,
  baseDelayMs: number,
  maxDelayMs: number,
  random: () => number = Math.random,
): number {
  return Math.floor(random() * backoffWindow(retry, baseDelayMs, maxDelayMs))
}

/** Runs `fn` until it succeeds or the attempts run out, logging each failed attempt. */
export async function retryWithBackoff<T>(
  fn: (attempt: number) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const wait = options.sleep ?? sleep
  const attempts = Math.max(1, Math.floor(options.attempts))
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt)
    } catch (error) {
      const retryable = options.retryable?.(error) ?? true
      if (!retryable || attempt >= attempts) throw error
      const delay = fullJitterDelay(
        attempt - 1,
        options.baseDelayMs,
        options.maxDelayMs,
        options.random,
      )
      options.logger?.warning(
        `${options.label}: attempt ${attempt} of ${attempts} failed (${errorMessage(error)}); ` +
          `retrying in ${delay} ms`,
      )
      await wait(delay)
    }
  }
}
