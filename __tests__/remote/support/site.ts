/**
 * Test bench for the host release engine: a temp "host" with a deploy dir, a tiny sample
 * service (node HTTP server on a loopback port reporting its version at /health, managed by
 * a start/stop script with a pidfile, standing in for systemd/pm2), zip artifacts built by
 * an independent writer (python3's zipfile), a loopback HTTP server for presigned downloads,
 * and a runner that executes the rendered SSM commands exactly as SSM would (a script file
 * run by `sh`).
 */
import { expect } from '@jest/globals'
import { execFileSync, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { freePort } from '../../../dev/aws-sandbox/src/index.js'
import { httpGet } from './http-get.js'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  parseResultLine,
  renderCommands,
  type EngineResult,
  type RemoteOptions,
} from '../../../packages/remote/src/index.js'

/** One entry of a test zip: a file (content), a directory (dir) or a symlink (link). */
export interface ZipEntry {
  name: string
  content?: string
  link?: string
  dir?: boolean
  mode?: number
}

const ZIP_WRITER = `
import json, sys, zipfile
out, entries = sys.argv[1], json.load(sys.stdin)
with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as z:
    for e in entries:
        info = zipfile.ZipInfo(e['name'], (2026, 1, 1, 0, 0, 0))
        info.create_system = 3
        if 'link' in e:
            info.external_attr = (0o120777 << 16)
            z.writestr(info, e['link'], zipfile.ZIP_STORED)
        elif e.get('dir'):
            info.external_attr = (0o40755 << 16) | 0x10
            z.writestr(info, b'')
        else:
            info.external_attr = (e.get('mode', 0o644) | 0o100000) << 16
            z.writestr(info, e.get('content', ''))
`

/** Writes a zip with python3's zipfile (independent of the engine's unzip) and returns its sha256. */
export function writeZip(file: string, entries: ZipEntry[]): string {
  execFileSync('python3', ['-c', ZIP_WRITER, file], { input: JSON.stringify(entries) })
  return sha256(readFileSync(file))
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex')
}

const SERVER_JS = `const http = require('node:http')
const fs = require('node:fs')
const path = require('node:path')
const version = fs.readFileSync(path.join(__dirname, 'VERSION'), 'utf8').trim()
const read = name => { try { return fs.readFileSync(path.join(__dirname, name), 'utf8') } catch { return null } }
http.createServer((req, res) => {
  const bad = fs.existsSync(path.join(__dirname, 'UNHEALTHY'))
  res.writeHead(req.url === '/health' && bad ? 500 : 200, { 'content-type': 'application/json' })
  res.end(JSON.stringify({ version, healthy: !bad, env: read('.env') }))
}).listen(Number(process.argv[2]), '127.0.0.1')
`

/** Kinds of sample releases: a good one, one whose /health answers 500, one that crashes on start. */
export type Variant = 'good' | 'unhealthy' | 'crash'

/** The files of a sample release of `version`. */
export function sampleEntries(version: string, variant: Variant = 'good'): ZipEntry[] {
  const entries: ZipEntry[] = [
    { name: 'VERSION', content: `${version}\n` },
    { name: 'server.cjs', content: variant === 'crash' ? 'process.exit(3)\n' : SERVER_JS },
    { name: '.env', content: `SEEDED_BY=${version}\n` },
    { name: 'public/', dir: true },
    { name: 'public/index.html', content: `<h1>${version}</h1>\n` },
  ]
  if (variant === 'unhealthy') entries.push({ name: 'UNHEALTHY', content: '' })
  return entries
}

/** A finished run of the rendered commands. */
export interface EngineRun {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  result: EngineResult | undefined
  phases: string[]
}

export interface RunOptions {
  /** Entry shell, as SSM's `sh`; default 'sh'. */
  shell?: string
  env?: Record<string, string>
  /** Called at each phase marker; `kill()` SIGKILLs the whole process group. */
  onPhase?: (phase: string, kill: () => void) => void
  /** SIGKILL the process group this many ms after the start. */
  killAfterMs?: number
}

let scriptCounter = 0

/**
 * Runs SSM commands as SSM does: joined by newlines into a script file run by `sh`, in a
 * new process group (so a test can SIGKILL the script and every child it started).
 */
export function runCommands(
  commands: string[],
  dir: string,
  run: RunOptions = {},
): Promise<EngineRun> {
  const file = join(dir, `ssm-script-${process.pid}-${++scriptCounter}.sh`)
  writeFileSync(file, `${commands.join('\n')}\n`)
  const child = spawn(run.shell ?? 'sh', [file], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...run.env },
  })
  const kill = () => {
    try {
      process.kill(-(child.pid as number), 'SIGKILL')
    } catch {
      // already gone
    }
  }
  const timer = run.killAfterMs === undefined ? undefined : setTimeout(kill, run.killAfterMs)
  let stdout = ''
  let stderr = ''
  let pending = ''
  const phases: string[] = []
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
    pending += chunk
    let newline: number
    while ((newline = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, newline)
      pending = pending.slice(newline + 1)
      const match = /^::deploy-phase:: (\S+)$/.exec(line)
      if (match?.[1]) {
        phases.push(match[1])
        run.onPhase?.(match[1], kill)
      }
    }
  })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer)
      rmSync(file, { force: true })
      resolve({ code, signal, stdout, stderr, result: parseResultLine(stdout), phases })
    })
  })
}

/** True when the renderer takes these options (it throws a ConfigurationError otherwise). */
export function acceptedByRenderer(options: RemoteOptions): boolean {
  try {
    renderCommands(options)
    return true
  } catch {
    return false
  }
}

export { httpGet }

/** A free loopback port. */
export { freePort }

/** A loopback HTTP server for presigned-style downloads: serves files of `dir` by name. */
export interface FileServer {
  url(name: string): string
  /** Answer the next n requests with 503 (to exercise curl's retries). */
  failNext(n: number): void
  requests: number
  close(): Promise<void>
}

export async function startFileServer(dir: string): Promise<FileServer> {
  let failing = 0
  const state = { requests: 0 }
  const server: Server = createServer((req, res) => {
    state.requests++
    if (failing > 0) {
      failing--
      res.writeHead(503).end('try again')
      return
    }
    const name = decodeURIComponent((req.url ?? '/').split('?')[0]?.slice(1) ?? '')
    if (!/^[A-Za-z0-9._-]+$/.test(name)) return void res.writeHead(404).end()
    // Read first, then answer once: a client that goes away mid-answer (the kill and cancel
    // tests do) must not turn into a second set of headers.
    let body: Buffer
    try {
      body = readFileSync(join(dir, name))
    } catch {
      return void res.writeHead(404).end()
    }
    res.writeHead(200).end(body)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: name => `http://127.0.0.1:${port}/${name}?X-Amz-Signature=abc&X-Amz-Expires=300`,
    failNext: n => (failing = n),
    get requests() {
      return state.requests
    },
    close: () => new Promise(resolve => server.close(() => resolve())),
  }
}

const SERVICE_SH = `#!/bin/sh
# Stand-in for systemd/pm2: runs server.cjs of the release in $PWD on a loopback port,
# detached in its own session, with a pidfile. In blue-green, on the slot's port, with a
# pidfile per slot.
PORT=\${DEPLOY_PORT:-@PORT@}
PIDFILE=@ROOT@/service\${DEPLOY_SLOT:+-$DEPLOY_SLOT}.pid
LOG=@LOG@
NODE=@NODE@
alive() { kill -0 "$1" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
stop() {
  [ -f "$PIDFILE" ] || return 0
  pid=$(cat "$PIDFILE")
  kill "$pid" 2>/dev/null
  i=0
  while [ $i -lt 200 ] && alive "$pid"; do sleep 0.05; i=$((i + 1)); done
  rm -f "$PIDFILE"
}
start() {
  rm -f "$PIDFILE"
  # The server writes its own pid (same process after exec) once it is in its own session.
  setsid sh -c 'echo $$ >"$0" && exec "$@"' "$PIDFILE" "$NODE" "$PWD/server.cjs" "$PORT" \\
    >>"$LOG" 2>&1 </dev/null &
  i=0
  while [ $i -lt 300 ]; do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/" && return 0
    if [ -s "$PIDFILE" ] && ! alive "$(cat "$PIDFILE")"; then echo "server exited" >&2; return 1; fi
    sleep 0.05
    i=$((i + 1))
  done
  return 1
}
case "$1" in
  stop) stop ;;
  start) start ;;
  restart) stop && start ;;
  *) exit 2 ;;
esac
`

/** A temp host: deploy dir, sample service, artifacts served over loopback HTTP. */
export class Site {
  readonly root: string
  readonly deployDir: string
  readonly artifacts: string
  readonly service: string
  readonly port: number
  private files: FileServer | undefined
  private counter = 0

  private constructor(root: string, port: number) {
    this.root = root
    this.port = port
    this.deployDir = join(root, 'srv', 'app')
    this.artifacts = join(root, 'artifacts')
    this.service = join(root, 'service.sh')
    mkdirSync(this.artifacts, { recursive: true })
    const script = SERVICE_SH.replace('@PORT@', String(port))
      .replace('@ROOT@', root)
      .replace('@LOG@', join(root, 'service.log'))
      .replace('@NODE@', process.execPath)
    writeFileSync(this.service, script, { mode: 0o755 })
  }

  static async create(): Promise<Site> {
    const root = mkdtempSync(join(tmpdir(), 'remote-'))
    // Readable by other users: the run-as test's user must reach the deploy dir.
    chmodSync(root, 0o755)
    const site = new Site(root, await freePort())
    site.files = await startFileServer(site.artifacts)
    return site
  }

  get fileServer(): FileServer {
    if (!this.files) throw new Error('site not started')
    return this.files
  }

  get healthUrl(): string {
    return `http://127.0.0.1:${this.port}/health`
  }

  /** Builds an artifact and returns the options that deploy it with a presigned-style URL. */
  artifact(version: string, entries: ZipEntry[] = sampleEntries(version)) {
    const name = `app-${version}-${++this.counter}.zip`
    const sha = writeZip(join(this.artifacts, name), entries)
    return {
      artifactUri: this.fileServer.url(name),
      artifactSha256: sha,
      download: 'presigned' as const,
    }
  }

  /** Options for a deploy of the sample service; overrides win. */
  options(
    version: string,
    overrides: Partial<RemoteOptions> = {},
    variant: Variant = 'good',
  ): RemoteOptions {
    return {
      mode: 'deploy',
      deployDir: this.deployDir,
      appName: 'sample',
      environment: 'test',
      version,
      ...this.artifact(version, sampleEntries(version, variant)),
      sharedPaths: ['.env', 'logs/'],
      restartCommand: `${this.service} restart`,
      healthUrl: this.healthUrl,
      healthRetries: 4,
      healthIntervalMs: 100,
      keepReleases: 3,
      lockTimeoutMs: 60_000,
      runUrl: 'https://github.com/acme/app/actions/runs/1',
      ...overrides,
    }
  }

  /** Renders and runs the engine. */
  deploy(options: RemoteOptions, run: RunOptions = {}): Promise<EngineRun> {
    return runCommands(renderCommands(options), this.root, run)
  }

  /** The version /health reports, or undefined when the service does not answer. */
  async servingVersion(): Promise<string | undefined> {
    const { status, body } = await httpGet(this.healthUrl)
    if (status === 0) return undefined
    return (JSON.parse(body) as { version: string }).version
  }

  async close(): Promise<void> {
    for (const slot of ['', 'blue', 'green']) {
      try {
        const env = { ...process.env, DEPLOY_SLOT: slot }
        execFileSync(this.service, ['stop'], { stdio: 'ignore', env })
      } catch {
        // nothing running
      }
    }
    await this.files?.close()
    rmSync(this.root, { recursive: true, force: true })
  }
}

/** What `current` points at (a release id), or undefined. */
/** Runs `test` on a new Site, closed afterwards whatever happens. */
export async function withSite(test: (site: Site) => Promise<void>): Promise<void> {
  const site = await Site.create()
  try {
    await test(site)
  } finally {
    await site.close()
  }
}

/** Expects a run to have ended with this status and exit code; shows its output otherwise. */
export function expectOutcome(run: EngineRun, status: string, code: number): void {
  if (run.code !== code || run.result?.status !== status) {
    throw new Error(
      `expected ${status} (exit ${code}), got ${run.result?.status} (exit ${run.code}, signal ${run.signal})\n${run.stdout}\n${run.stderr}`,
    )
  }
  expect(run.result?.exitCode).toBe(code)
}

export function currentRelease(site: Site): string | undefined {
  try {
    return readlinkSync(join(site.deployDir, 'current')).replace(/^releases\//, '')
  } catch {
    return undefined
  }
}

/** Release directory names under releases/, sorted (oldest first). */
export function releaseDirs(site: Site): string[] {
  try {
    return readdirSync(join(site.deployDir, 'releases')).sort()
  } catch {
    return []
  }
}

/** The version part of a release id (`<UTC time>-<version>`). */
export function versionOf(release: string): string {
  return release.slice(20)
}

/** Parsed lines of .deploy/history.jsonl. */
export function history(
  site: Site,
): { release: string; version: string; status: string; mode: string }[] {
  let text = ''
  try {
    text = readFileSync(join(site.deployDir, '.deploy', 'history.jsonl'), 'utf8')
  } catch {
    return []
  }
  return text
    .split('\n')
    .filter(line => line !== '')
    .map(
      line =>
        JSON.parse(line) as { release: string; version: string; status: string; mode: string },
    )
}
