/**
 * go-server's two examples on the sandbox's hosts: flutter-webrtc (built on each host, run by
 * supervisord, HTTPS with a certificate in shared/) and docker-compose (an image per version
 * in a registry, pulled by each host's own dockerd).
 */
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runBundledAction } from '../../dev/github-runner/src/index.js'
import {
  commentedInput,
  commentLine,
  readExample,
  type ExampleDeployment,
  type ExampleHost,
  type ExampleSpec,
  type HostProbe,
  type Trigger,
} from './example-pipeline.js'
import { healthPort, versionAt, verifyUrlsOnHosts } from './example-stacks.js'
import {
  appsDir,
  makeCertificate,
  run,
  startDockerd,
  waitUntil,
  type DockerDaemon,
} from './stacks.js'

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

/** Debian's supervisord.conf; the tests' hosts keep its socket and pid file in a private dir. */
const SUPERVISORD_CONF = '/etc/supervisor/supervisord.conf'

/** supervisorctl on the host, as root. */
const supervisorctl = (command: string): string => `supervisorctl -c ${SUPERVISORD_CONF} ${command}`

/**
 * flutter-webrtc: each host runs Debian's supervisord (systemd cannot be init here) with the
 * example's program file unchanged, and has a self-signed certificate in shared/configs/certs/
 * for 127.0.0.1 and its private address. The restart-command is the supervisor variant that
 * the example shows in its comments, allowed by the sudoers rule shown there.
 */
export function supervisorExample(
  environments: Record<string, number>,
): Omit<ExampleSpec, 'pushes'> {
  const file = 'flutter-webrtc.yml'
  // The port the health-command asks on each host.
  const port = /127\.0\.0\.1:(\d+)\/health/.exec(
    readExample(file).inputs['health-command'] ?? '',
  )?.[1]
  const cas = new Map<string, string>()
  let user = ''
  return {
    file,
    app: 'go-server',
    environments,
    // Each host's own supervisord: its config, program, socket and logs.
    privateDirs: ['/etc/supervisor', '/var/log/supervisor'],
    changes: goServerChanges,
    async prepare(deployment) {
      user = deployment.runAs
      await installSudoers(user, commentLine(deployment.example, /ALL=.*supervisorctl/))
      const program = readFileSync(join(appsDir, 'go-server', 'deploy', 'supervisor.conf'), 'utf8')
      const debian = readFileSync(SUPERVISORD_CONF, 'utf8').replaceAll(
        '/var/run/',
        '/var/log/supervisor/',
      )
      for (const host of deployment.hosts) {
        const certs = deployment.onDisk(host, join(deployment.deployDir, 'shared/configs/certs'))
        mkdirSync(certs, { recursive: true })
        const made = await makeCertificate(certs, [host.address])
        for (const path of [made.cert, made.key])
          deployment.provision(host, path.slice(host.root.length), readFileSync(path))
        cas.set(host.instance.id, readFileSync(made.cert, 'utf8'))
        const etc = deployment.onDisk(host, '/etc/supervisor')
        mkdirSync(join(etc, 'conf.d'), { recursive: true })
        writeFileSync(join(etc, 'supervisord.conf'), debian)
        writeFileSync(join(etc, 'conf.d', 'flutter-webrtc.conf'), program)
        // Started as the host's boot would; its program has no current yet, so it waits.
        await deployment.onHostOk(host, `supervisord -c ${SUPERVISORD_CONF}`)
        await waitUntil('supervisord to answer', async () => {
          await deployment.onHostOk(host, supervisorctl('pid'))
          return true
        })
      }
    },
    async teardown(deployment) {
      try {
        for (const host of deployment.hosts)
          await deployment.onHost(host, supervisorctl('shutdown'))
      } finally {
        removeSudoers(user)
      }
    },
    probe: (deployment): HostProbe => ({
      servedVersion: host =>
        versionAt(`https://${host.address}:${port}/health`, cas.get(host.instance.id)),
      liveInstances: async host => {
        const { stdout } = await deployment.onHost(host, supervisorctl('status'))
        return stdout.split('\n').filter(line => /\bRUNNING\b/.test(line)).length
      },
    }),
    overrides: deployment => ({
      'restart-command': commentedInput(deployment.example, 'restart-command'),
    }),
  }
}

/** The Docker socket of a host's own dockerd, in its private /var/lib/docker. */
const HOST_DOCKER_SOCKET = '/var/lib/docker/docker.sock'

/**
 * Runs the caller's image job as the runner would: its steps in order, this suite's actions
 * from their bundles and `run:` steps with bash, `${{ steps.<id>.outputs.<name> }}` in their
 * env resolved. Other actions are left out: actions/checkout (the checkout is there) and the
 * ECR login (the test's registry needs none).
 */
async function runImageJob(
  deployment: ExampleDeployment,
  trigger: Trigger,
  env: Record<string, string>,
): Promise<void> {
  const job = deployment.example.workflow.jobs.image
  if (job === undefined) throw new Error(`examples/${deployment.example.file} has no image job`)
  const outputs: Record<string, Record<string, string>> = {}
  const resolve = (value: string): string =>
    value.replace(/\$\{\{\s*steps\.([\w-]+)\.outputs\.([\w-]+)\s*\}\}/g, (_all, id, name) => {
      const found = outputs[id as string]?.[name as string]
      if (found === undefined) throw new Error(`image job: no output ${id}.${name}`)
      return found
    })
  const context = {
    GITHUB_REF: trigger.ref ?? '',
    GITHUB_SHA: deployment.checkout.git('rev-parse', 'HEAD'),
  }
  for (const step of job.steps ?? []) {
    const own = /\/ec2-deploy-actions\/actions\/([\w-]+)@/.exec(step.uses ?? '')?.[1]
    if (own !== undefined) {
      const result = await runBundledAction(own, {
        inputs: Object.fromEntries(
          Object.entries(step.with ?? {}).map(([name, value]) => [name, resolve(String(value))]),
        ),
        env: context,
        cwd: deployment.checkout.dir,
      })
      if (result.exitCode !== 0) throw new Error(`image job: ${own} failed: ${result.stdout}`)
      if (step.id) outputs[step.id] = result.outputs
    } else if (step.run !== undefined) {
      const stepEnv = Object.fromEntries(
        Object.entries(step.env ?? {}).map(([name, value]) => [name, resolve(String(value))]),
      )
      await run('bash', ['-e', '-c', step.run], {
        cwd: deployment.checkout.dir,
        env: { ...process.env, ...context, ...env, ...stepEnv },
        timeoutMs: 600_000,
      })
    }
  }
}

/**
 * docker-compose: the runner's dockerd builds and pushes each version's image to a local
 * registry (the image job, for real); each host runs its own dockerd in its own network
 * namespace (so `network_mode: host` serves the host's port), reaches the registry at the same
 * 127.0.0.1 address through a forwarded port, and lets the run-as user (group docker) use it.
 */
export function composeExample(
  environments: Record<string, number>,
  runner: () => { docker: DockerDaemon; registry: string; registryPort: number },
): Omit<ExampleSpec, 'pushes'> {
  const file = 'docker-compose.yml'
  const port = healthPort(file)
  const daemons: DockerDaemon[] = []
  const execRoots: string[] = []
  /** docker on the machine for one host's daemon (the test's view of the host). */
  const hostDocker = (deployment: ExampleDeployment, host: ExampleHost, args: string[]) =>
    run('docker', ['--host', `unix://${deployment.onDisk(host, HOST_DOCKER_SOCKET)}`, ...args])
  return {
    file,
    app: 'go-server',
    environments,
    privateDirs: ['/var/lib/docker'],
    groups: ['docker'],
    // The host's docker-compose uses its own daemon: on a host, /var/run/docker.sock; here
    // that path is the machine's, so the host's daemon listens in its private /var/lib/docker.
    hostEnv: { DOCKER_HOST: `unix://${HOST_DOCKER_SOCKET}` },
    forwardPorts: () => [runner().registryPort],
    changes: goServerChanges,
    async prepare(deployment) {
      // The repository's registry is the test's own (REGISTRY in compose/.env).
      const dotEnv = join(deployment.checkout.dir, 'compose', '.env')
      writeFileSync(
        dotEnv,
        readFileSync(dotEnv, 'utf8').replace(/^REGISTRY=.*$/m, `REGISTRY=${runner().registry}`),
      )
      for (const host of deployment.hosts) {
        deployment.provision(
          host,
          join(deployment.deployDir, 'shared', 'app.env'),
          `API_TOKEN=secret-of-${host.instance.id}\n`,
        )
        // The host's own daemon, in its network namespace, started before the first deploy.
        const dir = deployment.onDisk(host, '/var/lib/docker')
        const execRoot = mkdtempSync(join(tmpdir(), 'dockerd-'))
        execRoots.push(execRoot)
        daemons.push(await startDockerd(dir, { netns: host.instance.netns, execRoot }))
      }
    },
    beforePush: (deployment, trigger) =>
      runImageJob(deployment, trigger, { DOCKER_HOST: runner().docker.host }),
    async teardown(deployment) {
      for (const host of deployment.hosts) {
        const ids = (await hostDocker(deployment, host, ['ps', '--all', '--quiet'])).stdout
          .split('\n')
          .filter(Boolean)
        if (ids.length > 0) await hostDocker(deployment, host, ['rm', '--force', ...ids])
      }
      for (const daemon of daemons) await daemon.stop()
      for (const dir of execRoots) rmSync(dir, { recursive: true, force: true })
    },
    probe: (deployment): HostProbe => ({
      servedVersion: host => versionAt(`http://${host.address}:${port}/health`),
      liveInstances: async host =>
        (
          await hostDocker(deployment, host, [
            'ps',
            '--filter',
            'label=com.docker.compose.project=stack',
            '--quiet',
          ])
        ).stdout
          .split('\n')
          .filter(Boolean).length,
    }),
    overrides: (deployment, trigger) =>
      verifyUrlsOnHosts(deployment, trigger, host => `http://${host.address}:${port}/health`),
  }
}
