/**
 * The real tools of the examples, as their pipeline tests use them on the sandbox's hosts:
 * node-api under pm2, and how each test sees a host (the version it serves, the live
 * instances its service manager shows).
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { node24 } from './run-action.js'
import {
  readExample,
  type ExampleDeployment,
  type ExampleHost,
  type ExampleSpec,
  type HostProbe,
  type Trigger,
} from './example-pipeline.js'
import { appsDir, fetchText, run } from './stacks.js'

/** The version a /health URL reports, or why it reports none. */
export async function versionAt(url: string, ca?: string): Promise<string> {
  try {
    const { status, body } = await fetchText(url, ca)
    if (status !== 200) return `HTTP ${status}`
    return String((JSON.parse(body) as { version?: unknown }).version)
  } catch (error) {
    return `down (${(error as Error).message})`
  }
}

/** The port of an example's host-local health-url. */
export function healthPort(file: string): number {
  return Number(new URL(readExample(file).inputs['health-url'] as string).port)
}

/**
 * verify-urls from the runner: the example's public URLs (https://prod.example.com/...) do not
 * resolve here, so the test points them at the hosts' private addresses, as a load balancer in
 * front of them would be.
 */
export function verifyUrlsOnHosts(
  deployment: ExampleDeployment,
  trigger: Trigger,
  url: (host: ExampleHost) => string,
): Record<string, string> {
  if (!deployment.example.inputs['verify-urls']) return {}
  return { 'verify-urls': deployment.hostsOf(trigger.environment).map(url).join('\n') }
}

const nodeApiServer = readFileSync(join(appsDir, 'node-api', 'server.js'), 'utf8')

/** v2 changes the server; v3's server exits at start (it throws before it listens). */
export const nodeApiChanges: ExampleSpec['changes'] = {
  v2: { 'server.js': `${nodeApiServer}\n// v2: a change\n` },
  v3: {
    'server.js': `throw new Error('v3 is broken: the server exits at start')\n${nodeApiServer}`,
  },
}

/** The pm2 processes of the run-as user on a host, as `pm2 jlist` shows them. */
async function pm2List(
  deployment: ExampleDeployment,
  host: ExampleHost,
): Promise<{ name: string; pm2_env: { status: string } }[]> {
  const out = await deployment.onHostOk(host, `runuser -u ${deployment.runAs} -- pm2 jlist`)
  return JSON.parse(out) as { name: string; pm2_env: { status: string } }[]
}

/**
 * An example that runs node-api under pm2 as its run-as user: each host gets Node 24 first on
 * its PATH, a shared/.env (listen on every address, its port from the example's health-url,
 * a secret), and `pm2 kill` at the end.
 */
export function pm2Example(options: {
  file: string
  environments: Record<string, number>
}): Pick<
  ExampleSpec,
  'file' | 'app' | 'environments' | 'hostPath' | 'prepare' | 'teardown' | 'probe' | 'overrides'
> {
  const port = healthPort(options.file)
  return {
    file: options.file,
    app: 'node-api',
    environments: options.environments,
    // Node 24 stands in for a host installed with Node 22.5+ (node:sqlite); the machine's is 20.
    hostPath: [dirname(node24)],
    async prepare(deployment) {
      for (const host of deployment.hosts) {
        deployment.provision(
          host,
          join(deployment.deployDir, 'shared', '.env'),
          `HOST=0.0.0.0\nPORT=${port}\nAPI_TOKEN=secret-of-${host.instance.id}\n`,
        )
      }
    },
    async teardown(deployment) {
      for (const host of deployment.hosts)
        await deployment.onHostOk(host, `runuser -u ${deployment.runAs} -- pm2 kill`)
    },
    probe: (deployment): HostProbe => ({
      servedVersion: host => versionAt(`http://${host.address}:${port}/health`),
      liveInstances: async host =>
        (await pm2List(deployment, host)).filter(
          process => process.name === 'api' && process.pm2_env.status === 'online',
        ).length,
    }),
    overrides: (deployment, trigger) =>
      verifyUrlsOnHosts(deployment, trigger, host => `http://${host.address}:${port}/health`),
  }
}

const goServerMain = readFileSync(join(appsDir, 'go-server', 'cmd', 'server', 'main.go'), 'utf8')

/** v2 changes the server; v3's server exits at start (log.Fatal before it listens). */
export const goServerChanges: ExampleSpec['changes'] = {
  v2: { 'cmd/server/main.go': `${goServerMain}\n// v2: a change\n` },
  v3: {
    'cmd/server/main.go': goServerMain.replace(
      'func main() {\n',
      'func main() {\n\tlog.Fatal("v3 is broken: the server exits at start")\n',
    ),
  },
}

/** The one line of the example's comments that matches `pattern` (e.g. a sudoers rule). */
export function commentLine(example: { file: string; text: string }, pattern: RegExp): string {
  const lines = example.text
    .split('\n')
    .map(line => /^\s*#\s+(.*)$/.exec(line)?.[1]?.trim() ?? '')
    .filter(line => pattern.test(line))
  if (lines.length !== 1)
    throw new Error(`examples/${example.file}: expected one comment line matching ${pattern}`)
  return lines[0] as string
}

/** Where the tests put sudoers drop-ins (removed by the test that wrote them). */
function sudoersFile(user: string): string {
  return `/etc/sudoers.d/ec2-deploy-example-${user}`
}

/** Installs a sudoers drop-in for the run-as user, checked by visudo first. */
export async function installSudoers(user: string, rule: string): Promise<void> {
  const draft = `${sudoersFile(user)}.draft`
  writeFileSync(`${draft}`, `${rule}\n`, { mode: 0o440 })
  try {
    await run('visudo', ['-c', '-q', '-f', draft])
    renameSync(draft, sudoersFile(user))
  } finally {
    rmSync(draft, { force: true })
  }
}

export function removeSudoers(user: string): void {
  rmSync(sudoersFile(user), { force: true })
}
