/**
 * Reads an action's stdout the way the GitHub runner does (actions/runner's ActionCommand and
 * ActionCommandManager): lines end at \r or \n; a line is a command when, after leading
 * whitespace, it starts with `::name …::data`, or when it holds `##[name …]data` anywhere;
 * only registered names count, case-insensitively; `::stop-commands::TOKEN` turns commands off
 * until `::TOKEN::`. Tests use it to check that untrusted text never runs as a command.
 */

const REGISTERED = [
  'add-mask',
  'add-matcher',
  'add-path',
  'debug',
  'echo',
  'endgroup',
  'error',
  'group',
  'notice',
  'remove-matcher',
  'save-state',
  'set-env',
  'set-output',
  'stop-commands',
  'warning',
]

/** .NET's String.TrimStart: char.IsWhiteSpace is Unicode Zs/Zl/Zp plus \t \n \v \f \r \x85. */
const DOTNET_LEADING_SPACE = /^[\p{Zs}\p{Zl}\p{Zp}\t\n\v\f\r\u0085]+/u

export interface WorkflowCommand {
  name: string
  data: string
  line: string
}

export interface RunnerLog {
  /** Commands the runner ran (stop-commands and its resume token included). */
  commands: WorkflowCommand[]
  /** Values the runner was told to mask. */
  masks: string[]
  /** Lines shown as text (commands excluded). */
  text: string[]
}

function parse(line: string, registered: Set<string>): WorkflowCommand | undefined {
  const trimmed = line.replace(DOTNET_LEADING_SPACE, '')
  if (trimmed.startsWith('::')) {
    const end = trimmed.indexOf('::', 2)
    if (end >= 0) {
      const name = trimmed.slice(2, end).split(' ')[0] ?? ''
      if (registered.has(name.toLowerCase())) return { name, data: trimmed.slice(end + 2), line }
    }
  }
  const prefix = line.indexOf('##[')
  if (prefix < 0) return undefined
  const bracket = line.indexOf(']', prefix)
  if (bracket < 0) return undefined
  const name = line.slice(prefix + 3, bracket).split(' ')[0] ?? ''
  return registered.has(name.toLowerCase())
    ? { name, data: line.slice(bracket + 1), line }
    : undefined
}

const unescapeData = (data: string) =>
  data.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%')

/** Processes stdout as the runner would. */
export function readAsRunner(stdout: string): RunnerLog {
  const registered = new Set(REGISTERED)
  const log: RunnerLog = { commands: [], masks: [], text: [] }
  let stopToken: string | undefined
  for (const line of stdout.split(/\r\n|\r|\n/)) {
    const command = parse(line, registered)
    const name = command?.name.toLowerCase()
    if (!command || (stopToken !== undefined && name !== stopToken)) {
      log.text.push(line)
      continue
    }
    log.commands.push(command)
    if (stopToken !== undefined) {
      registered.delete(stopToken)
      stopToken = undefined
    } else if (name === 'stop-commands') {
      stopToken = command.data.toLowerCase()
      registered.add(stopToken)
    } else if (name === 'add-mask') {
      log.masks.push(unescapeData(command.data))
    }
  }
  return log
}
