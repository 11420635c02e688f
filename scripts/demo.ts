/**
 * npm run demo: the whole suite on this machine. A sandbox with 3 instances, the bundled actions
 * run in deploy.yml's order, and four runs of the reusable workflow:
 *   1. v1 deployed   2. v2 deployed   3. a broken v3, rolled back automatically to v2
 *   4. a rollback to v1 through the `version` input (workflow_dispatch)
 * It exits 0 only when every expected outcome was observed, and leaves nothing behind: no
 * process, no directory (`-- --keep` keeps the job summaries' markdown files).
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  removeActionWorkDirs,
  repoRoot,
  runPipeline,
  startOidcServer,
  type OidcServer,
  type PipelineResult,
} from '../dev/github-runner/src/index.js'
import { freePort, startSandbox, type Sandbox } from '../dev/aws-sandbox/src/index.js'

// One role per environment: the demo deploys to develop, so only develop's role exists.
const ROLE = 'arn:aws:iam::123456789012:role/hello-deploy-{environment}'
const DEVELOP_ROLE = ROLE.replace('{environment}', 'develop')
const REPOSITORY = 'acme/hello'
const started = Date.now()
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)}s`
const say = (line: string) => console.log(`[${elapsed().padStart(6)}] ${line}`)

/** The tools the demo's machine and hosts run, and why. */
const DEMO_TOOLS: Record<string, string> = {
  git: 'the demo commits each version of the app',
  unshare: 'each host gets its own /opt/hello in a mount namespace',
  aws: 'the hosts download releases from S3 with the AWS CLI',
  unzip: 'the hosts unpack releases with it',
  curl: "the hosts' health check calls the app with it",
  flock: 'the hosts lock their deploy dir with it',
}

function installed(tool: string): boolean {
  return spawnSync('sh', ['-c', 'command -v "$1"', 'sh', tool], { stdio: 'ignore' }).status === 0
}

/** Why this machine cannot run the demo, in one line; undefined when it can. */
function whyDemoCannotRun(): string | undefined {
  if (process.getuid?.() !== 0) {
    return 'it needs root: each host gets a private /opt/hello through a mount namespace (try: sudo npm run demo)'
  }
  const packages = (
    JSON.parse(readFileSync(join(repoRoot, 'scripts/system-tools.json'), 'utf8')) as {
      tools: Record<string, string>
    }
  ).tools
  const missing = Object.keys(DEMO_TOOLS).filter(tool => !installed(tool))
  if (missing.length > 0) {
    return missing
      .map(
        tool =>
          `${tool} is not installed (${DEMO_TOOLS[tool]}): apt-get install ${packages[tool] ?? tool}`,
      )
      .join('; ')
  }
  const probe = spawnSync('unshare', ['--mount', '--propagation', 'private', 'true'], {
    encoding: 'utf8',
  })
  if (probe.status !== 0) {
    const detail = (probe.stderr || probe.error?.message || '').trim().split('\n')[0]
    return `this machine does not allow mount namespaces (unshare --mount: ${detail}); in a container, run it with --privileged`
  }
  return undefined
}

/** The version each host's hello-app reports, or why not. */
async function serving(ports: number[]): Promise<string[]> {
  return Promise.all(
    ports.map(async port => {
      try {
        const response = await fetch(`http://127.0.0.1:${port}/health`, {
          signal: AbortSignal.timeout(2000),
        })
        return ((await response.json()) as { version: string }).version
      } catch {
        return 'down'
      }
    }),
  )
}

/** The job summary as plain text for a terminal: tags and entities out, tables kept. */
function asText(markdown: string): string {
  return markdown
    .replace(/<details>[\s\S]*?<\/details>/g, '')
    .replace(/<[^>]+>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#(\d+);/g, (_m, code: string) => String.fromCharCode(Number(code)))
    .replace(/&amp;/g, '&')
    .replace(/\n{3,}/g, '\n\n')
    .trim()
}

/** What the demo starts: GitHub's OIDC token service, and the AWS sandbox trusting it. */
interface Services {
  oidc?: OidcServer
  sandbox?: Sandbox
}

/** Stops everything the demo started and removes what it made; safe to call twice. */
function cleanupOnce(work: string, keep: boolean, services: Services) {
  let done: Promise<void> | undefined
  return () =>
    (done ??= (async () => {
      await services.sandbox?.close()
      await services.oidc?.close()
      removeActionWorkDirs()
      rmSync(keep ? join(work, 'hello') : work, { recursive: true, force: true })
    })())
}

async function main(): Promise<number> {
  const cannot = whyDemoCannotRun()
  if (cannot) {
    console.error(`demo: cannot run: ${cannot}`)
    return 1
  }
  const keep = process.argv.slice(2).includes('--keep')
  const work = mkdtempSync(join(tmpdir(), 'ec2-deploy-demo-'))
  const services: Services = {}
  const cleanup = cleanupOnce(work, keep, services)
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.once(signal, () => void cleanup().finally(() => process.exit(code)))
  }
  try {
    return await demo(work, keep, services)
  } finally {
    await cleanup()
  }
}

async function demo(work: string, keep: boolean, services: Services): Promise<number> {
  say(
    'Starting the sandbox: 3 EC2 instances (hello-develop), SSM, S3, STS and GitHub OIDC, all on 127.0.0.1',
  )
  const ports = [await freePort(), await freePort(), await freePort()]
  // The token a job in the develop environment gets; STS trusts the service that signs it.
  const oidc = await startOidcServer({
    requestToken: 'sandbox-request-token',
    subject: `repo:${REPOSITORY}:environment:develop`,
    claims: { repository: REPOSITORY },
  })
  services.oidc = oidc
  const sandbox = await startSandbox({
    instances: ports.map(port => ({
      name: 'hello-develop',
      tags: { DeployApp: 'hello', DeployEnvironment: 'develop' },
      env: { HELLO_PORT: String(port) },
    })),
    privateDirs: ['/opt/hello'],
    s3: { buckets: ['demo-artifacts'] },
    sts: {
      identityProvider: oidc,
      roles: [
        {
          arn: DEVELOP_ROLE,
          audience: 'sts.amazonaws.com',
          subject: `repo:${REPOSITORY}:environment:develop`,
        },
      ],
    },
  })
  services.sandbox = sandbox
  const checkout = join(work, 'hello')
  cpSync(join(repoRoot, 'examples/hello-app'), checkout, { recursive: true })
  const git = (...args: string[]) =>
    execFileSync(
      'git',
      ['-c', 'user.name=demo', '-c', 'user.email=demo@example.invalid', ...args],
      { cwd: checkout, encoding: 'utf8' },
    ).trim()
  git('init', '-q', '-b', 'master')

  const inputs = {
    'app-name': 'hello',
    rules: 'master => develop',
    bucket: 'demo-artifacts',
    'role-to-assume': ROLE,
    'aws-region': sandbox.region,
    'instance-tags': 'DeployApp={app}\nDeployEnvironment={environment}',
    'deploy-dir': '/opt/hello',
    'shared-paths': '.env',
    'restart-command': 'sh bin/service.sh restart',
    'health-command': 'curl -fsS "http://127.0.0.1:$HELLO_PORT/health"',
    'health-retries': '3',
    'health-interval': '200ms',
    'max-concurrency': '100%',
    'verify-urls': ports.map(port => `http://127.0.0.1:${port}/health`).join('\n'),
    'verify-retries': '3',
  }
  const env = {
    ...(sandbox.env as unknown as Record<string, string>),
    ...oidc.env,
    GITHUB_REPOSITORY: REPOSITORY,
    RUNNER_TEMP: work,
  }
  const observed: { step: string; expected: string; got: string; hosts: string; ok: boolean }[] = []

  async function run(
    label: string,
    expected: { status: string; hosts: (versions: string[]) => boolean; describe: string },
    extra: { version?: string; event?: string } = {},
  ): Promise<PipelineResult> {
    say(
      `${label}: running the deploy workflow (${extra.version ? `version=${extra.version}, ${extra.event}` : 'push to master'})`,
    )
    const result = await runPipeline({
      inputs: {
        ...inputs,
        ...(extra.version ? { version: extra.version, environment: 'develop' } : {}),
      },
      ref: 'refs/heads/master',
      sha: git('rev-parse', 'HEAD'),
      checkout,
      eventName: extra.event ?? 'push',
      workflowRef: `${REPOSITORY}/.github/workflows/deploy.yml@refs/heads/master`,
      env,
      onStep: (step, stepRun) =>
        say(
          `  ${step.job.padEnd(7)} ${step.action.padEnd(19)} ${stepRun?.exitCode === 0 ? 'ok' : 'FAILED'}`,
        ),
    })
    const hosts = await serving(ports)
    console.log(`\n${asText(result.summary).replace(/^/gm, '    ')}\n`)
    if (keep) {
      const file = join(work, `summary-${observed.length + 1}.md`)
      writeFileSync(file, result.summary)
      say(`job summary: ${file}`)
    }
    const ok = result.status === expected.status && expected.hosts(hosts)
    observed.push({
      step: label,
      expected: `${expected.status}, ${expected.describe}`,
      got: result.status,
      hosts: hosts.join(' '),
      ok,
    })
    say(
      `${label}: ${result.status}; hosts serve ${hosts.join(', ')} ${ok ? '✓' : '✗ NOT AS EXPECTED'}`,
    )
    return result
  }

  try {
    git('add', '-A')
    git('commit', '-q', '-m', 'hello v1')
    git('tag', 'v1.0.0')
    const v1 = await run('1. deploy v1', {
      status: 'success',
      hosts: h => h.every(v => v.startsWith('v1.0.0-master-')),
      describe: 'all hosts on v1',
    })
    const v1Version = v1.context.steps.version?.version ?? ''

    writeFileSync(
      join(checkout, 'server.js'),
      `${git('show', 'HEAD:server.js')}\n// v2: a change\n`,
    )
    git('commit', '-q', '-am', 'hello v2')
    git('tag', 'v2.0.0')
    const v2 = await run('2. deploy v2', {
      status: 'success',
      hosts: h => h.every(v => v.startsWith('v2.0.0-master-')),
      describe: 'all hosts on v2',
    })
    const v2Version = v2.context.steps.version?.version ?? ''

    writeFileSync(join(checkout, 'BROKEN'), 'this release fails its health check\n')
    git('add', 'BROKEN')
    git('commit', '-q', '-m', 'hello v3 (broken)')
    git('tag', 'v3.0.0')
    await run('3. deploy broken v3', {
      status: 'rolled-back',
      hosts: h => h.every(v => v === v2Version),
      describe: 'every host back on v2 by itself',
    })

    await run(
      '4. roll back to v1',
      { status: 'success', hosts: h => h.every(v => v === v1Version), describe: 'all hosts on v1' },
      { version: v1Version, event: 'workflow_dispatch' },
    )
  } finally {
    await sandbox.close()
  }

  console.log('\nWhat happened:')
  console.table(observed)
  const passed = observed.length === 4 && observed.every(o => o.ok)
  say(
    passed
      ? `demo passed: every expected outcome was observed${keep ? ` (job summaries in ${work})` : ''}`
      : 'demo FAILED: see the table above',
  )
  return passed ? 0 : 1
}

process.exitCode = await main().catch(error => {
  console.error(error)
  return 1
})
