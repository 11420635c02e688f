import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { RemoteOptions } from '../../packages/remote/src/index.js'
import {
  appsDir,
  EngineDriver,
  healthEndpoint,
  run,
  SSM_PATH,
  StackHost,
  startDockerd,
  startRegistry,
  waitForVersion,
  type DockerDaemon,
  type Registry,
} from '../support/stacks.js'

// The docker-compose example for real: a private dockerd and registry; the runner side builds
// an image FROM scratch around the static go-server and pushes it with the version as its tag;
// the host pulls it with docker-compose (v1, Debian's) from the compose file in the release.
const composeApp = join(appsDir, 'compose')
const BEFORE_SWITCH = 'docker-compose pull'
const RESTART = 'docker-compose up -d --remove-orphans'

describe('compose stack with a private dockerd and registry', () => {
  let host: StackHost
  let docker: DockerDaemon
  let registry: Registry
  let app: { port: number; url: string }

  const dockerEnv = (): Record<string, string> => ({ DOCKER_HOST: docker.host })

  const dockerCli = async (...args: string[]): Promise<string> =>
    (await run('docker', args, { env: { PATH: SSM_PATH, HOME: host.home, ...dockerEnv() } })).stdout

  beforeAll(async () => {
    host = new StackHost('stack', 'production')
    docker = await startDockerd(join(host.root, 'docker'))
    const registryDir = join(host.root, 'registry')
    mkdirSync(registryDir)
    registry = await startRegistry(registryDir)
    app = await healthEndpoint()
  }, 120_000)

  /** Removes every container of the private daemon. */
  const removeContainers = async (): Promise<void> => {
    const ids = (await dockerCli('ps', '--all', '--quiet')).split('\n').filter(Boolean)
    if (ids.length > 0) await dockerCli('rm', '--force', ...ids)
  }

  afterAll(async () => {
    // Containers first, so the daemon stops with nothing running.
    if (docker) {
      await removeContainers().catch(() => undefined)
      await docker.stop()
    }
    await registry?.stop()
    host?.cleanup()
  }, 120_000)

  /** The runner side: build and push the image, and package the release's files. */
  const buildRelease = async (version: string): Promise<string> => {
    const packageDir = join(host.root, 'package', version)
    // The runner's own environment: its HOME keeps Go's build cache between runs. A cold
    // cache rebuilds the standard library without cgo: minutes on a busy machine.
    await run(join(composeApp, 'build.sh'), [version, registry.address, packageDir], {
      env: { ...process.env, APP_PORT: String(app.port), ...dockerEnv() },
      timeoutMs: 300_000,
    })
    // The host must pull the image from the registry: the runner's copy goes away.
    await dockerCli('rmi', `${registry.address}/go-server:${version}`)
    return packageDir
  }

  /** A package made by build.sh, and its .env as edited for the test. */
  const editedRelease = async (
    version: string,
    edit: (env: string) => string,
  ): Promise<{ packageDir: string; env: string }> => {
    const packageDir = await buildRelease(version)
    return { packageDir, env: edit(readFileSync(join(packageDir, '.env'), 'utf8')) }
  }

  /** v3's edit: a port the server cannot listen on, so its container exits and restarts. */
  const breakPort = (env: string): string => env.replace(/^APP_PORT=.*$/m, 'APP_PORT=notaport')

  /** Unpacks a release and pulls its image (before-switch); it is not switched to yet. */
  const pullRelease = async (
    version: string,
    edit: (env: string) => string = env => env,
  ): Promise<string> => {
    const { packageDir, env } = await editedRelease(version, edit)
    const id = host.addRelease({
      version,
      source: packageDir,
      sharedPaths: ['app.env'],
      files: { '.env': env },
    })
    await host.hook(id, BEFORE_SWITCH, dockerEnv())
    return id
  }

  /** Running containers as `image project`, one a line. */
  const runningContainers = async (): Promise<string[]> =>
    (await dockerCli('ps', '--format', '{{.Image}} {{.Label "com.docker.compose.project"}}'))
      .split('\n')
      .filter(Boolean)

  /** The version answers over HTTP, from the one container of the project. */
  const expectServing = async (version: string): Promise<void> => {
    await waitForVersion(app.url, version)
    expect(await runningContainers()).toEqual([`${registry.address}/go-server:${version} stack`])
  }

  it('pulls v1, v2, refuses a broken v3, then runs v2 again (automatic rollback) and v1 (by version)', async () => {
    // The host's secrets, provisioned once in shared/.
    writeFileSync(join(host.sharedDir, 'app.env'), 'API_TOKEN=s3cr3t-from-shared\n')
    const shared = host.sharedSnapshot()
    const v1 = await pullRelease('v1')
    await host.switchAndRestart(v1, RESTART, dockerEnv())
    await expectServing('v1')
    const [container] = (await dockerCli('ps', '--quiet')).split('\n')
    const env = await dockerCli('inspect', '--format', '{{json .Config.Env}}', container ?? '')
    expect(JSON.parse(env)).toContain('API_TOKEN=s3cr3t-from-shared')

    const v2 = await pullRelease('v2')
    await host.switchAndRestart(v2, RESTART, dockerEnv())
    await expectServing('v2')

    // v3's container exits and restarts while `docker-compose up -d` says all is well. Only
    // the health check can tell.
    const v3 = await pullRelease('v3', breakPort)
    await host.switchAndRestart(v3, RESTART, dockerEnv())
    await expect(waitForVersion(app.url, 'v3', { timeoutMs: 5_000 })).rejects.toThrow(
      /never answered/,
    )

    // The engine's rollback: the previous release's compose file and .env, so its image.
    await host.switchAndRestart(v2, RESTART, dockerEnv())
    await expectServing('v2')
    // A rollback by version: the same again, to v1.
    await host.switchAndRestart(v1, RESTART, dockerEnv())
    await expectServing('v1')
    expect(host.sharedSnapshot()).toEqual(shared)
  }, 600_000)

  it('through the release engine: deploys v1 and v2, rolls a broken v3 back by itself, then rolls back to v1', async () => {
    await removeContainers()
    const target = new StackHost('stack', 'production')
    writeFileSync(join(target.sharedDir, 'app.env'), 'API_TOKEN=s3cr3t-from-shared\n')
    const shared = target.sharedSnapshot()
    const engine = await EngineDriver.start(target, { PATH: SSM_PATH, ...dockerEnv() })
    /** The example's ssm-deploy inputs for this host, for a package made by build.sh. */
    const options = async (
      version: string,
      edit: (env: string) => string = env => env,
    ): Promise<RemoteOptions> => {
      const { packageDir, env } = await editedRelease(version, edit)
      return {
        mode: 'deploy',
        deployDir: target.deployDir,
        appName: 'stack',
        environment: 'production',
        version,
        ...engine.artifact(version, packageDir, { '.env': env }),
        sharedPaths: ['app.env'],
        beforeSwitch: BEFORE_SWITCH,
        restartCommand: RESTART,
        healthUrl: app.url,
        healthRetries: 5,
        healthIntervalMs: 500,
        keepReleases: 5,
        lockTimeoutMs: 60_000,
      }
    }
    try {
      expect(await engine.run(await options('v1'))).toMatchObject({ status: 'deployed' })
      await expectServing('v1')
      expect(await engine.run(await options('v2'))).toMatchObject({ status: 'deployed' })
      await expectServing('v2')
      const broken = await options('v3', breakPort)
      expect(await engine.run(broken)).toMatchObject({
        status: 'rolled-back',
        previousVersion: 'v2',
      })
      await expectServing('v2')
      const rollback: RemoteOptions = { ...(await options('v1')), mode: 'rollback' }
      delete rollback.artifactUri
      delete rollback.artifactSha256
      expect(await engine.run(rollback)).toMatchObject({ status: 'deployed', version: 'v1' })
      await expectServing('v1')
      expect(target.sharedSnapshot()).toEqual(shared)
    } finally {
      await engine.close()
      await removeContainers()
      target.cleanup()
    }
  }, 600_000)

  it('refuses a version that cannot be a Docker tag, naming it', async () => {
    const build = run(
      join(composeApp, 'build.sh'),
      ['v1+build.7', registry.address, join(host.root, 'package', 'bad')],
      { env: { PATH: SSM_PATH, HOME: host.home, ...dockerEnv() } },
    )
    await expect(build).rejects.toThrow(/version 'v1\+build\.7' is not allowed: a Docker tag/)
  })
})
