/**
 * How the examples' pipeline tests see a host (the version it serves, over HTTP), and node-api
 * under pm2 (node-pm2, multi-env, main-to-prod). go-server's examples: example-go.ts.
 */
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { node24 } from './bundled-action.js'
import {
  readExample,
  type ExampleDeployment,
  type ExampleHost,
  type ExampleSpec,
  type HostProbe,
  type Trigger,
} from './example-pipeline.js'
import { appsDir, fetchText } from './stacks.js'

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
