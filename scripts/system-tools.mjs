#!/usr/bin/env node
/**
 * The system tools the tests need (table: scripts/system-tools.json), checked before `npm test`.
 *
 *   node scripts/system-tools.mjs --install   installs the missing Debian packages with apt-get
 *                                            (as root, or through password-less sudo)
 *   node scripts/system-tools.mjs --check     only reports
 *
 * Each missing tool gets one line naming its Debian package; the exit code is 1 while any is
 * missing, so `npm test` stops before a test fails on it in a less clear way.
 */
import { spawnSync } from 'node:child_process'
import { accessSync, constants, readFileSync, statSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { URL, pathToFileURL } from 'node:url'

const TABLE = JSON.parse(readFileSync(new URL('./system-tools.json', import.meta.url), 'utf8'))

/** Debian package of every tool the tests use, by tool name. */
export const SYSTEM_TOOLS = TABLE.tools
/** npm package (name@version) of every tool installed with `npm install -g`, by tool name. */
export const NPM_GLOBAL_TOOLS = TABLE.npmGlobal ?? {}

/** True when `name` is an executable file in one of PATH's directories. */
export function onPath(name, path = process.env.PATH ?? '') {
  return path
    .split(delimiter)
    .filter(Boolean)
    .some(dir => {
      const file = join(dir, name)
      try {
        accessSync(file, constants.X_OK)
        return statSync(file).isFile()
      } catch {
        return false
      }
    })
}

/** The tools that are not on PATH. */
export function missingTools() {
  return [...Object.keys(SYSTEM_TOOLS), ...Object.keys(NPM_GLOBAL_TOOLS)].filter(
    tool => !onPath(tool),
  )
}

/** The one line that says how to get `tool`. */
export function installHint(tool) {
  if (Object.hasOwn(NPM_GLOBAL_TOOLS, tool))
    return `missing system tool: ${tool} (install the npm package: npm install -g ${NPM_GLOBAL_TOOLS[tool]})`
  return `missing system tool: ${tool} (install the Debian package: apt-get install ${SYSTEM_TOOLS[tool]})`
}

/** apt-get as root, or through sudo when it needs no password; undefined when neither works. */
function aptGetPrefix() {
  if (!onPath('apt-get')) return undefined
  if (process.getuid?.() === 0) return []
  const sudo = spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' })
  return sudo.status === 0 ? ['sudo', '-n', '-E'] : undefined
}

function aptGet(prefix, args) {
  const [program, ...rest] = [...prefix, 'apt-get', ...args]
  const run = spawnSync(program, rest, {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  })
  return run.status === 0
}

function install(missing) {
  const prefix = aptGetPrefix()
  if (prefix === undefined) return false
  const fromApt = missing.filter(tool => Object.hasOwn(SYSTEM_TOOLS, tool))
  const fromNpm = missing.filter(tool => Object.hasOwn(NPM_GLOBAL_TOOLS, tool))
  let ok = true
  if (fromApt.length > 0) {
    const packages = [...new Set(fromApt.map(tool => SYSTEM_TOOLS[tool]))].sort()
    console.error(`system tools: installing ${packages.join(' ')} with apt-get`)
    ok =
      aptGet(prefix, ['update', '-qq']) &&
      aptGet(prefix, ['install', '-y', '-qq', '--no-install-recommends', ...packages])
  }
  if (fromNpm.length > 0) {
    const packages = fromNpm.map(tool => NPM_GLOBAL_TOOLS[tool])
    console.error(`system tools: installing ${packages.join(' ')} with npm install -g`)
    const [program, ...rest] = [
      ...prefix,
      'npm',
      'install',
      '-g',
      '--no-audit',
      '--no-fund',
      ...packages,
    ]
    ok = spawnSync(program, rest, { stdio: ['ignore', 'ignore', 'inherit'] }).status === 0 && ok
  }
  return ok
}

function main(args) {
  const mode = args[0] ?? '--check'
  if (mode !== '--check' && mode !== '--install') {
    console.error(`system-tools: unknown option ${JSON.stringify(mode)}: use --check or --install`)
    return 2
  }
  let missing = missingTools()
  if (missing.length > 0 && mode === '--install' && install(missing)) missing = missingTools()
  for (const tool of missing) console.error(installHint(tool))
  return missing.length > 0 ? 1 : 0
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = main(process.argv.slice(2))
}
