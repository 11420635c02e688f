/**
 * The examples deployed for real. A caller workflow of examples/ is read as it is; a sandbox is
 * made to match it (its tags, bucket, roles and region, with hosts per environment); the
 * example app's sources sit in a temp git checkout, committed per step; and each step runs
 * through runPipeline: the reusable workflow with the real bundles, as `npm run demo` runs it.
 * The host commands are the example's own, run by the release engine with the example's real
 * tools (pm2, go, supervisord, docker-compose) as the example's run-as user.
 */
import { execFileSync } from 'node:child_process'
import {
  chmodSync,
  chownSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { parse } from 'yaml'
import { roleForEnvironment } from '../../packages/github/src/index.js'
import { runPipeline, type PipelineResult } from '../../dev/github-runner/src/index.js'
import type { SandboxInstance } from '../../dev/aws-sandbox/src/index.js'
import { startSandboxWithOidc, type SandboxWithOidc } from './sandbox-with-oidc.js'
import { repoRoot } from './bundled-action.js'
import { appsDir, filesUnder, run, waitUntil } from './stacks.js'

/** A caller workflow of examples/, parsed. */
export interface Example {
  file: string
  text: string
  workflow: {
    on: { workflow_dispatch?: { inputs?: Record<string, unknown> } }
    jobs: Record<string, ExampleJob>
  }
  /** The `with:` of the job that calls deploy.yml, as a push gives it (`${{ inputs.* }}` empty). */
  inputs: Record<string, string>
}

export interface ExampleJob {
  uses?: string
  needs?: string | string[]
  if?: string
  with?: Record<string, unknown>
  env?: Record<string, string>
  steps?: {
    id?: string
    uses?: string
    with?: Record<string, unknown>
    run?: string
    env?: Record<string, string>
  }[]
}

/** Reads examples/<file>. */
export function readExample(file: string): Example {
  const text = readFileSync(join(repoRoot, 'examples', file), 'utf8')
  const workflow = parse(text) as Example['workflow']
  const deploy = Object.values(workflow.jobs).find(job =>
    job.uses?.includes('/.github/workflows/deploy.yml@'),
  )
  if (deploy === undefined) throw new Error(`examples/${file} has no job that calls deploy.yml`)
  const inputs = Object.fromEntries(
    Object.entries(deploy.with ?? {}).map(([name, value]) => [
      name,
      String(value).replace(/\$\{\{\s*inputs\.[\w-]+\s*\}\}/g, ''),
    ]),
  )
  return { file, text, workflow, inputs }
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

/**
 * The value of an input shown only in the example's comments, as `#   name: value` (the
 * variant a test runs where the example's own command cannot run, e.g. without systemd).
 */
export function commentedInput(example: Example, name: string): string {
  return commentLine(example, new RegExp(`^${name}: `)).slice(name.length + 2)
}

/** `Key=Value` lines with {app} and {environment} filled in. */
function instanceTags(lines: string, app: string, environment: string): Record<string, string> {
  return Object.fromEntries(
    lines
      .split('\n')
      .map(line => line.trim())
      .filter(Boolean)
      .map(line => {
        const filled = line.replaceAll('{app}', app).replaceAll('{environment}', environment)
        return [filled.slice(0, filled.indexOf('=')), filled.slice(filled.indexOf('=') + 1)]
      }),
  )
}

/** One host of the example, in one environment. */
export interface ExampleHost {
  instance: SandboxInstance
  environment: string
  /** The host's private directories live under this dir on the machine: its `/x` is `<root>/x`. */
  root: string
  /** The address the machine reaches the host at (its private IP, as a load balancer would). */
  address: string
}

/** A git checkout of an example app: the caller repository the build job packs. */
export class AppCheckout {
  readonly dir: string

  constructor(app: string) {
    this.dir = mkdtempSync(join(tmpdir(), `example-${app}-`))
    cpSync(join(appsDir, app), this.dir, { recursive: true })
    this.git('init', '-q', '-b', 'main')
  }

  git(...args: string[]): string {
    return execFileSync(
      'git',
      [
        '-c',
        'user.name=t',
        '-c',
        'user.email=t@example.invalid',
        '-c',
        'tag.gpgSign=false',
        ...args,
      ],
      { cwd: this.dir, encoding: 'utf8' },
    ).trim()
  }

  /** Writes files (relative path → content), commits everything, tags it; returns the sha. */
  commit(message: string, tag: string, files: Record<string, string> = {}): string {
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(dirname(join(this.dir, path)), { recursive: true })
      writeFileSync(join(this.dir, path), content)
    }
    this.git('add', '-A')
    this.git('commit', '-q', '--allow-empty', '-m', message)
    this.git('tag', tag)
    return this.git('rev-parse', 'HEAD')
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true })
  }
}

/** Marks the users these tests create, so a leftover of a killed run is recognised. */
const USER_MARK = 'ec2-deploy-actions example test'

/**
 * Creates the example's run-as user with exactly its name (hooks run as `run-as: api`), a
 * home under /home that each host gets for its own (a private dir), and extra groups. A user
 * of that name made by someone else is never touched: the test fails instead.
 */
export async function createExampleUser(name: string, groups: string[] = []): Promise<void> {
  const existing = (await run('getent', ['passwd', name]).catch(() => ({ stdout: '' }))).stdout
  if (existing !== '') {
    if (existing.split(':')[4] !== USER_MARK)
      throw new Error(`user ${name} already exists on this machine and was not made by these tests`)
    await removeExampleUser(name)
  }
  await run('useradd', [
    '--system',
    '--user-group',
    '--no-create-home',
    '--home-dir',
    `/home/${name}`,
    '--shell',
    '/usr/sbin/nologin',
    '--comment',
    USER_MARK,
    ...(groups.length > 0 ? ['--groups', groups.join(',')] : []),
    name,
  ])
}

export async function removeExampleUser(name: string): Promise<void> {
  const entry = (await run('getent', ['passwd', name]).catch(() => ({ stdout: '' }))).stdout
  if (entry.split(':')[4] === USER_MARK) await run('userdel', [name])
}

/** Numeric uid and gid of a user. */
function ids(user: string): { uid: number; gid: number } {
  const id = (flag: string): number =>
    Number(execFileSync('id', [flag, user], { encoding: 'utf8' }).trim())
  return { uid: id('-u'), gid: id('-g') }
}

/** What a step of the test runs: a push of `ref`, or a rollback to `version` (workflow_dispatch). */
export type Trigger =
  | { ref: string; environment: string; version?: undefined }
  | { version: string; environment: string; ref?: undefined }

export interface ExampleOptions {
  /** examples/<file>. */
  file: string
  /** examples/apps/<app>: the sources the pipeline packs. */
  app: string
  /** Environments deployed in the test, with their number of hosts. */
  environments: Record<string, number>
  /** Directories each host has for its own besides the deploy dir and run-as's home. */
  privateDirs?: string[]
  /** Groups the run-as user joins (docker). */
  groups?: string[]
  /** Directories of each host's own tools, before the SSM agent's PATH (a newer Node). */
  hostPath?: string[]
  /** Environment of every command on the hosts. */
  hostEnv?: Record<string, string>
  /** Machine ports each host reaches at 127.0.0.1:<port> (a registry). */
  forwardPorts?: () => number[]
  /** Inputs the test replaces (say why where they are given). */
  overrides?: (deployment: ExampleDeployment, trigger: Trigger) => Record<string, string>
}

/** The repository the sandbox's OIDC tokens name. */
const OWNER = 'acme'

/** An example deployed into its own sandbox, with its user, checkout and hosts. */
export class ExampleDeployment {
  private constructor(
    readonly example: Example,
    readonly options: ExampleOptions,
    readonly sandbox: SandboxWithOidc,
    readonly hosts: ExampleHost[],
    readonly checkout: AppCheckout,
    private readonly runnerTemp: string,
  ) {}

  get app(): string {
    return this.example.inputs['app-name'] as string
  }

  get runAs(): string {
    return this.example.inputs['run-as'] ?? ''
  }

  get deployDir(): string {
    return (this.example.inputs['deploy-dir'] || '/opt/{app}').replaceAll('{app}', this.app)
  }

  static async start(options: ExampleOptions): Promise<ExampleDeployment> {
    const example = readExample(options.file)
    const inputs = example.inputs
    const app = inputs['app-name'] as string
    const runAs = inputs['run-as'] ?? ''
    const deployDir = (inputs['deploy-dir'] || '/opt/{app}').replaceAll('{app}', app)
    const environments = Object.entries(options.environments)
    const repository = `${OWNER}/${app}`
    if (runAs !== '') await createExampleUser(runAs, options.groups)
    const privateDirs = [
      deployDir,
      ...(runAs ? [`/home/${runAs}`] : []),
      ...(options.privateDirs ?? []),
    ]
    let sandbox: SandboxWithOidc | undefined
    try {
      sandbox = await startSandboxWithOidc({
        region: inputs['aws-region'] as string,
        instances: environments.flatMap(([environment, count]) =>
          Array.from({ length: count }, (_, index) => ({
            name: `${app}-${environment}-${index + 1}`,
            tags: instanceTags(inputs['instance-tags'] as string, app, environment),
            env: options.hostEnv ?? {},
            path: options.hostPath ?? [],
            privateDirs,
            // Each host has its own network, as EC2 hosts do: every host serves the example's
            // port on its own loopback, and the runner reaches it at its private address.
            network: 'private' as const,
            forwardPorts: options.forwardPorts?.() ?? [],
          })),
        ),
        s3: { buckets: [inputs.bucket as string] },
        oidc: {
          subject: `repo:${repository}:environment:${environments[0]?.[0]}`,
          claims: { repository },
        },
        sts: {
          roles: environments.map(([environment]) => ({
            arn: roleForEnvironment(inputs['role-to-assume'] as string, environment),
            audience: 'sts.amazonaws.com',
            subject: `repo:${repository}:environment:*`,
          })),
        },
      })
      const started = sandbox
      const hosts = started.instances.map(instance => {
        const environment = instance.tags.get('DeployEnvironment') as string
        const root = join(instance.dir, 'root')
        return { instance, environment, root, address: instance.privateIpAddress }
      })
      // run-as's home: its own on every host, and writable by it (pm2 and go keep state there).
      if (runAs !== '') {
        const { uid, gid } = ids(runAs)
        for (const host of hosts) {
          const home = join(host.root, 'home', runAs)
          mkdirSync(home, { recursive: true })
          chownSync(home, uid, gid)
          chmodSync(home, 0o750)
        }
      }
      return new ExampleDeployment(
        example,
        options,
        started,
        hosts,
        new AppCheckout(options.app),
        mkdtempSync(join(tmpdir(), `runner-${app}-`)),
      )
    } catch (error) {
      await sandbox?.close()
      if (runAs !== '') await removeExampleUser(runAs)
      throw error
    }
  }

  hostsOf(environment: string): ExampleHost[] {
    return this.hosts.filter(host => host.environment === environment)
  }

  /** A path of the host's own (under its private dirs), as this machine sees it. */
  onDisk(host: ExampleHost, path: string): string {
    return join(host.root, path)
  }

  /**
   * Writes a file on the host before the first deploy, as whoever provisions the host would:
   * owned by run-as (root when empty) with `mode`; its directories are root's, 0755.
   */
  provision(host: ExampleHost, path: string, content: string | Buffer, mode = 0o600): void {
    const file = this.onDisk(host, path)
    mkdirSync(dirname(file), { recursive: true, mode: 0o755 })
    writeFileSync(file, content, { mode })
    chmodSync(file, mode)
    if (this.runAs !== '') {
      const { uid, gid } = ids(this.runAs)
      chownSync(file, uid, gid)
    }
  }

  /** Every file under the host's shared/ with its bytes. */
  sharedFiles(host: ExampleHost): Record<string, string> {
    return filesUnder(this.onDisk(host, join(this.deployDir, 'shared')))
  }

  /**
   * Runs a shell script on the host as the SSM agent runs commands there (its namespaces, its
   * bare environment), and returns its exit code and output.
   */
  async onHost(
    host: ExampleHost,
    script: string,
  ): Promise<{ exitCode: number; stdout: string; stderr: string }> {
    const sent = this.sandbox.ssm.sendCommand({
      DocumentName: 'AWS-RunShellScript',
      InstanceIds: [host.instance.id],
      // The agent's default working directory is root's; the run-as user's tools need one
      // they can enter.
      Parameters: { commands: [script], workingDirectory: ['/'] },
      TimeoutSeconds: 60,
    }) as { Command: { CommandId: string } }
    const command = await this.sandbox.ssm.whenDone(sent.Command.CommandId)
    const invocation = command.invocations[0]
    return {
      exitCode: invocation?.responseCode ?? -1,
      stdout: invocation?.stdout ?? '',
      stderr: invocation?.stderr ?? '',
    }
  }

  /** onHost, failing with the output unless the script exits 0. */
  async onHostOk(host: ExampleHost, script: string): Promise<string> {
    const result = await this.onHost(host, script)
    if (result.exitCode !== 0)
      throw new Error(
        `${host.instance.id}: '${script}' exited ${result.exitCode}:\n${result.stdout}\n${result.stderr}`,
      )
    return result.stdout
  }

  /** Runs deploy.yml for a push of `ref`, or a rollback to `version` through workflow_dispatch. */
  async pipeline(trigger: Trigger): Promise<PipelineResult> {
    const workflowRef = `${OWNER}/${this.app}/.github/workflows/${this.example.file}@refs/heads/main`
    const rollback = trigger.version !== undefined
    return runPipeline({
      inputs: {
        ...this.example.inputs,
        ...(rollback ? { version: trigger.version, environment: trigger.environment } : {}),
        ...this.options.overrides?.(this, trigger),
      },
      ref: trigger.ref ?? 'refs/heads/main',
      sha: this.checkout.git('rev-parse', 'HEAD'),
      checkout: this.checkout.dir,
      eventName: rollback ? 'workflow_dispatch' : 'push',
      workflowRef,
      env: {
        ...(this.sandbox.env as unknown as Record<string, string>),
        GITHUB_REPOSITORY: `${OWNER}/${this.app}`,
        RUNNER_TEMP: this.runnerTemp,
      },
    })
  }

  /** Stops the sandbox (and every process its hosts started), removes the user and temp dirs. */
  async close(): Promise<void> {
    try {
      await this.sandbox.close()
    } finally {
      this.checkout.remove()
      rmSync(this.runnerTemp, { recursive: true, force: true })
      if (this.runAs !== '') await removeExampleUser(this.runAs)
    }
  }
}

/** What a test says about its example's hosts, for the checks after every step. */
export interface HostProbe {
  /** The version the app on the host answers over HTTP(S) (its /health), or why not. */
  servedVersion(host: ExampleHost): Promise<string>
  /** Live instances of the app as the host's service manager shows them (pm2, supervisor, docker). */
  liveInstances(host: ExampleHost): Promise<number>
}

/** What one step expects: the pipeline's status, and the version each environment serves. */
export interface StepExpectation {
  status: 'success' | 'rolled-back'
  serving: Record<string, string>
}

/** The deploy job's failed steps, for a readable failure. */
function failures(result: PipelineResult): string[] {
  return result.runs
    .filter(entry => entry.run.exitCode !== 0)
    .map(
      entry =>
        `${entry.step.action}: ${entry.run.errors.join(' ')}\n${entry.run.stdout.slice(-3000)}\n${entry.run.stderr.slice(-1000)}`,
    )
}

/**
 * The checks after every step: each run's status (and its hosts' verdicts); then on every host
 * of the environments in `serving`, the version served over HTTP and exactly one live instance
 * of the app, and shared/ unchanged byte for byte (against `shared`, which the caller updates
 * when a step may add files).
 */
export async function expectStep(
  deployment: ExampleDeployment,
  probe: HostProbe,
  results: PipelineResult[],
  expected: StepExpectation,
  shared: Map<string, Record<string, string>>,
): Promise<void> {
  for (const result of results) {
    // The failed steps' errors are shown only when the status is not the expected one.
    expect({
      status: result.status,
      failed: result.status === expected.status ? [] : failures(result),
    }).toEqual({ status: expected.status, failed: [] })
    if (expected.status === 'rolled-back') {
      // The first host to fail rolls back by itself; SSM then stops (max-errors), so hosts
      // after it are never touched.
      const statuses = (
        JSON.parse(result.context.steps.deploy?.results ?? '[]') as { status: string }[]
      ).map(entry => entry.status)
      expect(statuses).toContain('rolled-back')
      expect(statuses.filter(status => status !== 'untouched')).toEqual(
        statuses.filter(status => status === 'rolled-back'),
      )
    }
    // The engine warns of what an example should have set up differently: none may.
    const warnings = (
      JSON.parse(result.context.steps.deploy?.results ?? '[]') as { warnings?: string[] }[]
    ).flatMap(entry => entry.warnings ?? [])
    expect(warnings).toEqual([])
    // Only a deploy that ended well is recorded: the rollback by version relies on it.
    expect(result.context.steps.record?.recorded ?? 'not run').toBe(
      expected.status === 'success' ? 'true' : 'not run',
    )
  }
  for (const host of deployment.hosts) {
    const version = expected.serving[host.environment]
    if (version === undefined) continue
    await waitUntil(
      `${host.instance.id} (${host.environment}) to serve ${version}`,
      async () => (await probe.servedVersion(host)) === version,
      10_000,
    ).catch(async error => {
      throw new Error(`${(error as Error).message}; it serves ${await probe.servedVersion(host)}`)
    })
    await waitUntil(
      `${host.instance.id}: exactly one live instance of the app`,
      async () => (await probe.liveInstances(host)) === 1,
      10_000,
    ).catch(async error => {
      throw new Error(`${(error as Error).message}; found ${await probe.liveInstances(host)}`)
    })
    expect({ host: host.instance.id, shared: deployment.sharedFiles(host) }).toEqual({
      host: host.instance.id,
      shared: shared.get(host.instance.id),
    })
  }
}

/** One step's time limit: a whole pipeline run per environment, on a busy 2-core machine. */
const STEP_TIMEOUT_MS = 240_000

/** How a test drives one example through issue 12's four steps. */
export interface ExampleSpec extends ExampleOptions {
  /** The pushes of each deploy step, one pipeline run each: the environment and its ref. */
  pushes: { environment: string; ref: (tag: string) => string }[]
  /** Before the first deploy: provision the hosts (shared files), start their services. */
  prepare?: (deployment: ExampleDeployment) => Promise<void>
  /** Before the sandbox closes: stop what prepare and the deploys started on the hosts. */
  teardown?: (deployment: ExampleDeployment) => Promise<void>
  /** How the test sees each host: the served version and the live instances. */
  probe: (deployment: ExampleDeployment) => HostProbe
  /** v2's change to the sources, and v3's: a release that breaks as real ones do. */
  changes: { v2: Record<string, string>; v3: Record<string, string> }
  /** Runs before each push's pipeline (a job the caller runs first, e.g. building an image). */
  beforePush?: (deployment: ExampleDeployment, trigger: Trigger) => Promise<void>
}

/**
 * The four steps, as four tests of one describe block: deploy v1; deploy v2; deploy a broken
 * v3, which each host rolls back by itself; roll back to v1 through the `version` input. The
 * environments of a step deploy side by side, as separate workflow runs would.
 */
export function describeExample(spec: ExampleSpec): void {
  describe(`examples/${spec.file}, deployed for real through the pipeline`, () => {
    let deployment: ExampleDeployment | undefined
    let probe: HostProbe
    /** shared/ of each host as it must stay. */
    const shared = new Map<string, Record<string, string>>()
    /** The version each environment deployed at each step. */
    const versions: Record<string, string>[] = []

    beforeAll(async () => {
      deployment = await ExampleDeployment.start(spec)
      await spec.prepare?.(deployment)
      probe = spec.probe(deployment)
      for (const host of deployment.hosts)
        shared.set(host.instance.id, deployment.sharedFiles(host))
    }, 300_000)

    afterAll(async () => {
      if (deployment === undefined) return
      try {
        await spec.teardown?.(deployment)
      } finally {
        await deployment.close()
      }
    }, 300_000)

    /** Commits the step's sources, runs one pipeline per environment, and returns the results. */
    const push = async (
      tag: string,
      files: Record<string, string>,
    ): Promise<Record<string, PipelineResult>> => {
      const target = deployment as ExampleDeployment
      target.checkout.commit(tag, tag, files)
      const results = await Promise.all(
        spec.pushes.map(async ({ environment, ref }) => {
          const trigger: Trigger = { ref: ref(tag), environment }
          await spec.beforePush?.(target, trigger)
          return [environment, await target.pipeline(trigger)] as const
        }),
      )
      for (const [environment, result] of results)
        expect({ environment, resolved: result.context.steps.env?.environment }).toEqual({
          environment,
          resolved: environment,
        })
      return Object.fromEntries(results)
    }

    const versionsOf = (results: Record<string, PipelineResult>): Record<string, string> =>
      Object.fromEntries(
        Object.entries(results).map(([environment, result]) => [
          environment,
          result.context.steps.version?.version ?? '',
        ]),
      )

    const check = (
      results: Record<string, PipelineResult>,
      status: StepExpectation['status'],
      serving: Record<string, string>,
    ): Promise<void> =>
      expectStep(
        deployment as ExampleDeployment,
        probe,
        Object.values(results),
        { status, serving },
        shared,
      )

    it(
      '1. deploys v1 to every host',
      async () => {
        const results = await push('v1.0.0', {})
        versions.push(versionsOf(results))
        // shared/ keeps what was provisioned; v1 may add files (e.g. the database its migration makes).
        for (const host of (deployment as ExampleDeployment).hosts) {
          expect(deployment?.sharedFiles(host)).toMatchObject(shared.get(host.instance.id) ?? {})
          shared.set(host.instance.id, (deployment as ExampleDeployment).sharedFiles(host))
        }
        await check(results, 'success', versions[0] as Record<string, string>)
      },
      STEP_TIMEOUT_MS,
    )

    it(
      '2. deploys v2 to every host',
      async () => {
        const results = await push('v2.0.0', spec.changes.v2)
        versions.push(versionsOf(results))
        await check(results, 'success', versions[1] as Record<string, string>)
      },
      STEP_TIMEOUT_MS,
    )

    it(
      '3. deploys a broken v3: every host rolls back by itself, and v2 serves again',
      async () => {
        const results = await push('v3.0.0', spec.changes.v3)
        await check(results, 'rolled-back', versions[1] as Record<string, string>)
      },
      STEP_TIMEOUT_MS,
    )

    it(
      '4. rolls back to v1 through the version input (workflow_dispatch)',
      async () => {
        const target = deployment as ExampleDeployment
        const first = versions[0] as Record<string, string>
        const results = Object.fromEntries(
          await Promise.all(
            spec.pushes.map(
              async ({ environment }) =>
                [
                  environment,
                  await target.pipeline({ version: first[environment] as string, environment }),
                ] as const,
            ),
          ),
        )
        await check(results, 'success', first)
      },
      STEP_TIMEOUT_MS,
    )
  })
}
