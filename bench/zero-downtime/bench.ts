/**
 * Zero-downtime benchmark: failed requests and latency while a real deploy runs, four ways.
 *
 *   npm run bench:zero-downtime                          every mode, 200 requests per second
 *   npm run bench:zero-downtime -- --rate 100 --only 1,3 some modes, another rate
 *
 * One sandbox, five hosts (directories whose commands run under real bash as root), each with
 * its own /opt/hello and the demo's hello-app (a node HTTP server that `bin/service.sh restart`
 * stops, then starts). The bundled ssm-deploy action deploys each mode's next release while a
 * child process sends GET / on an open-loop schedule, each request on a new connection:
 *   1. in-place on 3 hosts behind the sandbox's load balancer (they stay registered);
 *   2. the same hosts with target-group-arns: drained, deployed, registered again;
 *   3. in-place on 1 host behind its nginx;
 *   4. blue-green on 1 host behind its nginx (two slots, upstream file switched, reload).
 * A request fails on a connection error, a timeout, a non-2xx status, or a body that is not the
 * old or new release's greeting. The last line gives the worst of modes 2 and 4.
 *
 * Exit status: 0 when every deploy succeeded and modes 2 and 4 failed no request; 1 otherwise
 * (a zero-downtime mode that dropped requests or could not run); 2 when the machine cannot run
 * it. Modes 1 and 3 never set it: they show what today's deploys drop.
 */
import { spawnSync } from 'node:child_process'
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import {
  freePort,
  startSandbox,
  type Sandbox,
  type SandboxInstance,
  type TargetGroup,
} from '../../dev/aws-sandbox/src/index.js'
import {
  readActionYml,
  removeActionWorkDirs,
  repoRoot,
  runBundledAction,
} from '../../dev/github-runner/src/index.js'
import { Nginx } from '../../__tests__/remote/support/nginx.js'
import { lastLine, resultTable, summarize, type ModeResult } from './load.js'
import { startLoadProcess } from './load-client.js'

const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '200' },
    'max-seconds': { type: 'string', default: '180' },
    only: { type: 'string', default: '1,2,3,4' },
  },
})
const RATE = Number(args.rate)
const MAX_MS = Number(args['max-seconds']) * 1000
const ONLY = new Set(args.only.split(',').map(mode => Number(mode.trim())))
/** Load before the deploy starts and after it ends, so both ends of the switch are covered. */
const MARGIN_MS = 1500
const APP = 'hello'
const DEPLOY_DIR = '/opt/hello'
/** Each load-balanced host has its own network, so each serves the same port, as EC2 hosts do. */
const LB_PORT = 8080
const BUCKET = 'bench-artifacts'
const VERSIONS = ['v1.0.0', 'v1.1.0', 'v1.2.0'] as const

const started = Date.now()
const say = (line: string) =>
  console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s] ${line}`)

const SSM_DEPLOY_BUNDLE = join(repoRoot, 'dist/ssm-deploy/index.js')

/** Why this machine cannot run the benchmark; undefined when it can. */
function whyCannotRun(): string | undefined {
  if (process.getuid?.() !== 0)
    return 'it needs root: hosts get a private /opt/hello and network (mount and network namespaces)'
  const missing = ['nginx', 'unshare', 'curl', 'aws', 'unzip', 'flock', 'node'].filter(
    tool => spawnSync('sh', ['-c', 'command -v "$1"', 'sh', tool]).status !== 0,
  )
  if (missing.length) return `missing tools: ${missing.join(', ')} (see scripts/system-tools.json)`
  if (!existsSync(SSM_DEPLOY_BUNDLE)) return `${SSM_DEPLOY_BUNDLE} is missing: run npm run bundle`
  return undefined
}

/**
 * The inputs among `names` that this build of ssm-deploy lacks (a mode whose branch is not
 * merged yet): not declared in action.yml, or never read by the bundle (a stale dist/ would
 * ignore them, and the mode would quietly measure an in-place deploy).
 */
function missingInputs(names: string[]): string[] {
  const declared = readActionYml('ssm-deploy').inputs ?? {}
  const bundle = readFileSync(SSM_DEPLOY_BUNDLE, 'utf8')
  return names.filter(
    name => !(name in declared) || (!bundle.includes(`'${name}'`) && !bundle.includes(`"${name}"`)),
  )
}

interface Release {
  version: string
  uri: string
  sha256: string
}

/** Packs hello-app as each version and uploads it, with the bundled package-zip and s3-upload. */
async function releases(sandbox: Sandbox, work: string): Promise<Map<string, Release>> {
  const checkout = join(work, 'hello-app')
  cpSync(join(repoRoot, 'examples/hello-app'), checkout, { recursive: true })
  const env = sandbox.env as unknown as Record<string, string>
  const made = new Map<string, Release>()
  for (const version of VERSIONS) {
    writeFileSync(join(checkout, 'VERSION'), `${version}\n`)
    const zip = await runBundledAction('package-zip', {
      inputs: { path: checkout, app: APP, version, 'output-dir': join(work, 'zips') },
    })
    const upload = await runBundledAction('s3-upload', {
      inputs: {
        file: zip.outputs.file ?? '',
        bucket: BUCKET,
        app: APP,
        version,
        environment: 'bench',
        'expected-sha256': zip.outputs.sha256 ?? '',
      },
      env,
    })
    if (upload.exitCode !== 0)
      throw new Error(`upload of ${version} failed: ${upload.errors.join('; ') || upload.stderr}`)
    made.set(version, {
      version,
      uri: upload.outputs.uri ?? '',
      sha256: upload.outputs.sha256 ?? '',
    })
  }
  return made
}

/** One host behind its own nginx, on the machine's loopback. */
interface NginxHost {
  instance: SandboxInstance
  nginx: Nginx
  upstreamFile: string
  appPort: number
  slotPorts: [number, number]
}

/** Starts the host's nginx, its upstream the app's port (in-place) or the first slot's. */
async function nginxHost(instance: SandboxInstance, appPort: number): Promise<NginxHost> {
  const dir = join(instance.dir, 'nginx')
  mkdirSync(join(dir, 'upstreams'), { recursive: true, mode: 0o755 })
  const upstreamFile = join(dir, 'upstreams', `${APP}.conf`)
  const slotPorts: [number, number] = [await freePort(), await freePort()]
  const nginx = await Nginx.start(dir, upstreamFile, appPort || slotPorts[0])
  return { instance, nginx, upstreamFile, appPort, slotPorts }
}

/** Runs the bundled ssm-deploy; resolves with its status and how long it took. */
async function deploy(
  sandbox: Sandbox,
  hosts: readonly SandboxInstance[],
  release: Release,
  inputs: Record<string, string>,
): Promise<{ status: string; seconds: number }> {
  const begun = Date.now()
  const run = await runBundledAction('ssm-deploy', {
    inputs: {
      'instance-ids': hosts.map(host => host.id).join(','),
      version: release.version,
      environment: 'bench',
      'app-name': APP,
      'deploy-dir': DEPLOY_DIR,
      'artifact-uri': release.uri,
      'artifact-sha256': release.sha256,
      'restart-command': 'sh bin/service.sh restart',
      'health-retries': '20',
      'health-interval': '100ms',
      'max-concurrency': '1',
      timeout: '5m',
      ...inputs,
    },
    env: sandbox.env as unknown as Record<string, string>,
    timeoutMs: MAX_MS,
  })
  const status = run.outputs.status || `exit ${run.exitCode ?? run.signal}`
  if (status !== 'success') say(`  ssm-deploy: ${status}: ${run.errors.join('; ')}`)
  return { status, seconds: (Date.now() - begun) / 1000 }
}

/** A regular expression source matching exactly the greetings of these versions. */
const greeting = (...versions: string[]) =>
  `^Hello from (${versions.map(v => v.replace(/\./g, '\\.')).join('|')})\\n$`

interface Mode {
  number: number
  name: string
  zeroDowntime: boolean
  /** The inputs this mode needs that older builds of ssm-deploy lack. */
  needs: string[]
  url: () => string
  from: string
  to: string
  before?: () => Promise<void>
  run: () => Promise<{ status: string; seconds: number }>
  /** Watches what the deploy does while it runs; the returned function says it in a few words. */
  watch?: () => () => string
}

/** Sends the load while the mode deploys; the mode's column of the table. */
async function measure(mode: Mode): Promise<ModeResult> {
  const result = { name: `${mode.number}. ${mode.name}`, zeroDowntime: mode.zeroDowntime }
  const missing = missingInputs(mode.needs)
  if (missing.length) {
    const why = `not run: ssm-deploy has no input ${missing.join(', ')}`
    say(`${mode.number}. ${mode.name}: ${why}`)
    return { ...result, deploy: why }
  }
  await mode.before?.()
  say(`${mode.number}. ${mode.name}: ${mode.from} → ${mode.to} under ${RATE} requests/s`)
  const load = await startLoadProcess({
    url: mode.url(),
    ratePerSecond: RATE,
    maxDurationMs: MAX_MS,
    timeoutMs: 5000,
    bodyPattern: greeting(mode.from, mode.to),
  })
  await new Promise(resolve => setTimeout(resolve, MARGIN_MS))
  const watched = mode.watch?.()
  const deployed = await mode
    .run()
    .catch((error: Error) => ({ status: error.message, seconds: NaN }))
  const note = watched?.()
  await new Promise(resolve => setTimeout(resolve, MARGIN_MS))
  const summary = summarize(await load.stop())
  say(
    `   deploy ${deployed.status} in ${deployed.seconds.toFixed(1)}s${note ? ` (${note})` : ''}; ` +
      `${summary.failed} of ${summary.requests} requests failed, p99 ${summary.p99Ms.toFixed(1)} ms`,
  )
  return {
    ...result,
    deploy: deployed.status,
    deploySeconds: deployed.seconds,
    load: summary,
    ...(note ? { note } : {}),
  }
}

/**
 * Watches the target group while a deploy runs: which hosts it saw draining (deregistered by
 * the deploy). Mode 1 drains none; mode 2 should drain every host, one wave at a time.
 */
function drainedHosts(group: TargetGroup, hosts: readonly SandboxInstance[]): () => () => string {
  return () => {
    const drained = new Set<string>()
    const timer = setInterval(() => {
      for (const target of group.list())
        if (target.report().state === 'draining') drained.add(target.instance.id)
    }, 20)
    return () => {
      clearInterval(timer)
      return `${drained.size} of ${hosts.length} hosts drained`
    }
  }
}

/** Waits until every target of the group is healthy (after a deploy that kept them in). */
async function allHealthy(group: TargetGroup, count: number): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const targets = group.list()
    if (targets.length === count && targets.every(t => t.report().state === 'healthy')) return
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  const states = group.list().map(t => `${t.instance.id}: ${JSON.stringify(t.report())}`)
  throw new Error(`the targets of ${group.name} did not all turn healthy: ${states.join('; ')}`)
}

async function bench(work: string, closers: (() => Promise<void>)[]): Promise<number> {
  const inPlacePort = await freePort()
  say('starting the sandbox: 3 hosts behind a load balancer, 2 hosts behind their own nginx')
  const sandbox = await startSandbox({
    instances: [
      ...[1, 2, 3].map(n => ({
        name: `${APP}-lb-${n}`,
        network: 'private' as const,
        env: { HELLO_PORT: String(LB_PORT), HELLO_HOST: '0.0.0.0' },
      })),
      { name: `${APP}-nginx-in-place`, env: { HELLO_PORT: String(inPlacePort) } },
      { name: `${APP}-nginx-blue-green` },
    ],
    privateDirs: [DEPLOY_DIR],
    s3: { buckets: [BUCKET] },
    targetGroups: [
      {
        name: APP,
        port: LB_PORT,
        healthCheckPath: '/health',
        healthCheckIntervalSeconds: 0.5,
        healthyThresholdCount: 2,
        unhealthyThresholdCount: 2,
        deregistrationDelaySeconds: 1,
      },
    ],
  })
  closers.push(() => sandbox.close())
  const [lb1, lb2, lb3, inPlaceHost, blueGreenHost] = sandbox.instances as [
    SandboxInstance,
    SandboxInstance,
    SandboxInstance,
    SandboxInstance,
    SandboxInstance,
  ]
  const lbHosts = [lb1, lb2, lb3]
  const group = sandbox.elbv2.get(APP) as TargetGroup
  const inPlace = await nginxHost(inPlaceHost, inPlacePort)
  closers.push(() => inPlace.nginx.stop())
  const blueGreen = await nginxHost(blueGreenHost, 0)
  closers.push(() => blueGreen.nginx.stop())

  say('packing and uploading hello-app v1.0.0, v1.1.0, v1.2.0 (package-zip, s3-upload)')
  const release = await releases(sandbox, work)
  const at = (version: string) => release.get(version) as Release
  const lbHealth = { 'health-url': `http://127.0.0.1:${LB_PORT}/health` }
  const blueGreenInputs = {
    strategy: 'blue-green',
    'slot-ports': blueGreen.slotPorts.join(','),
    'proxy-upstream-file': blueGreen.upstreamFile,
    'proxy-reload-command': blueGreen.nginx.reloadCommand,
    'drain-time': '1s',
    'stop-command': 'sh bin/service.sh stop',
    'health-url': 'http://127.0.0.1:{port}/health',
  }
  const blueGreenReady = missingInputs(Object.keys(blueGreenInputs)).length === 0

  say('deploying v1.0.0 everywhere, without load')
  const first = [
    await deploy(sandbox, lbHosts, at('v1.0.0'), lbHealth),
    await deploy(sandbox, [inPlaceHost], at('v1.0.0'), {
      'health-url': `http://127.0.0.1:${inPlacePort}/health`,
    }),
    ...(blueGreenReady
      ? [await deploy(sandbox, [blueGreenHost], at('v1.0.0'), blueGreenInputs)]
      : []),
  ]
  if (first.some(run => run.status !== 'success')) throw new Error('the first deploy failed')
  for (const host of lbHosts) group.register(host.id)
  await allHealthy(group, lbHosts.length)

  /** What the load-balanced hosts serve once mode 1 has run. */
  let lbServes = 'v1.0.0'
  const modes: Mode[] = [
    {
      number: 1,
      name: 'in-place, 3 hosts, load balancer',
      zeroDowntime: false,
      needs: [],
      url: () => group.url,
      from: 'v1.0.0',
      to: 'v1.1.0',
      watch: drainedHosts(group, lbHosts),
      run: async () => {
        const deployed = await deploy(sandbox, lbHosts, at('v1.1.0'), lbHealth)
        if (deployed.status === 'success') lbServes = 'v1.1.0'
        return deployed
      },
    },
    {
      number: 2,
      name: 'target-group-arns, 3 hosts, load balancer',
      zeroDowntime: true,
      needs: ['target-group-arns'],
      url: () => group.url,
      get from() {
        return lbServes
      },
      to: 'v1.2.0',
      before: () => allHealthy(group, lbHosts.length),
      watch: drainedHosts(group, lbHosts),
      run: () =>
        deploy(sandbox, lbHosts, at('v1.2.0'), { ...lbHealth, 'target-group-arns': group.arn }),
    },
    {
      number: 3,
      name: 'in-place, 1 host, nginx',
      zeroDowntime: false,
      needs: [],
      url: () => inPlace.nginx.url('/'),
      from: 'v1.0.0',
      to: 'v1.1.0',
      run: () =>
        deploy(sandbox, [inPlaceHost], at('v1.1.0'), {
          'health-url': `http://127.0.0.1:${inPlacePort}/health`,
        }),
    },
    {
      number: 4,
      name: 'blue-green, 1 host, nginx',
      zeroDowntime: true,
      needs: Object.keys(blueGreenInputs),
      url: () => blueGreen.nginx.url('/'),
      from: 'v1.0.0',
      to: 'v1.1.0',
      watch: () => () => {
        const port = /server 127\.0\.0\.1:(\d+);/.exec(readFileSync(blueGreen.upstreamFile, 'utf8'))
        const slot = ['blue', 'green'][blueGreen.slotPorts.indexOf(Number(port?.[1]))]
        return `nginx now sends to the ${slot ?? 'unknown'} slot`
      },
      run: () => deploy(sandbox, [blueGreenHost], at('v1.1.0'), blueGreenInputs),
    },
  ]
  const results: ModeResult[] = []
  for (const mode of modes.filter(m => ONLY.has(m.number))) results.push(await measure(mode))

  console.log('')
  console.log(resultTable(results))
  console.log('')
  console.log(
    `Open-loop load of ${RATE} requests/s, one connection per request, loopback only; latency ` +
      'from the moment each request was due. A 2-core machine shared with other work moves ' +
      'the latencies from run to run; the failure counts are what to compare.',
  )
  console.log(lastLine(results))
  const zeroDowntime = results.filter(result => result.zeroDowntime)
  const clean =
    results.every(result => result.deploy === 'success') &&
    zeroDowntime.length > 0 &&
    zeroDowntime.every(result => result.load?.failed === 0)
  return clean ? 0 : 1
}

async function main(): Promise<number> {
  const cannot = whyCannotRun()
  if (cannot) {
    console.error(`bench:zero-downtime: cannot run: ${cannot}`)
    return 2
  }
  if (!(RATE > 0) || !(MAX_MS > 0) || [...ONLY].some(mode => ![1, 2, 3, 4].includes(mode))) {
    console.error(
      'bench:zero-downtime: --rate and --max-seconds are numbers > 0; --only lists modes 1-4',
    )
    return 2
  }
  const work = mkdtempSync(join(tmpdir(), 'bench-zero-downtime-'))
  const closers: (() => Promise<void>)[] = []
  const cleanup = async () => {
    for (const close of closers.splice(0).reverse()) await close().catch(() => {})
    removeActionWorkDirs()
    rmSync(work, { recursive: true, force: true })
  }
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)
    process.once(signal, () => void cleanup().finally(() => process.exit(code)))
  try {
    return await bench(work, closers)
  } finally {
    await cleanup()
  }
}

process.exitCode = await main().catch(error => {
  console.error(error)
  return 1
})
