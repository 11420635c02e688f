// The small pieces every part of the page is written with: untrusted values as text or code,
// and durations as a person reads them.
import { escapeMarkdown } from '../../kit/src/index.js'

/** Any value as one line of escaped text ('' for nothing). */
export const text = (value: unknown): string =>
  escapeMarkdown(value === undefined || value === null ? '' : String(value))

/** A value in `<code>`, escaped; '—' when there is none. */
export const code = (value: string | undefined): string =>
  value ? `<code>${text(value)}</code>` : '—'

/** `812 ms`, `12.3 s`; '—' when unknown. */
export function formatDuration(ms: unknown): string {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '—'
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`
}

/** `1 host`, `3 hosts`. */
export const count = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`
