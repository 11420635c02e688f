import { gzipSync } from 'node:zlib'
import {
  APP_NAME_RULE,
  ConfigurationError,
  VERSION_RULE,
  ENVIRONMENT_RULE,
  assertSafeName,
  invalidInput,
  shellQuote,
} from '../../kit/src/index.js'
import { ENGINE_SCRIPT } from './engine-script.generated.js'
import { ENGINE_OPTIONS, type CountOption, type DurationOption } from './options.js'
import { RESULT_PREFIX } from './result.js'

/** What the engine does: deploy a new version, or switch back to one already on the host. */
export type DeployMode = 'deploy' | 'rollback'

/** How the host fetches the artifact: its instance role (`aws s3 cp`) or a presigned URL (`curl`). */
export type DownloadMethod = 'instance-role' | 'presigned'

/**
 * Typed options of one run of the host release engine. Names follow ssm-deploy's inputs
 * (`deploy-dir` → `deployDir`); every error names the input.
 */
export interface RemoteOptions extends BlueGreenOptions {
  /** `mode`: deploy (default) or rollback. */
  mode?: DeployMode
  /** `deploy-dir`: absolute, normalised path holding releases/, current, shared/ and .deploy/. */
  deployDir: string
  /** `app-name`: recorded in each release's .deploy-release.json and passed to hooks. */
  appName?: string
  /** `version`: required to deploy; in rollback mode the version to return to (default: the previous good one). */
  version?: string
  /** `environment`: passed to hooks as DEPLOY_ENVIRONMENT. */
  environment?: string
  /** `artifact-uri`: `s3://bucket/key` (instance-role) or an https presigned URL (presigned). */
  artifactUri?: string
  /** `artifact-sha256`: 64 hex digits; the download must match it. */
  artifactSha256?: string
  /** `download`: instance-role (default) or presigned. */
  download?: DownloadMethod
  /** `run-as`: the user hooks run as; unset means the user of the SSM agent (root). */
  runAs?: string
  /** `shared-paths`: relative paths linked from shared/ into each release; a trailing '/' makes a directory. */
  sharedPaths?: readonly string[]
  /** `before-switch`: shell code run in the new release before the switch. */
  beforeSwitch?: string
  /** `stop-command`: shell code run in the current release just before the switch. */
  stopCommand?: string
  /** `restart-command`: shell code run in the new release just after the switch. */
  restartCommand?: string
  /** `health-command`: shell code that exits 0 when the release is healthy. */
  healthCommand?: string
  /** `health-url`: an http(s) URL on the host that answers 2xx when healthy. */
  healthUrl?: string
  /**
   * `health-version`: health-url must also report the version of the release it checks (the
   * JSON field version, a X-App-Version or X-Version header, or text in the body); default true.
   */
  healthVersion?: boolean
  /** `health-retries`: attempts of the health check in all (default 10). */
  healthRetries?: number
  /** `health-interval`: first delay between attempts in ms, doubling up to 4× (default 2000). */
  healthIntervalMs?: number
  /** `keep-releases`: releases kept on the host (default 5). */
  keepReleases?: number
  /** `lock-timeout`: how long to wait for another deploy on the same deploy-dir, in ms (default 10 minutes). */
  lockTimeoutMs?: number
  /** `allow-downgrade`: allow deploying a version older than the current one outside rollback mode. */
  allowDowngrade?: boolean
  /** The GitHub run URL, written into the lock (to name the holder) and the history. */
  runUrl?: string
  /** The commit the artifact was built from (7 to 64 hex digits), written into the release's REVISION. */
  commit?: string
}

/** Defaults that match the engine's own; the numeric options' are in ENGINE_OPTIONS. */
export const REMOTE_DEFAULTS = {
  download: 'instance-role',
  healthVersion: true,
} as const

const PATH_SEGMENT = /^[A-Za-z0-9._-]+$/
const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/
const SHA256 = /^[0-9a-f]{64}$/
const COMMIT = /^[0-9a-f]{7,64}$/
const S3_URI = /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/[A-Za-z0-9!_.*()/+=@,-]+$/
// Presigned URLs: https, or plain http to the host's own loopback (the local sandbox's S3).
const HTTPS_URL =
  /^(https:\/\/[A-Za-z0-9.-]+|http:\/\/(127\.0\.0\.1|localhost))(:[0-9]{1,5})?\/[A-Za-z0-9._~%!$&()*+,;=:@/?-]*$/
// With blue-green, {port} (the slot's port) may stand in for the port.
const HEALTH_URL =
  /^https?:\/\/[A-Za-z0-9.-]+(:([0-9]{1,5}|\{port\}))?(\/[A-Za-z0-9._~%!$&()*+,;=:@/?-]*)?$/
const RUN_URL = /^https:\/\/[A-Za-z0-9.-]+(:[0-9]{1,5})?\/[A-Za-z0-9._~%/-]*$/
// Hooks are user shell code: any printable text, tabs and newlines; no other control characters.
// eslint-disable-next-line no-control-regex
const HOOK_FORBIDDEN = /[\u0000-\u0008\u000b-\u001f\u007f]/
const MAX_HOOK = 16_384
const MAX_URL = 2048

function absolutePath(input: string, value: string): string {
  const segments = value.split('/').slice(1)
  const ok =
    value.startsWith('/') &&
    value.length <= 256 &&
    segments.length > 0 &&
    segments.every(s => PATH_SEGMENT.test(s) && s !== '.' && s !== '..')
  if (!ok) {
    throw invalidInput(
      input,
      value,
      "use an absolute, normalised path of letters, digits, '.', '_' and '-' (no '.' or '..' segments, no trailing '/')",
    )
  }
  return value
}

function relativePath(input: string, value: string): string {
  const body = value.endsWith('/') ? value.slice(0, -1) : value
  const segments = body.split('/')
  const ok =
    value.length <= 256 &&
    body !== '.deploy-release.json' &&
    segments.every(s => PATH_SEGMENT.test(s) && s !== '.' && s !== '..')
  if (!ok) {
    throw invalidInput(
      input,
      value,
      "use paths relative to the release, of letters, digits, '.', '_' and '-', without '.' or '..' segments",
    )
  }
  return value
}

function matching(input: string, value: string, pattern: RegExp, rule: string, max = MAX_URL) {
  if (value.length > max || !pattern.test(value)) throw invalidInput(input, value, rule)
  return value
}

function integer(input: string, value: number, min: number, max: number): string {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw invalidInput(input, String(value), `use a whole number from ${min} to ${max}`)
  }
  return String(value)
}

/** A count option within its table range, as the engine's variable. */
function count(option: CountOption, value: number | undefined): string {
  return integer(option.input, value ?? option.default, option.min, option.max)
}

/** A duration option (ms) within its table range, as the engine's variable. */
function durationMs(option: DurationOption, value: number | undefined): string {
  return integer(option.input, value ?? option.defaultMs, option.minMs, option.maxMs)
}

function hook(input: string, value: string | undefined): string {
  if (value === undefined) return ''
  if (value.length > MAX_HOOK) {
    throw invalidInput(input, value, `use at most ${MAX_HOOK} characters`)
  }
  if (value.includes('\0') || HOOK_FORBIDDEN.test(value)) {
    throw invalidInput(input, value, 'use printable text, tabs and newlines only')
  }
  return value
}

// --- Blue-green on a single host: its options, defaults and checks, kept together --------

/** How a deploy replaces the running release: in place (stop, switch, restart) or blue-green. */
export type DeployStrategy = 'in-place' | 'blue-green'

/**
 * Options of strategy blue-green: two slots of the app (blue, green) on two ports behind the
 * host's reverse proxy. The new release starts and is checked on the idle slot, the proxy's
 * upstream file is switched to it, and the old slot stops after `drain-time`.
 */
export interface BlueGreenOptions {
  /** `strategy`: in-place (default, today's stop → switch → restart) or blue-green. */
  strategy?: DeployStrategy
  /** `slot-ports`: the ports of the blue and the green slot, distinct (default 8081, 8082). */
  slotPorts?: readonly number[]
  /**
   * `proxy-upstream-file`: the file the proxy includes inside its `upstream` block; the engine
   * rewrites it (temp + rename) to `server 127.0.0.1:<port>;` of the live slot. Required with
   * blue-green. It and every directory above it must be root's, writable by root alone.
   */
  proxyUpstreamFile?: string
  /**
   * `proxy-reload-command`: shell code run as root after each switch, to reload the proxy
   * gracefully (default `nginx -t -q && nginx -s reload`).
   */
  proxyReloadCommand?: string
  /** `drain-time`: how long the old slot keeps running after the switch, in ms (default 10 s). */
  drainTimeMs?: number
  /**
   * `keep-old-slot`: keep the old slot running, without traffic, until the next deploy, so that
   * a rollback to it is a switch of the proxy alone (default false).
   */
  keepOldSlot?: boolean
}

/** Defaults of the blue-green options, the engine's own. */
export const BLUE_GREEN_DEFAULTS = {
  strategy: 'in-place',
  slotPorts: [8081, 8082],
  // `nginx -s reload` alone exits 0 even when nginx refuses the new configuration.
  proxyReloadCommand: 'nginx -t -q && nginx -s reload',
  drainTimeMs: ENGINE_OPTIONS.drainTime.defaultMs,
  keepOldSlot: false,
} as const

/** In `health-url` with blue-green, the port of the slot being checked. */
export const SLOT_PORT_PLACEHOLDER = '{port}'

const SLOT_PORTS_RULE = 'use two distinct ports from 1 to 65535, blue first, such as 8081,8082'

function validSlotPorts(ports: readonly number[]): boolean {
  return (
    ports.length === 2 &&
    ports.every(p => Number.isSafeInteger(p) && p >= 1 && p <= 65_535) &&
    ports[0] !== ports[1]
  )
}

/**
 * `slot-ports` as a user writes it (`8081,8082`), parsed by the renderer's own rule; the error
 * names the input, the value as written and the rule.
 */
export function parseSlotPorts(raw: string): number[] {
  const items = raw.split(/[\s,]+/).filter(item => item !== '')
  const ports = items.map(item => (/^\d{1,5}$/.test(item) ? Number(item) : NaN))
  if (!validSlotPorts(ports)) throw invalidInput('slot-ports', raw, SLOT_PORTS_RULE)
  return ports
}

/**
 * The engine's variables for the strategy (none for in-place, whose engine default it is),
 * after checking the strategy's options: the actions call it when they read their inputs, so a
 * bad one fails the step before anything runs. health-url must name the slot's port as {port}
 * with blue-green, and must not otherwise.
 */
export function strategyVariables(options: RemoteOptions): Record<string, string> {
  const strategy = options.strategy ?? BLUE_GREEN_DEFAULTS.strategy
  const healthUrl = options.healthUrl ?? ''
  const placeholder = healthUrl.includes(SLOT_PORT_PLACEHOLDER)
  if (strategy === 'in-place') {
    if (placeholder) {
      throw invalidInput(
        'health-url',
        healthUrl,
        `${SLOT_PORT_PLACEHOLDER} is for strategy 'blue-green' only`,
      )
    }
    return {}
  }
  if (strategy !== 'blue-green') {
    throw invalidInput('strategy', String(strategy), "use 'in-place' or 'blue-green'")
  }
  if (healthUrl !== '' && !placeholder) {
    throw invalidInput(
      'health-url',
      healthUrl,
      `with blue-green, write the slot's port as ${SLOT_PORT_PLACEHOLDER} (http://127.0.0.1:${SLOT_PORT_PLACEHOLDER}/health): each slot is checked on its own port`,
    )
  }
  if (options.restartCommand === undefined || options.restartCommand.trim() === '') {
    throw new ConfigurationError(
      "input 'restart-command' is required when strategy is 'blue-green': it starts the release on the slot's port, $DEPLOY_PORT",
    )
  }
  const ports = options.slotPorts ?? BLUE_GREEN_DEFAULTS.slotPorts
  if (!validSlotPorts(ports)) throw invalidInput('slot-ports', ports.join(','), SLOT_PORTS_RULE)
  if (options.proxyUpstreamFile === undefined || options.proxyUpstreamFile === '') {
    throw new ConfigurationError(
      "input 'proxy-upstream-file' is required when strategy is 'blue-green': the file your nginx includes in the app's upstream block, e.g. /etc/nginx/upstreams/app.conf",
    )
  }
  const reload = options.proxyReloadCommand ?? BLUE_GREEN_DEFAULTS.proxyReloadCommand
  if (reload.trim() === '') {
    throw invalidInput(
      'proxy-reload-command',
      reload,
      "required with blue-green, e.g. 'nginx -s reload'",
    )
  }
  const keepOldSlot = options.keepOldSlot ?? BLUE_GREEN_DEFAULTS.keepOldSlot
  if (typeof keepOldSlot !== 'boolean') {
    throw invalidInput('keep-old-slot', String(keepOldSlot), 'use true or false')
  }
  return {
    EC2D_STRATEGY: strategy,
    EC2D_SLOT_PORTS: ports.join(','),
    EC2D_PROXY_UPSTREAM_FILE: absolutePath('proxy-upstream-file', options.proxyUpstreamFile),
    EC2D_PROXY_RELOAD_COMMAND: hook('proxy-reload-command', reload),
    EC2D_DRAIN_TIME_MS: durationMs(ENGINE_OPTIONS.drainTime, options.drainTimeMs),
    EC2D_KEEP_OLD_SLOT: keepOldSlot ? 'true' : 'false',
  }
}

// --- end of blue-green ---------------------------------------------------------------------

/**
 * Validates every option and returns the engine's variables (EC2D_*), as plain strings.
 * Throws a ConfigurationError naming the input, the escaped value and the rule.
 */
export function engineVariables(options: RemoteOptions): Record<string, string> {
  const mode = options.mode ?? 'deploy'
  if (mode !== 'deploy' && mode !== 'rollback') {
    throw invalidInput('mode', String(mode), "use 'deploy' or 'rollback'")
  }
  const download = options.download ?? REMOTE_DEFAULTS.download
  if (download !== 'instance-role' && download !== 'presigned') {
    throw invalidInput('download', String(download), "use 'instance-role' or 'presigned'")
  }
  const version = options.version ?? ''
  if (version !== '') assertSafeName("input 'version'", version, VERSION_RULE)
  if (mode === 'deploy' && version === '') {
    throw new ConfigurationError("input 'version' is required when mode is 'deploy'")
  }
  const artifactUri = options.artifactUri ?? ''
  const artifactSha256 = options.artifactSha256 ?? ''
  if (artifactUri !== '') {
    if (download === 'instance-role') {
      matching(
        'artifact-uri',
        artifactUri,
        S3_URI,
        "use s3://bucket/key (key of letters, digits and !_.*()/+=@,-) with download 'instance-role'",
      )
    } else {
      matching(
        'artifact-uri',
        artifactUri,
        HTTPS_URL,
        "use an https URL (or http://127.0.0.1/…) with download 'presigned'",
      )
    }
    matching('artifact-sha256', artifactSha256, SHA256, 'use 64 lower-case hex digits')
  } else if (mode === 'deploy') {
    throw new ConfigurationError("input 'artifact-uri' is required when mode is 'deploy'")
  } else if (artifactSha256 !== '') {
    matching('artifact-sha256', artifactSha256, SHA256, 'use 64 lower-case hex digits')
  }
  const appName = options.appName ?? ''
  if (appName !== '') assertSafeName("input 'app-name'", appName, APP_NAME_RULE)
  const environment = options.environment ?? ''
  if (environment !== '') assertSafeName("input 'environment'", environment, ENVIRONMENT_RULE)
  const runAs = options.runAs ?? ''
  if (runAs !== '') {
    matching(
      'run-as',
      runAs,
      USER_NAME,
      "use a Linux user name: lower-case letters, digits, '_' and '-'",
    )
  }
  const sharedPaths = (options.sharedPaths ?? []).map(p => relativePath('shared-paths', p))
  const healthUrl = options.healthUrl ?? ''
  if (healthUrl !== '') {
    matching(
      'health-url',
      healthUrl,
      HEALTH_URL,
      'use an http(s) URL such as http://127.0.0.1:3000/health',
    )
  }
  const runUrl = options.runUrl ?? ''
  if (runUrl !== '') matching('run-url', runUrl, RUN_URL, 'use the https URL of the workflow run')
  const commit = options.commit ?? ''
  if (commit !== '')
    matching('commit', commit, COMMIT, 'use a commit sha: 7 to 64 lower-case hex digits')
  const allowDowngrade = options.allowDowngrade ?? false
  if (typeof allowDowngrade !== 'boolean') {
    throw invalidInput('allow-downgrade', String(allowDowngrade), 'use true or false')
  }
  const healthVersion = options.healthVersion ?? REMOTE_DEFAULTS.healthVersion
  if (typeof healthVersion !== 'boolean') {
    throw invalidInput('health-version', String(healthVersion), 'use true or false')
  }
  return {
    EC2D_MODE: mode,
    EC2D_DEPLOY_DIR: absolutePath('deploy-dir', options.deployDir),
    EC2D_APP_NAME: appName,
    EC2D_VERSION: version,
    EC2D_ENVIRONMENT: environment,
    EC2D_ARTIFACT_URI: artifactUri,
    EC2D_ARTIFACT_SHA256: artifactSha256,
    EC2D_DOWNLOAD: download,
    EC2D_RUN_AS: runAs,
    EC2D_SHARED_PATHS: sharedPaths.join('\n'),
    EC2D_BEFORE_SWITCH: hook('before-switch', options.beforeSwitch),
    EC2D_STOP_COMMAND: hook('stop-command', options.stopCommand),
    EC2D_RESTART_COMMAND: hook('restart-command', options.restartCommand),
    EC2D_HEALTH_COMMAND: hook('health-command', options.healthCommand),
    EC2D_HEALTH_URL: healthUrl,
    EC2D_HEALTH_VERSION: healthVersion ? 'true' : 'false',
    EC2D_HEALTH_RETRIES: count(ENGINE_OPTIONS.healthRetries, options.healthRetries),
    EC2D_HEALTH_INTERVAL_MS: durationMs(ENGINE_OPTIONS.healthInterval, options.healthIntervalMs),
    EC2D_KEEP_RELEASES: count(ENGINE_OPTIONS.keepReleases, options.keepReleases),
    EC2D_LOCK_TIMEOUT_MS: durationMs(ENGINE_OPTIONS.lockTimeout, options.lockTimeoutMs),
    EC2D_ALLOW_DOWNGRADE: allowDowngrade ? 'true' : 'false',
    EC2D_RUN_URL: runUrl,
    EC2D_COMMIT: commit,
    ...strategyVariables(options),
  }
}

/** SSM's limit on a document, which the `commands` parameter must fit in (issue: 64 KB). */
export const SSM_COMMANDS_LIMIT_BYTES = 64 * 1024
/** What the rendered commands may take of it, leaving room for the request's other fields. */
export const COMMANDS_BUDGET_BYTES = 60_000
/** The end of the packed engine; base64 has no '_', so no line of it can equal this. */
const PACKED_END = 'EC2D_ENGINE_END'
const PACKED_LINE = 1000
/** Tools the entry shell needs before the engine can even start. */
const ENTRY_TOOLS = ['bash', 'base64', 'gunzip']

/** The size of the `commands` parameter as SendCommand carries it (a JSON array of strings). */
export function commandsSize(commands: readonly string[]): number {
  return Buffer.byteLength(JSON.stringify(commands), 'utf8')
}

/** The result line the entry shell prints when the host lacks a tool to unpack the engine. */
function missingToolResult(mode: string): string {
  const result = {
    status: 'failed',
    mode,
    'exit-code': 10,
    'previous-version': '',
    version: '',
    release: '',
    'previous-release': '',
    'rolled-back': false,
    reason: 'required tool %s is not installed on the host',
    'duration-ms': 0,
    phases: {},
    warnings: [],
  }
  // A printf format: '%s' takes the tool's name, \047 prints the quotes around it.
  return `${RESULT_PREFIX}${JSON.stringify(result)}`.replace('%s', '\\047%s\\047')
}

/**
 * Wraps already-validated engine variables and the embedded engine into the SSM
 * `AWS-RunShellScript` commands. SSM runs them with `sh` (dash on Ubuntu, bash on Amazon
 * Linux). The preamble and the engine travel gzip-compressed and base64-encoded in a quoted
 * heredoc: the entry shell checks that bash, base64 and gunzip exist (else it prints a result
 * line naming the missing one), then pipes `base64 -d | gunzip` into bash on descriptor 3,
 * with stdin on /dev/null. Nothing is written to disk.
 * Prefer {@link renderCommands}, which validates first and checks the size.
 */
export function wrapCommands(variables: Readonly<Record<string, string>>): string[] {
  const preamble = Object.entries(variables).map(([name, value]) => {
    if (!/^EC2D_[A-Z0-9_]+$/.test(name)) throw new Error(`not an engine variable: ${name}`)
    return `${name}=${shellQuote(value, `engine variable ${name}`)}`
  })
  // Close the pipe's descriptor: bash reads the script through its own copy.
  const body = [...preamble, 'exec 3<&-', ENGINE_SCRIPT.replace(/^#!.*\n/, '')].join('\n')
  const packed = gzipSync(body, { level: 9 }).toString('base64')
  const lines: string[] = []
  for (let i = 0; i < packed.length; i += PACKED_LINE) lines.push(packed.slice(i, i + PACKED_LINE))
  const mode = variables['EC2D_MODE'] === 'rollback' ? 'rollback' : 'deploy'
  return [
    '#!/bin/sh',
    '# ec2-deploy-actions host release engine: gzip + base64 below, unpacked into bash.',
    `for tool in ${ENTRY_TOOLS.join(' ')}; do`,
    `  command -v "$tool" >/dev/null 2>&1 || { printf '${missingToolResult(mode)}\\n' "$tool"; exit 10; }`,
    'done',
    `base64 -d <<'${PACKED_END}' | gunzip | bash /dev/fd/3 3<&0 </dev/null`,
    ...lines,
    PACKED_END,
  ]
}

const VARIABLE_INPUT: Record<string, string> = {
  EC2D_BEFORE_SWITCH: 'before-switch',
  EC2D_STOP_COMMAND: 'stop-command',
  EC2D_RESTART_COMMAND: 'restart-command',
  EC2D_HEALTH_COMMAND: 'health-command',
  EC2D_SHARED_PATHS: 'shared-paths',
  EC2D_PROXY_RELOAD_COMMAND: 'proxy-reload-command',
}

/** Refuses commands that SSM would not take, naming the largest inputs and their sizes. */
function checkSize(commands: readonly string[], variables: Readonly<Record<string, string>>) {
  const size = commandsSize(commands)
  if (size <= COMMANDS_BUDGET_BYTES) return
  const largest = Object.entries(VARIABLE_INPUT)
    .map(([name, input]) => ({ input, length: (variables[name] ?? '').length }))
    .filter(entry => entry.length > 0)
    .sort((a, b) => b.length - a.length)
  const named = largest.map(e => `'${e.input}' ${e.length} characters`).join(', ')
  const first = largest[0]
  throw new ConfigurationError(
    `input '${first?.input ?? 'before-switch'}' is too large: the SSM command would be ${size} bytes ` +
      `compressed, over the ${COMMANDS_BUDGET_BYTES}-byte budget within SSM's ${SSM_COMMANDS_LIMIT_BYTES / 1024} KB ` +
      `document limit (${named || 'no hooks'}): move long hooks into a script shipped in the release`,
  )
}

/**
 * Renders typed options into the SSM `AWS-RunShellScript` `commands` array. Every value is
 * validated and single-quoted into a preamble, or rejected with a ConfigurationError that
 * names the input; hook commands are passed literally, to be run by bash in the release.
 * Commands over {@link COMMANDS_BUDGET_BYTES} are refused before any send, naming the largest
 * hook. Nothing secret belongs in the options: `ssm:ListCommands` reads them back.
 */
export function renderCommands(options: RemoteOptions): string[] {
  const variables = engineVariables(options)
  const commands = wrapCommands(variables)
  checkSize(commands, variables)
  return commands
}
