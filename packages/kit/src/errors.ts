/**
 * A mistake the user can fix: a bad input, a missing permission, a conflicting state.
 * Its message is shown as is; any other error is treated as a bug and shown with its stack.
 */
export class ConfigurationError extends Error {
  override name = 'ConfigurationError'
}

/**
 * A failure the action has already explained in full, such as a deploy that did not
 * succeed on every host: its message is shown as is, without a stack.
 */
export class ReportedFailure extends Error {
  override name = 'ReportedFailure'
}

const MAX_SHOWN = 120

/**
 * Renders an untrusted value for an error message: quoted, with control characters,
 * quotes and backslashes escaped, and cut to a readable length.
 */
export function describeValue(value: string, maxShown = MAX_SHOWN): string {
  const cut = value.length > maxShown ? `${value.slice(0, maxShown)}…` : value
  // JSON escaping makes newlines, NUL and other control characters visible.
  return JSON.stringify(cut).replace(/[\u2028\u2029\u0080-\u009f]/g, c => {
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`
  })
}

/** Builds the standard "input X value Y: rule" error. */
export function invalidInput(input: string, value: string, rule: string): ConfigurationError {
  return new ConfigurationError(`input '${input}': ${describeValue(value)} is not valid: ${rule}`)
}

/** The message of any thrown value, Error or not. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message
  if (typeof error === 'string') return error
  try {
    return JSON.stringify(error) ?? String(error)
  } catch {
    return String(error)
  }
}
