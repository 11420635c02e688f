/**
 * Runs a bundled action (dist/<name>/index.js) in a child process the way the GitHub runner
 * does (used by the end-to-end tests and `npm run demo`): inputs as INPUT_<NAME> (defaults from action.yml filled in), the GITHUB_OUTPUT,
 * GITHUB_STEP_SUMMARY and GITHUB_ENV files, the GITHUB_* context variables, and Node 24
 * (the npm package `node@24`), the runtime of `runs.using: node24`.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parse as parseYaml } from 'yaml'

export const repoRoot = resolve(import.meta.dirname, '../../..')

/**
 * The temp dirs of the runs so far (each run's GITHUB_OUTPUT and friends, and its default
 * workspace and RUNNER_TEMP). Kept until removeActionWorkDirs(), since callers read files an
 * action wrote there; removed at the latest when this process exits. One set for the whole
 * process, kept on `process`: a test runner may load this module once per test file.
 */
const workDirs = ((process as unknown as Record<symbol, Set<string> | undefined>)[
  Symbol.for('ec2-deploy-actions.action-work-dirs')
] ??= removedOnExit(new Set<string>()))

function removedOnExit(dirs: Set<string>): Set<string> {
  process.once('exit', () => removeDirs(dirs))
  return dirs
}

function removeDirs(dirs: Set<string>): void {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  dirs.clear()
}

/** Removes the temp dirs of every run so far. */
export function removeActionWorkDirs(): void {
  removeDirs(workDirs)
}

/** The Node 24 binary from the `node` npm package. */
export const node24 = join(repoRoot, 'node_modules/node/bin/node')

/** Node 24's options that run this repository's TypeScript sources as they are. */
export const RUN_TYPESCRIPT = [
  '--experimental-transform-types',
  '--no-warnings',
  '--import',
  join(repoRoot, 'scripts/ts-loader.mjs'),
]

/** node24's arguments that run `script` as an ES module, with RUN_TYPESCRIPT. */
export function evalTypescriptModule(script: string): string[] {
  return [...RUN_TYPESCRIPT, '--input-type=module', '-e', script]
}

export interface BundledActionOptions {
  /** Inputs by their action.yml names; unset ones get action.yml's default. */
  inputs?: Record<string, string>
  /** Extra environment (GITHUB_REF, AWS_ENDPOINT_URL_S3, …); wins over the defaults. */
  env?: Record<string, string | undefined>
  /** Working directory (GITHUB_WORKSPACE); a fresh temp dir by default. */
  cwd?: string
  /** Values for `${{ … }}` expressions in action.yml defaults, e.g. {'github.token': 'x'}. */
  context?: Record<string, string>
  /** Kill the action after this long (ms). */
  timeoutMs?: number
}

export interface ActionRun {
  exitCode: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  outputs: Record<string, string>
  summary: string
  /** Lines the action appended to GITHUB_ENV. */
  envFile: string
  /** Messages of ::error:: workflow commands, unescaped. */
  errors: string[]
  warnings: string[]
}

interface ActionYml {
  inputs?: Record<string, { default?: string; required?: boolean }>
}

/** Reads actions/<name>/action.yml. */
export function readActionYml(name: string): ActionYml {
  return parseYaml(readFileSync(join(repoRoot, 'actions', name, 'action.yml'), 'utf8')) as ActionYml
}

function evaluateDefault(value: string, context: Record<string, string>): string {
  return value.replace(/\$\{\{\s*([^}]*?)\s*\}\}/g, (_whole, expression: string) => {
    const known = context[expression]
    if (known === undefined) {
      throw new Error(`action.yml default uses \${{ ${expression} }}: pass it in options.context`)
    }
    return known
  })
}

/** Parses the GITHUB_OUTPUT file: `name<<DELIMITER` blocks and `name=value` lines. */
export function parseOutputFile(text: string): Record<string, string> {
  const outputs: Record<string, string> = {}
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line)
    if (heredoc) {
      const [, name, delimiter] = heredoc as unknown as [string, string, string]
      const value: string[] = []
      for (i++; i < lines.length && lines[i] !== delimiter; i++) value.push(lines[i] as string)
      outputs[name] = value.join('\n')
    } else if (line.includes('=')) {
      outputs[line.slice(0, line.indexOf('='))] = line.slice(line.indexOf('=') + 1)
    }
  }
  return outputs
}

function commandMessages(stdout: string, command: string): string[] {
  const prefix = new RegExp(`^::${command}(?: [^:]*)?::(.*)$`)
  return stdout
    .split('\n')
    .map(line => prefix.exec(line)?.[1])
    .filter((m): m is string => m !== undefined)
    .map(m => m.replace(/%0A/g, '\n').replace(/%0D/g, '\r').replace(/%25/g, '%'))
}

/** The run every action runs in unless `env` says otherwise (the `github` context's source). */
export const RUN_DEFAULTS: Readonly<Record<string, string>> = {
  GITHUB_REPOSITORY: 'octo-org/octo-repo',
  GITHUB_REPOSITORY_OWNER: 'octo-org',
  GITHUB_SERVER_URL: 'https://github.com',
  GITHUB_API_URL: 'https://api.github.com',
  GITHUB_RUN_ID: '1234567890',
  GITHUB_RUN_NUMBER: '42',
  GITHUB_RUN_ATTEMPT: '1',
  GITHUB_WORKFLOW: 'deploy',
  GITHUB_EVENT_NAME: 'push',
  GITHUB_ACTOR: 'octocat',
}

export interface StartedAction {
  child: ChildProcess
  result: Promise<ActionRun>
}

/** Starts the action and returns the child process (for signal tests) and its result. */
export function startBundledAction(
  name: string,
  options: BundledActionOptions = {},
): StartedAction {
  const entry = join(repoRoot, 'dist', name, 'index.js')
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run npm run bundle`)
  if (!existsSync(node24)) throw new Error(`${node24} is missing: run npm ci`)
  const work = mkdtempSync(join(tmpdir(), `action-${name}-`))
  workDirs.add(work)
  const files = {
    output: join(work, 'output'),
    summary: join(work, 'summary'),
    env: join(work, 'env'),
  }
  for (const file of Object.values(files)) writeFileSync(file, '')

  const inputs: Record<string, string> = {}
  const context = { 'github.token': 'ghs_test_token', ...options.context }
  for (const [input, spec] of Object.entries(readActionYml(name).inputs ?? {})) {
    if (spec.default !== undefined) inputs[input] = evaluateDefault(String(spec.default), context)
  }
  for (const [input, value] of Object.entries(options.inputs ?? {})) {
    if (!(input in (readActionYml(name).inputs ?? {}))) {
      throw new Error(`action ${name} has no input '${input}'`)
    }
    inputs[input] = value
  }
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? work,
    LANG: 'C.UTF-8',
    CI: 'true',
    GITHUB_ACTIONS: 'true',
    GITHUB_OUTPUT: files.output,
    GITHUB_STEP_SUMMARY: files.summary,
    GITHUB_ENV: files.env,
    GITHUB_WORKSPACE: options.cwd ?? work,
    ...RUN_DEFAULTS,
    RUNNER_TEMP: work,
    RUNNER_OS: 'Linux',
  }
  for (const [input, value] of Object.entries(inputs)) {
    env[`INPUT_${input.replace(/ /g, '_').toUpperCase()}`] = value
  }
  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[key]
    else env[key] = value
  }

  const child = spawn(node24, [entry], {
    cwd: options.cwd ?? work,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', chunk => (stdout += String(chunk)))
  child.stderr?.on('data', chunk => (stderr += String(chunk)))
  const timer =
    options.timeoutMs === undefined
      ? undefined
      : setTimeout(() => child.kill('SIGKILL'), options.timeoutMs)
  const result = new Promise<ActionRun>((done, fail) => {
    child.on('error', fail)
    child.on('close', (exitCode, signal) => {
      if (timer) clearTimeout(timer)
      done({
        exitCode,
        signal,
        stdout,
        stderr,
        outputs: parseOutputFile(readFileSync(files.output, 'utf8')),
        summary: readFileSync(files.summary, 'utf8'),
        envFile: readFileSync(files.env, 'utf8'),
        errors: commandMessages(stdout, 'error'),
        warnings: commandMessages(stdout, 'warning'),
      })
    })
  })
  return { child, result }
}

/** Runs the action to completion. */
export function runBundledAction(
  name: string,
  options: BundledActionOptions = {},
): Promise<ActionRun> {
  return startBundledAction(name, options).result
}
