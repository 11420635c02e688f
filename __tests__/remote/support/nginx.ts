/**
 * A private nginx (Debian's /usr/sbin/nginx) for the blue-green tests: its own prefix, config,
 * pid and logs in a temp dir, listening on a free loopback port, proxying to the upstream that
 * its config includes from `upstreamFile`, the file the engine rewrites at each switch. It runs
 * in the foreground as a child of the test, so stopping it never leaves a daemon behind. Free of
 * jest: bench/zero-downtime runs it as the hosts' nginx too.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { freePort } from '../../../dev/aws-sandbox/src/index.js'
import { httpGet } from './http-get.js'

const NGINX = '/usr/sbin/nginx'

/** One answer of the sample app: its HTTP status (0: no answer) and the version it reported. */
export interface Answer {
  status: number
  version: string
}

/** A hook command that appends "<slot> <port> <version>" to `file`: what the engine ran it for. */
export const hookLog = (file: string) =>
  `echo "$DEPLOY_SLOT $DEPLOY_PORT $DEPLOY_VERSION" >> ${file}`

/** The lines a hookLog wrote, [] before the first. */
export function hookLogLines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').trimEnd().split('\n') : []
}

/** A private nginx in front of a host's two slots, as the blue-green tests use it. */
export interface SlotsBehindNginx {
  nginx: Nginx
  /** The file nginx includes in its upstream block, first at the blue slot. */
  upstreamFile: string
  /** Two free loopback ports: the blue slot's, the green slot's. */
  ports: [number, number]
}

/** Starts nginx under `root`/nginx (upstreams/`name`.conf, root's) for two free slot ports. */
export async function nginxForSlots(root: string, name = 'app'): Promise<SlotsBehindNginx> {
  const ports: [number, number] = [await freePort(), await freePort()]
  const dir = join(root, 'nginx')
  mkdirSync(join(dir, 'upstreams'), { recursive: true, mode: 0o755 })
  const upstreamFile = join(dir, 'upstreams', `${name}.conf`)
  return { nginx: await Nginx.start(dir, upstreamFile, ports[0]), upstreamFile, ports }
}

/** The version the sample app at `url` reports, or undefined when it does not answer 200. */
export async function versionAt(url: string): Promise<string | undefined> {
  const { status, body } = await httpGet(url)
  return status === 200 ? (JSON.parse(body) as { version: string }).version : undefined
}

export class Nginx {
  private constructor(
    private readonly child: ChildProcess,
    private readonly args: string[],
    readonly port: number,
  ) {}

  /** Starts nginx in `dir`, its upstream `server` first pointing at `firstPort`. */
  static async start(dir: string, upstreamFile: string, firstPort: number): Promise<Nginx> {
    mkdirSync(join(dir, 'tmp'), { recursive: true })
    writeFileSync(upstreamFile, `server 127.0.0.1:${firstPort};\n`, { mode: 0o644 })
    const port = await freePort()
    const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
      .map(name => `  ${name}_temp_path ${join(dir, 'tmp', name)};`)
      .join('\n')
    const config = join(dir, 'nginx.conf')
    writeFileSync(
      config,
      `worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')};
events { worker_connections 512; }
http {
  access_log off;
${temp}
  upstream app { include ${upstreamFile}; }
  server {
    listen 127.0.0.1:${port};
    location / { proxy_pass http://app; }
  }
}
`,
    )
    const args = ['-p', dir, '-c', config, '-e', join(dir, 'error.log')]
    const child = spawn(NGINX, [...args, '-g', 'daemon off;'], { stdio: 'ignore' })
    const nginx = new Nginx(child, args, port)
    for (let i = 0; i < 200; i++) {
      if (child.exitCode !== null) break
      if ((await httpGet(nginx.url('/'))).status !== 0) return nginx
      await new Promise(resolve => setTimeout(resolve, 25))
    }
    await nginx.stop()
    throw new Error(`nginx did not start in ${dir} (see error.log there)`)
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`
  }

  /** The engine's default proxy-reload-command for this instance: test, then reload gracefully. */
  get reloadCommand(): string {
    const nginx = [NGINX, ...this.args].join(' ')
    return `${nginx} -t -q && ${nginx} -s reload`
  }

  /**
   * The version nginx serves once a reload has taken effect: nginx reloads asynchronously, and
   * for a moment (longer on a loaded machine) old and new workers both answer, so `version`
   * must come back 5 times in a row.
   */
  async serves(version: string): Promise<string | undefined> {
    let seen: string | undefined
    for (let i = 0, inRow = 0; i < 300 && inRow < 5; i++) {
      seen = await versionAt(this.url('/'))
      inRow = seen === version ? inRow + 1 : 0
      if (seen !== version) await new Promise(resolve => setTimeout(resolve, 20))
    }
    return seen
  }

  /** Requests through nginx one after another, each on a new connection, until stopped. */
  traffic(): { stop: () => Promise<Answer[]> } {
    const seen: Answer[] = []
    let running = true
    const loop = (async () => {
      while (running) {
        const { status, body } = await httpGet(this.url('/'))
        let version = ''
        try {
          version = (JSON.parse(body) as { version: string }).version
        } catch {
          // not the app's answer: the status tells
        }
        seen.push({ status, version })
      }
    })()
    return {
      stop: async () => {
        running = false
        await loop
        return seen
      },
    }
  }

  /**
   * Every request answered 200, first by the version `from`, last by `to`, by no other. (Around
   * a reload both generations of nginx workers accept for a moment, so answers may alternate.)
   */
  async expectServedBy(seen: readonly Answer[], from: string, to = from): Promise<void> {
    // Loaded here, not at the top: the benchmark starts this nginx outside jest.
    const { expect } = await import('@jest/globals')
    expect(seen.length).toBeGreaterThan(20)
    expect(seen.filter(answer => answer.status !== 200)).toEqual([])
    expect(seen[0]?.version).toBe(from)
    expect(seen.filter(answer => answer.version !== from && answer.version !== to)).toEqual([])
    // `nginx -s reload` returns before the new workers take over: on a loaded machine the last
    // answers seen may still be the old ones, so the switch is checked once the reload is done.
    expect(await this.serves(to)).toBe(to)
  }

  /** Stops nginx (master and workers) and waits until it has exited. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    const exited = new Promise(resolve => this.child.once('exit', resolve))
    this.child.kill('SIGTERM')
    await exited
  }
}
