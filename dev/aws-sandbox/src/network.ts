/**
 * A host's own network, for instances with `network: 'private'`. Every real host has its own
 * loopback, so two hosts can both serve 127.0.0.1:3000; instances that share the machine's
 * cannot. A private instance gets:
 * - a network namespace of its own (loopback up), kept open by a bind mount on a file;
 * - a veth link named eth0 inside, so the machine reaches it at its private address, as the
 *   GitHub runner reaches a host in a VPC;
 * - forwarded ports: 127.0.0.1:<port> inside reaches the machine's 127.0.0.1:<port>, for the
 *   sandbox's endpoints (S3 for the artifact download) and any port a test names (a registry).
 *   The forwarder in the namespace hands each connection over a unix socket to the sandbox
 *   process, which dials the machine's loopback: unix sockets cross network namespaces.
 * Needs root. Everything is undone by close(); the namespace ends with its last process.
 */
import { execFileSync, spawn } from 'node:child_process'
import { randomBytes, randomInt } from 'node:crypto'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import { INSTANCE_MARKER } from './processes.js'

/** One /24 of the shared address space (RFC 6598) per sandbox; .1 is the machine's side. */
export interface AddressBlock {
  prefix: string
  gateway: string
}

/** A /24 that no route of the machine uses yet. */
export function allocateAddressBlock(): AddressBlock {
  const routes = ip(['-4', 'route', 'show', 'table', 'all'])
  for (let tries = 0; tries < 50; tries += 1) {
    const prefix = `100.${64 + randomInt(64)}.${randomInt(256)}`
    if (!routes.includes(`${prefix}.`)) return { prefix, gateway: `${prefix}.1` }
  }
  throw new Error('no free /24 in 100.64.0.0/10 for the sandbox private networks')
}

function ip(args: string[], netns?: string): string {
  const [file, argv] = netns ? ['nsenter', [`--net=${netns}`, 'ip', ...args]] : ['ip', args]
  try {
    return execFileSync(file, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? '').trim()
    throw new Error(`private network: ip ${args.join(' ')} failed: ${stderr}`)
  }
}

/** Joins two sockets, each closing the other. */
function splice(a: Socket, b: Socket): void {
  a.pipe(b).pipe(a)
  a.on('error', () => b.destroy())
  b.on('error', () => a.destroy())
  a.on('close', () => b.destroy())
  b.on('close', () => a.destroy())
}

/**
 * Runs inside the namespace: listens on 127.0.0.1:<port> for each port and passes every
 * connection to `<dir>/<port>.sock`. Prints one line once all listen.
 */
const FORWARDER = `
const net = require('node:net')
const [dir, ...ports] = process.argv.slice(1)
let waiting = ports.length
for (const port of ports) {
  net.createServer(client => {
    const upstream = net.connect(dir + '/' + port + '.sock')
    client.pipe(upstream).pipe(client)
    for (const [a, b] of [[client, upstream], [upstream, client]]) {
      a.on('error', () => b.destroy())
      a.on('close', () => b.destroy())
    }
  }).listen(Number(port), '127.0.0.1', () => { if (--waiting === 0) console.log('listening') })
}
if (waiting === 0) console.log('listening')
`

/** One instance's network namespace, link and forwarded ports. */
export class PrivateNetwork {
  /** The namespace's file, for `nsenter --net=<netns>`. */
  readonly netns: string
  private readonly socketDir: string
  /** The machine's end of the veth pair (the peer inside is renamed eth0). */
  readonly link = `sx${randomBytes(5).toString('hex')}`
  private readonly relays: Server[] = []
  private closed = false

  /** Creates the namespace and the link; `address` is the instance's, in `block`. */
  constructor(
    dir: string,
    readonly address: string,
    block: AddressBlock,
  ) {
    const netDir = join(dir, '.network')
    mkdirSync(netDir, { recursive: true })
    this.netns = join(netDir, 'netns')
    this.socketDir = join(netDir, 'ports')
    mkdirSync(this.socketDir, { recursive: true, mode: 0o700 })
    writeFileSync(this.netns, '')
    execFileSync('unshare', [`--net=${this.netns}`, 'true'])
    try {
      const peer = `${this.link}i`
      ip(['link', 'add', this.link, 'type', 'veth', 'peer', 'name', peer])
      ip(['link', 'set', peer, 'netns', this.netns])
      ip(['link', 'set', peer, 'name', 'eth0'], this.netns)
      ip(['link', 'set', 'lo', 'up'], this.netns)
      ip(['addr', 'add', `${address}/32`, 'dev', 'eth0'], this.netns)
      ip(['link', 'set', 'eth0', 'up'], this.netns)
      ip(['route', 'add', block.gateway, 'dev', 'eth0', 'scope', 'link'], this.netns)
      ip(['route', 'add', 'default', 'via', block.gateway, 'dev', 'eth0'], this.netns)
      ip(['addr', 'add', `${block.gateway}/32`, 'dev', this.link])
      ip(['link', 'set', this.link, 'up'])
      ip(['route', 'add', `${address}/32`, 'dev', this.link, 'src', block.gateway])
    } catch (error) {
      this.close()
      throw error
    }
  }

  /**
   * Makes 127.0.0.1:<port> inside reach the machine's 127.0.0.1:<port>, for each port.
   * `marker` tags the forwarder process like every process of the instance.
   */
  async forward(ports: readonly number[], marker: string): Promise<void> {
    const unique = [...new Set(ports)]
    for (const port of unique) {
      const relay = createServer(inside => splice(inside, connect(port, '127.0.0.1')))
      this.relays.push(relay)
      await new Promise<void>((resolve, reject) => {
        relay.once('error', reject)
        relay.listen(join(this.socketDir, `${port}.sock`), () => resolve())
      })
    }
    const forwarder = spawn(
      'nsenter',
      [
        `--net=${this.netns}`,
        process.execPath,
        '-e',
        FORWARDER,
        this.socketDir,
        ...unique.map(String),
      ],
      {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', [INSTANCE_MARKER]: marker },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      },
    )
    forwarder.unref()
    let stderr = ''
    forwarder.stderr.on('data', chunk => (stderr += String(chunk)))
    await new Promise<void>((resolve, reject) => {
      forwarder.stdout.once('data', () => resolve())
      forwarder.once('exit', code =>
        reject(new Error(`private network: the port forwarder exited (${code}): ${stderr.trim()}`)),
      )
    })
    forwarder.stdout.destroy()
    forwarder.stderr.destroy()
  }

  /** Removes the link, the relays and the namespace's mount (its processes are killed apart). */
  close(): void {
    if (this.closed) return
    this.closed = true
    for (const relay of this.relays) relay.close()
    try {
      ip(['link', 'del', this.link])
    } catch {
      // never created, or gone with the namespace
    }
    try {
      execFileSync('umount', [this.netns], { stdio: 'ignore' })
    } catch {
      // not mounted
    }
    rmSync(this.socketDir, { recursive: true, force: true })
  }
}
