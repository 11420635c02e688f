import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import {
  appsDir,
  freePort,
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
  let port: number
  let url: string

  const dockerEnv = (): Record<string, string> => ({ DOCKER_HOST: docker.host })

  const dockerCli = async (...args: string[]): Promise<string> =>
    (await run('docker', args, { env: { PATH: SSM_PATH, HOME: host.home, ...dockerEnv() } })).stdout

  beforeAll(async () => {
    host = new StackHost('stack', 'production')
    docker = await startDockerd(join(host.root, 'docker'))
    const registryDir = join(host.root, 'registry')
    mkdirSync(registryDir)
    registry = await startRegistry(registryDir)
    port = await freePort()
    url = `http://127.0.0.1:${port}/health`
  }, 120_000)

  afterAll(async () => {
    // Containers first, so the daemon stops with nothing running.
    if (docker) {
      const ids = (await dockerCli('ps', '--all', '--quiet').catch(() => '')).split('\n')
      const running = ids.filter(Boolean)
      if (running.length > 0) await dockerCli('rm', '--force', ...running).catch(() => '')
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
      env: { ...process.env, APP_PORT: String(port), ...dockerEnv() },
      timeoutMs: 300_000,
    })
    // The host must pull the image from the registry: the runner's copy goes away.
    await dockerCli('rmi', `${registry.address}/go-server:${version}`)
    return packageDir
  }

  const deploy = async (version: string): Promise<string> => {
    const id = host.addRelease({ version, source: await buildRelease(version) })
    await host.hook(id, BEFORE_SWITCH, dockerEnv())
    host.switchTo(id)
    await host.hook(id, RESTART, dockerEnv())
    return id
  }

  /** Running containers as `image project`, one a line. */
  const runningContainers = async (): Promise<string[]> =>
    (await dockerCli('ps', '--format', '{{.Image}} {{.Label "com.docker.compose.project"}}'))
      .split('\n')
      .filter(Boolean)

  it('pulls each version from the registry, runs one container of it, and the old one after a switch back', async () => {
    const v1 = await deploy('v1')
    await waitForVersion(url, 'v1')
    expect(await runningContainers()).toEqual([`${registry.address}/go-server:v1 stack`])
    const shared = host.sharedSnapshot()

    await deploy('v2')
    await waitForVersion(url, 'v2')
    expect(await runningContainers()).toEqual([`${registry.address}/go-server:v2 stack`])

    // A rollback: the old release's compose file and .env bring back the old image.
    host.switchTo(v1)
    await host.hook(v1, RESTART, dockerEnv())
    await waitForVersion(url, 'v1')
    expect(await runningContainers()).toEqual([`${registry.address}/go-server:v1 stack`])
    expect(host.sharedSnapshot()).toEqual(shared)
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
