/**
 * Real tools for the stack tests: a temp host with the release engine's layout (releases/<id>,
 * current switched by a temp link and rename, shared/), hooks run the way the SSM agent runs
 * them (no HOME of its own, a minimal PATH), and private instances of dockerd, the Docker
 * registry and supervisord, each under its own temp dir and stopped by the test.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import {
  chmodSync,
  closeSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { get as httpGet, request as httpRequest, type IncomingMessage } from 'node:http'
import { get as httpsGet } from 'node:https'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { freePort, SSM_AGENT_PATH } from '../../dev/aws-sandbox/src/index.js'
import { repoRoot } from './bundled-action.js'

/** The PATH the SSM agent gives the commands it runs. */
export const SSM_PATH = SSM_AGENT_PATH

/** The restart-command of the node-pm2 example (node-api's ecosystem file). */
export const PM2_RESTART = 'pm2 startOrReload ecosystem.config.cjs --update-env'

/** The example apps' sources. */
export const appsDir = join(repoRoot, 'examples', 'apps')

/** Output of a finished command; a failure rejects with the output in the message. */
export interface CommandOutput {
  stdout: string
  stderr: string
}

/** Runs a program without a shell; rejects with its exit code and output when it fails. */
export function run(
  file: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<CommandOutput> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      {
        cwd: options.cwd,
        env: options.env ?? process.env,
        timeout: options.timeoutMs ?? 120_000,
        maxBuffer: 16 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        if (error) {
          const { code, signal, killed } = error as {
            code?: unknown
            signal?: unknown
            killed?: boolean
          }
          const how = killed
            ? `timed out, ${String(signal)}`
            : `exit code ${String(code ?? signal)}`
          reject(
            new Error(`${file} ${args.join(' ')} failed (${how}):\n${stdout}\n${stderr}`.trim()),
          )
        } else {
          resolve({ stdout, stderr })
        }
      },
    )
  })
}

/** A release id in the engine's format: UTC time to the millisecond, '-', the version. */
function releaseId(version: string, sequence: number): string {
  const stamp = new Date(Date.UTC(2026, 0, 1, 0, 0, 0, sequence))
    .toISOString()
    .replace(/[-:]/g, '')
    .replace('.', '')
  return `${stamp}-${version}`
}

/** What a new release gets: the app's files, the version, and its shared paths. */
export interface ReleaseSpec {
  version: string
  /** Directory whose contents are copied into the release (the unpacked artifact). */
  source: string
  /** Shared paths, as the `shared-paths` input: relative, a trailing / for a directory. */
  sharedPaths?: string[]
  /** Extra files written into the release (relative path → content), e.g. a package-time .env. */
  files?: Record<string, string>
}

/**
 * A temp host with a deploy dir. Hooks run like the engine's: in releases/<id>, under bash,
 * with only PATH, HOME and the DEPLOY_* variables. As root, HOME is a temp dir standing in for
 * the root home the engine supplies when SSM gives none, so pm2, go and docker keep their
 * state per test. With `runAs`, hooks run through runuser as the engine does (which sets that
 * user's HOME from the user database), and releases are handed to that user.
 */
export class StackHost {
  readonly root: string
  readonly deployDir: string
  readonly sharedDir: string
  readonly home: string
  private sequence = 0

  constructor(
    readonly appName: string,
    readonly environment = 'develop',
    readonly runAs?: string,
  ) {
    this.root = mkdtempSync(join(tmpdir(), `stack-${appName}-`))
    chmodSync(this.root, 0o755) // the run-as user must reach the deploy dir
    this.deployDir = join(this.root, 'srv', appName)
    this.sharedDir = join(this.deployDir, 'shared')
    this.home = join(this.root, 'root-home')
    mkdirSync(join(this.deployDir, 'releases'), { recursive: true })
    mkdirSync(this.sharedDir, { recursive: true })
    mkdirSync(this.home, { recursive: true })
  }

  releaseDir(id: string): string {
    return join(this.deployDir, 'releases', id)
  }

  /** Unpacks a release as the engine does: files, REVISION, shared paths linked. Returns its id. */
  addRelease(spec: ReleaseSpec): string {
    const id = releaseId(spec.version, ++this.sequence)
    const dir = this.releaseDir(id)
    cpSync(spec.source, dir, { recursive: true })
    for (const [path, content] of Object.entries(spec.files ?? {})) {
      mkdirSync(dirname(join(dir, path)), { recursive: true })
      writeFileSync(join(dir, path), content)
    }
    // As the engine writes it: version=, commit=, time= and environment= lines.
    const time = new Date().toISOString().replace(/\.\d+Z$/, 'Z')
    writeFileSync(
      join(dir, 'REVISION'),
      `version=${spec.version}\ncommit=\ntime=${time}\nenvironment=test\n`,
    )
    if (this.runAs !== undefined) execFileSync('chown', ['-R', '-P', `${this.runAs}:`, dir])
    for (const entry of spec.sharedPaths ?? []) {
      const path = entry.replace(/\/$/, '')
      const shared = join(this.sharedDir, path)
      if (!existsSync(shared) && entry.endsWith('/')) mkdirSync(shared, { recursive: true })
      rmSync(join(dir, path), { recursive: true, force: true })
      mkdirSync(dirname(join(dir, path)), { recursive: true })
      symlinkSync(shared, join(dir, path))
    }
    return id
  }

  /** Points current at releases/<id> with a temp link and rename(2), as the engine does. */
  switchTo(id: string): void {
    const tmp = join(this.deployDir, `.current.tmp.${process.pid}`)
    rmSync(tmp, { force: true })
    symlinkSync(join('releases', id), tmp)
    renameSync(tmp, join(this.deployDir, 'current'))
  }

  /** Switches current to releases/<id> and runs the restart-command there, as the engine does. */
  async switchAndRestart(
    id: string,
    restartCommand: string,
    extra: Record<string, string> = {},
  ): Promise<void> {
    this.switchTo(id)
    await this.hook(id, restartCommand, extra)
  }

  /** The environment a hook of release <id> gets (as root; runuser sets the run-as user's HOME). */
  hookEnv(id: string, extra: Record<string, string> = {}): Record<string, string> {
    const dir = this.releaseDir(id)
    return {
      PATH: SSM_PATH,
      ...(this.runAs === undefined ? { HOME: this.home } : {}),
      DEPLOY_VERSION: id.slice(20),
      DEPLOY_ENVIRONMENT: this.environment,
      DEPLOY_APP_NAME: this.appName,
      DEPLOY_DIR: this.deployDir,
      DEPLOY_RELEASE_DIR: dir,
      RELEASE_DIR: dir,
      SHARED_DIR: this.sharedDir,
      ...extra,
    }
  }

  /** Runs a hook's shell code as the engine does: bash -c, in the release, the bare env. */
  hook(id: string, command: string, extra: Record<string, string> = {}): Promise<CommandOutput> {
    const cwd = this.releaseDir(id)
    const env = this.hookEnv(id, extra)
    if (this.runAs === undefined) return run('bash', ['-c', command], { cwd, env })
    const vars = Object.entries(env).map(([name, value]) => `${name}=${value}`)
    return run('runuser', ['-u', this.runAs, '--', 'env', ...vars, 'bash', '-c', command], {
      cwd,
      env: { PATH: SSM_PATH },
    })
  }

  /** Runs a program as the host's hook user (root, or runAs), with that user's HOME. */
  asHookUser(file: string, args: string[]): Promise<CommandOutput> {
    if (this.runAs === undefined)
      return run(file, args, { env: { PATH: SSM_PATH, HOME: this.home } })
    return run('runuser', ['-u', this.runAs, '--', file, ...args], { env: { PATH: SSM_PATH } })
  }

  /** Every file under shared/ with its bytes, to prove a deploy left them alone. */
  sharedSnapshot(): Record<string, string> {
    return filesUnder(this.sharedDir)
  }

  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true })
  }
}

/** Every file under dir (relative path → its bytes, base64); empty when dir does not exist. */
export function filesUnder(dir: string): Record<string, string> {
  const files: Record<string, string> = {}
  const walk = (at: string, prefix: string): void => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const path = `${prefix}${entry.name}`
      if (entry.isDirectory()) walk(join(at, entry.name), `${path}/`)
      else files[path] = readFileSync(join(at, entry.name)).toString('base64')
    }
  }
  if (existsSync(dir)) walk(dir, '')
  return files
}

/** A free loopback port, and the /health URL of an app that listens there. */
export async function healthEndpoint(
  scheme: 'http' | 'https' = 'http',
): Promise<{ port: number; url: string }> {
  const port = await freePort()
  return { port, url: `${scheme}://127.0.0.1:${port}/health` }
}

/** Sets node-api's PORT (in shared/.env) to a free port and returns its /health URL. */
export async function listenOnFreePort(host: StackHost): Promise<string> {
  const { port, url } = await healthEndpoint()
  writeFileSync(join(host.sharedDir, '.env'), `PORT=${port}\n`)
  return url
}

/** The JSON a /health endpoint answered. */
export interface Health {
  status: string
  version: string
  pid?: number
}

/**
 * GET over http(s), on a new connection each time (a kept-alive socket to a process that is
 * stopping would fail for that reason alone). Resolves with the status and body, or rejects
 * on a network error.
 */
export function fetchText(url: string, ca?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const onResponse = (response: IncomingMessage): void => {
      let body = ''
      response.setEncoding('utf8')
      response.on('data', chunk => (body += chunk))
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }))
    }
    const request = url.startsWith('https:')
      ? httpsGet(url, { agent: false, ...(ca === undefined ? {} : { ca }) }, onResponse)
      : httpGet(url, { agent: false }, onResponse)
    request.setTimeout(5_000, () => request.destroy(new Error(`timeout: ${url}`)))
    request.on('error', reject)
  })
}

/**
 * Polls a /health URL until it answers 200 and `accept` holds for its JSON, and returns it.
 * Fails with the last answer (or error) after `timeoutMs`.
 */
export async function waitForHealth(
  url: string,
  accept: (health: Health) => boolean,
  options: { ca?: string; timeoutMs?: number } = {},
): Promise<Health> {
  const deadline = Date.now() + (options.timeoutMs ?? 20_000)
  let last = 'no answer yet'
  for (;;) {
    try {
      const { status, body } = await fetchText(url, options.ca)
      last = `${status} ${body}`
      if (status === 200) {
        const health = JSON.parse(body) as Health
        if (accept(health)) return health
      }
    } catch (error) {
      last = String(error)
    }
    if (Date.now() > deadline) throw new Error(`${url} never answered as expected; last: ${last}`)
    await new Promise(resolve => setTimeout(resolve, 200))
  }
}

/** Waits until /health reports `version`. */
export function waitForVersion(
  url: string,
  version: string,
  options: { ca?: string; timeoutMs?: number } = {},
): Promise<Health> {
  return waitForHealth(url, health => health.version === version, options)
}

/** True when `check` holds; false when it throws or rejects. */
function holds(check: () => boolean | Promise<boolean>): Promise<boolean> {
  return Promise.resolve()
    .then(check)
    .catch(() => false)
}

/**
 * Polls `check` every 200 ms until it holds. Fails with `what` after `timeoutMs`, or at once
 * with the reason `abort` returns (e.g. the daemon being waited for has exited).
 */
export async function waitUntil(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
  abort: () => string | undefined = () => undefined,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await holds(check))) {
    const reason = abort()
    if (reason !== undefined) throw new Error(`${what}: ${reason}`)
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 200))
  }
}

/** A long-running tool started by a test: its process, its log, and how to stop it. */
export class Daemon {
  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
    readonly logFile: string,
  ) {}

  /**
   * Starts `file args` in its own process group, with the SSM agent's PATH and output to
   * logFile, and waits until `ready` holds. If it never does, the daemon is stopped and the
   * error carries its log.
   */
  static async start(
    name: string,
    file: string,
    args: string[],
    logFile: string,
    ready: () => boolean | Promise<boolean>,
  ): Promise<Daemon> {
    const log = openSync(logFile, 'a')
    const child = spawn(file, args, {
      env: { PATH: SSM_PATH },
      stdio: ['ignore', log, log],
      detached: true,
    })
    closeSync(log)
    const daemon = new Daemon(name, child, logFile)
    try {
      await daemon.waitReady(ready)
    } catch (error) {
      await daemon.stop()
      throw error
    }
    return daemon
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null
  }

  /** The end of the log, for failure messages. */
  logTail(): string {
    return existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8').slice(-3000) : ''
  }

  /** Waits until `ready` holds; fails early, with the log, if the process exits. */
  private waitReady(ready: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
    return waitUntil(`${this.name} to be ready`, ready, timeoutMs, () =>
      this.running ? undefined : 'it exited',
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n${this.logTail()}`)
    })
  }

  /** SIGTERM, then SIGKILL to its process group if it has not exited in `graceMs`. */
  async stop(graceMs = 20_000): Promise<void> {
    if (!this.running || this.child.pid === undefined) return
    const exited = once(this.child, 'exit')
    this.child.kill('SIGTERM')
    const timer = setTimeout(() => {
      try {
        process.kill(-this.child.pid!, 'SIGKILL')
      } catch {
        // already gone
      }
    }, graceMs)
    await exited
    clearTimeout(timer)
  }
}

/** Unmounts whatever is still mounted under dir (deepest first), e.g. dockerd's netns file. */
async function unmountUnder(dir: string): Promise<void> {
  const mounts = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map(line => line.split(' ')[1] ?? '')
    .map(point => point.replace(/\\040/g, ' '))
    .filter(point => point.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length)
  for (const point of mounts) await run('umount', ['-l', point])
}

/** A private Docker daemon: its own data root, exec root, pid file and socket. */
export interface DockerDaemon {
  /** Value for DOCKER_HOST. */
  host: string
  stop(): Promise<void>
}

/** Where a private dockerd runs; everything not given lives under its dir. */
export interface DockerdOptions {
  /** Run it in this network namespace (a host's own, for `network_mode: host`). */
  netns?: string | undefined
  /** Its exec root (containerd's sockets): keep the path short, unix sockets allow 107 bytes. */
  execRoot?: string
}

/**
 * Starts dockerd under dir. No bridge, no iptables: containers use the host's network
 * (`network_mode: host`), so nothing touches the machine's firewall or other daemons. Its
 * socket is dir/docker.sock, for root and the docker group.
 */
export async function startDockerd(
  dir: string,
  options: DockerdOptions = {},
): Promise<DockerDaemon> {
  mkdirSync(dir, { recursive: true })
  const socket = join(dir, 'docker.sock')
  const execRoot = options.execRoot ?? join(dir, 'exec')
  const args = [
    `--data-root=${join(dir, 'data')}`,
    `--exec-root=${execRoot}`,
    `--pidfile=${join(dir, 'docker.pid')}`,
    `--host=unix://${socket}`,
    '--iptables=false',
    '--ip6tables=false',
    '--ip-masq=false',
    '--bridge=none',
    '--userland-proxy=false',
    '--storage-driver=overlay2',
  ]
  // nsenter execs dockerd in place: the daemon's pid is the one that gets SIGTERM.
  const [file, argv] = options.netns
    ? ['nsenter', [`--net=${options.netns}`, '--', 'dockerd', ...args]]
    : ['dockerd', args]
  const unmount = async (): Promise<void> => {
    await unmountUnder(dir)
    if (options.execRoot !== undefined) await unmountUnder(options.execRoot)
  }
  const daemon = await Daemon.start('dockerd', file, argv, join(dir, 'dockerd.log'), () =>
    dockerPing(socket),
  ).catch(async (error: unknown) => {
    await unmount()
    throw error
  })
  return {
    host: `unix://${socket}`,
    async stop() {
      await daemon.stop()
      await unmount()
    },
  }
}

function dockerPing(socket: string): Promise<boolean> {
  return new Promise(resolve => {
    const request = httpRequest({ socketPath: socket, path: '/_ping' }, response => {
      response.resume()
      resolve(response.statusCode === 200)
    })
    request.on('error', () => resolve(false))
    request.end()
  })
}

/** A private Docker registry (Debian's docker-registry) on a free loopback port. */
export interface Registry {
  /** host:port, the prefix of image names pushed here. */
  address: string
  stop(): Promise<void>
}

export async function startRegistry(dir: string): Promise<Registry> {
  mkdirSync(join(dir, 'storage'), { recursive: true })
  const port = await freePort()
  const config = join(dir, 'config.yml')
  writeFileSync(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: warn',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(dir, 'storage')}`,
      'http:',
      `  addr: 127.0.0.1:${port}`,
      '',
    ].join('\n'),
  )
  const daemon = await Daemon.start(
    'docker-registry',
    'docker-registry',
    ['serve', config],
    join(dir, 'registry.log'),
    async () => (await fetchText(`http://127.0.0.1:${port}/v2/`)).status === 200,
  )
  return { address: `localhost:${port}`, stop: () => daemon.stop() }
}

/** A private supervisord; `ctl` is the supervisorctl command line a hook uses. */
export interface Supervisor {
  config: string
  ctl: string
  stop(): Promise<void>
}

/**
 * Starts supervisord in the foreground with its config, socket, pid file and logs under dir,
 * and the given [program:x] sections. A program whose binary is not there yet (no current
 * before the first deploy) goes FATAL; `supervisorctl restart` starts it all the same.
 */
export async function startSupervisord(dir: string, programs: string): Promise<Supervisor> {
  mkdirSync(join(dir, 'logs'), { recursive: true })
  const config = join(dir, 'supervisord.conf')
  const socket = join(dir, 'supervisor.sock')
  const lines = [
    '[unix_http_server]',
    `file=${socket}`,
    'chmod=0700',
    '[supervisord]',
    `pidfile=${join(dir, 'supervisord.pid')}`,
    `logfile=${join(dir, 'supervisord.log')}`,
    `childlogdir=${join(dir, 'logs')}`,
    '[rpcinterface:supervisor]',
    'supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface',
    '[supervisorctl]',
    `serverurl=unix://${socket}`,
    programs,
  ]
  writeFileSync(config, `${lines.join('\n')}\n`)
  const daemon = await Daemon.start(
    'supervisord',
    'supervisord',
    ['--nodaemon', '--configuration', config],
    join(dir, 'supervisord.out'),
    async () => {
      await run('supervisorctl', ['-c', config, 'pid'], { env: { PATH: SSM_PATH } })
      return true
    },
  )
  return { config, ctl: `supervisorctl -c ${config}`, stop: () => daemon.stop() }
}

/**
 * Creates a system user for a test (a unique name, the given home, which is not created) and
 * returns its name. Delete it with deleteUser.
 */
export async function createUser(home: string): Promise<string> {
  const name = `stk${randomBytes(4).toString('hex')}`
  await run('useradd', [
    '--system',
    '--user-group',
    '--no-create-home',
    '--home-dir',
    home,
    '--shell',
    '/usr/sbin/nologin',
    name,
  ])
  return name
}

export async function deleteUser(name: string): Promise<void> {
  await run('userdel', [name])
}

/** A self-signed certificate for 127.0.0.1, localhost and `addresses`, made with openssl. */
export async function makeCertificate(
  dir: string,
  addresses: string[] = [],
): Promise<{ cert: string; key: string }> {
  mkdirSync(dir, { recursive: true })
  const cert = join(dir, 'server.crt')
  const key = join(dir, 'server.key')
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=' +
      ['IP:127.0.0.1', ...addresses.map(address => `IP:${address}`), 'DNS:localhost'].join(','),
    '-keyout',
    key,
    '-out',
    cert,
  ])
  return { cert, key }
}
