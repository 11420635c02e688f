// Hosts as the SSM agent sees them: the agent's bare environment, and (network: 'private') a
// network of their own, so two hosts serve the same 127.0.0.1 port as two EC2 hosts do.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { GetCommandInvocationCommand, SendCommandCommand } from '@aws-sdk/client-ssm'
import {
  sandboxClients,
  startSandbox,
  markedProcesses,
  SSM_AGENT_PATH,
  type Sandbox,
} from '../../dev/aws-sandbox/src/index.js'

const APP_PORT = 3000
let sandbox: Sandbox
let machineServer: Server
let machinePort: number
let links: string[] = []

/** Runs commands on every instance; resolves with each one's stdout by instance id. */
async function onEveryHost(commands: string[]): Promise<Map<string, string>> {
  const { ssm } = sandboxClients(sandbox)
  const sent = await ssm.send(
    new SendCommandCommand({
      DocumentName: 'AWS-RunShellScript',
      InstanceIds: sandbox.instances.map(i => i.id),
      Parameters: { commands },
    }),
  )
  const id = sent.Command?.CommandId ?? ''
  await sandbox.ssm.whenDone(id)
  const out = new Map<string, string>()
  for (const instance of sandbox.instances) {
    const invocation = await ssm.send(
      new GetCommandInvocationCommand({ CommandId: id, InstanceId: instance.id }),
    )
    out.set(instance.id, `${invocation.StandardOutputContent}${invocation.StandardErrorContent}`)
  }
  ssm.destroy()
  return out
}

beforeAll(async () => {
  machineServer = createServer((_, response) => response.end('from the machine'))
  await new Promise<void>(resolve => machineServer.listen(0, '127.0.0.1', resolve))
  machinePort = (machineServer.address() as { port: number }).port
  sandbox = await startSandbox({
    instances: [0, 1].map(() => ({ network: 'private' as const, forwardPorts: [machinePort] })),
    s3: { buckets: ['net-test'] },
    invocationVisibilityDelayMs: 0,
  })
  // Only this sandbox's links: other sandboxes may run on the machine at the same time.
  const own = sandbox.instances.map(instance => instance.hostLink)
  links = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })
    .split('\n')
    .filter(line => / sx[0-9a-f]{10}@/.test(line))
    .filter(line => own.includes(line.split(':')[1]?.split('@')[0]?.trim()))
}, 60_000)
afterAll(async () => {
  await sandbox?.close()
  machineServer?.close()
})

describe('a host command', () => {
  it("gets the SSM agent's bare environment: a minimal PATH, no HOME, no LANG", async () => {
    const out = await onEveryHost(['env | sort'])
    for (const env of out.values()) {
      const names = env.split('\n').map(line => line.split('=')[0])
      // The agent's PATH, after the one dir holding the machine's AWS CLI (see hostTools).
      expect(env).toContain(`PATH=${sandbox.fleet.hostBin}:${SSM_AGENT_PATH}\n`)
      expect(readdirSync(sandbox.fleet.hostBin)).toEqual(['aws'])
      expect(names).not.toContain('HOME')
      expect(names).not.toContain('LANG')
      expect(names).toContain('AWS_SSM_INSTANCE_ID')
    }
  })
})

describe("a private host's network", () => {
  it('lets every host serve the same loopback port, reached from the machine at its address', async () => {
    const addresses = sandbox.instances.map(i => i.privateIpAddress)
    expect(new Set(addresses).size).toBe(2)
    for (const address of addresses)
      expect(address).toMatch(/^100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\./)
    const out = await onEveryHost([
      // A service that outlives the command, as a daemon does.
      `setsid python3 -m http.server ${APP_PORT} --bind 0.0.0.0 --directory . >/dev/null 2>&1 &`,
      'echo "$AWS_SSM_INSTANCE_ID" > who',
      `for i in $(seq 50); do curl -fs -o /dev/null http://127.0.0.1:${APP_PORT}/who && break; sleep 0.1; done`,
      `curl -fsS http://127.0.0.1:${APP_PORT}/who`,
    ])
    for (const instance of sandbox.instances) {
      expect(out.get(instance.id)?.trim()).toBe(instance.id)
      const answer = await fetch(`http://${instance.privateIpAddress}:${APP_PORT}/who`)
      expect((await answer.text()).trim()).toBe(instance.id)
    }
  })

  it("reaches the sandbox's endpoints and forwarded machine ports at 127.0.0.1", async () => {
    const s3Port = new URL(sandbox.s3?.url ?? '').port
    const out = await onEveryHost([
      `curl -s -o /dev/null -w '%{http_code}\\n' http://127.0.0.1:${s3Port}/net-test`,
      `curl -fsS http://127.0.0.1:${machinePort}/`,
    ])
    for (const text of out.values()) {
      // s3rver answers (403 without a signature); any HTTP status proves the way through.
      expect(text.split('\n')[0]).toMatch(/^[1-5]\d\d$/)
      expect(text).toContain('from the machine')
    }
  })

  it('is a namespace of its own: nsenter reaches the host, its eth0 has its address', () => {
    for (const instance of sandbox.instances) {
      const netns = instance.netns ?? ''
      expect(existsSync(netns)).toBe(true)
      const addr = execFileSync('nsenter', [`--net=${netns}`, 'ip', '-4', '-o', 'addr', 'show'], {
        encoding: 'utf8',
      })
      expect(addr).toContain(`eth0    inet ${instance.privateIpAddress}/32`)
    }
    expect(links).toHaveLength(2)
  })

  it('is gone after close: links, mounts and processes', async () => {
    const netns = sandbox.instances.map(i => i.netns ?? '')
    await sandbox.close()
    const left = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })
    for (const line of links) expect(left).not.toContain(line.split(':')[1]?.split('@')[0]?.trim())
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    for (const path of netns) expect(mounts).not.toContain(path)
    const routes = execFileSync('ip', ['-4', 'route', 'show'], { encoding: 'utf8' })
    for (const instance of sandbox.instances)
      expect(routes).not.toContain(instance.privateIpAddress)
    expect(markedProcesses(`${sandbox.fleet.token}/`)).toEqual([])
  })
})
