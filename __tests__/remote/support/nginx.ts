/**
 * A private nginx (Debian's /usr/sbin/nginx) for the blue-green tests: its own prefix, config,
 * pid and logs in a temp dir, listening on a free loopback port, proxying to the upstream that
 * its config includes from `upstreamFile`, the file the engine rewrites at each switch. It runs
 * in the foreground as a child of the test, so stopping it never leaves a daemon behind. Free of
 * jest: bench/zero-downtime runs it as the hosts' nginx too.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { freePort } from '../../../dev/aws-sandbox/src/index.js'
import { httpGet } from './http-get.js'

const NGINX = '/usr/sbin/nginx'

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

  /** Stops nginx (master and workers) and waits until it has exited. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    const exited = new Promise(resolve => this.child.once('exit', resolve))
    this.child.kill('SIGTERM')
    await exited
  }
}
