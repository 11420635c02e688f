/**
 * What domain code logs through. The runner's implementation writes workflow commands;
 * the console one serves the sandbox, the demo and tests.
 */
export interface Logger {
  info(message: string): void
  warning(message: string): void
  error(message: string): void
  debug(message: string): void
  /** Runs `fn` inside a collapsible log group. */
  group<T>(name: string, fn: () => Promise<T>): Promise<T>
}

/** A Logger on plain stdout/stderr; debug lines only when `debug` is true. */
export function consoleLogger(options: { debug?: boolean; prefix?: string } = {}): Logger {
  const prefix = options.prefix ?? ''
  return {
    info: m => console.log(`${prefix}${m}`),
    warning: m => console.warn(`${prefix}warning: ${m}`),
    error: m => console.error(`${prefix}error: ${m}`),
    debug: m => {
      if (options.debug) console.log(`${prefix}debug: ${m}`)
    },
    group: async (name, fn) => {
      console.log(`${prefix}▸ ${name}`)
      return fn()
    },
  }
}

/** A Logger that keeps every line, for tests that assert on what was logged. */
export function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = []
  return {
    lines,
    info: m => lines.push(`info: ${m}`),
    warning: m => lines.push(`warning: ${m}`),
    error: m => lines.push(`error: ${m}`),
    debug: m => lines.push(`debug: ${m}`),
    group: async (name, fn) => {
      lines.push(`group: ${name}`)
      try {
        return await fn()
      } finally {
        lines.push(`endgroup: ${name}`)
      }
    },
  }
}
