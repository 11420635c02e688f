import fc from 'fast-check'

/**
 * Values that break naive quoting or templating: command substitution, quotes, separators,
 * globbing, newlines, option-looking words, and unicode. `CANARY` is replaced by a path that
 * a test later checks was never created.
 */
export const HOSTILE_CORPUS: readonly string[] = [
  '$(touch CANARY)',
  '`touch CANARY`',
  "'; touch CANARY; '",
  '"; touch CANARY; "',
  "'\\''$(touch CANARY)",
  '\n touch CANARY\n',
  'a && touch CANARY',
  'a || touch CANARY',
  'a; touch CANARY',
  'a | touch CANARY',
  '$(IFS=_;cmd=touch_CANARY;$cmd)',
  '${IFS}touch${IFS}CANARY',
  '> CANARY',
  '\\',
  "'",
  '"',
  '$HOME',
  '!!',
  '*',
  '~',
  '-n',
  '--',
  '\r\n',
  '\t',
  '%0A::error::injected',
  '::stop-commands::x',
  '<img src=x onerror=alert(1)>',
  'ümlaut ✓ 日本語 🚀',
  '\u202e\u200b',
  '../../etc/passwd',
  '/etc/passwd',
  'release/../../x',
  '',
]

/** Hostile strings with the canary path substituted. */
export function hostileValues(canary: string): string[] {
  return HOSTILE_CORPUS.map(value => value.replaceAll('CANARY', canary))
}

/** Arbitrary strings: every code point (`unit: 'binary'`), the corpus, and mixes of both. */
export function hostileString(canary: string): fc.Arbitrary<string> {
  const corpus = fc.constantFrom(...hostileValues(canary))
  return fc.oneof(
    fc.string({ unit: 'binary', maxLength: 40 }),
    corpus,
    fc
      .array(fc.oneof(corpus, fc.string({ unit: 'binary', maxLength: 8 })), { maxLength: 5 })
      .map(parts => parts.join('')),
  )
}
