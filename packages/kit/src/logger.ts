/**
 * What domain code logs through. The runner's implementation writes workflow commands and
 * neutralises every message, so untrusted text (tags, host output, reasons) may be logged as
 * is; the console one serves the sandbox, the demo and tests.
 */
export interface Logger {
  info(message: string): void
  warning(message: string): void
  error(message: string): void
  debug(message: string): void
  /** Runs `fn` inside a collapsible log group. */
  group<T>(name: string, fn: () => Promise<T>): Promise<T>
}

// The runner reads stdout line by line (a line ends at \r or \n) and runs a line as a command
// when, after leading whitespace, it starts with `::`, or when it holds `##[` anywhere (the
// older syntax). Leading control and format characters count too, to be safe.
const COMMAND_START = /^[\p{White_Space}\p{Cc}\p{Cf}]*::/u

/**
 * True when `text`, written to the runner's log, could be read as a workflow command
 * (`::add-mask::`, `::stop-commands::`, `::error::`, `##[add-mask]`…) on any of its lines.
 */
export function mayRunWorkflowCommand(text: string): boolean {
  return text.includes('##[') || text.split(/\r\n|\r|\n/).some(line => COMMAND_START.test(line))
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
