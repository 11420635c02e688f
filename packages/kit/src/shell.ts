import { ConfigurationError } from './errors.js'

/**
 * Quotes a string for POSIX shells (bash, dash, sh) so that it is read back as exactly
 * one word with exactly these bytes. Single quotes turn off every expansion; an embedded
 * single quote is written as '\''. NUL cannot be passed through argv or a script, so it is
 * rejected rather than silently truncated.
 */
export function shellQuote(value: string, what = 'value'): string {
  if (value.includes('\0')) {
    throw new ConfigurationError(`${what} contains a NUL character, which a shell cannot carry`)
  }
  return `'${value.replace(/'/g, `'\\''`)}'`
}
