import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdirSync, readFileSync, readlinkSync } from 'node:fs'
import { join } from 'node:path'
import type { RemoteOptions } from '../../packages/remote/src/index.js'
import {
  appsDir,
  EngineDriver,
  healthEndpoint,
  makeCertificate,
  run,
  SSM_PATH,
  StackHost,
  startSupervisord,
  waitForVersion,
  waitUntil,
  type Supervisor,
} from '../support/stacks.js'

// The flutter-webrtc example's Go server: built on the host by before-switch with the
// machine's go, serving HTTPS with the certificate in shared/configs/certs/, and restarted by a
// real supervisord (systemd cannot be the init system here).
const goServer = join(appsDir, 'go-server')
const BEFORE_SWITCH = 'go build -o server ./cmd/server'

/** A flutter-webrtc host: certificates in shared/, the example's program in a private supervisord. */
interface GoHost {
  host: StackHost
  supervisor: Supervisor
  /** The HTTPS /health URL and the certificate that verifies it. */
  url: string
  ca: string
  /** The restart-command: the example's `systemctl restart` as supervisorctl. */
  restart: string
}

async function startGoHost(): Promise<GoHost> {
  const host = new StackHost('flutter-webrtc')
  const ca = readFileSync(
    (await makeCertificate(join(host.sharedDir, 'configs', 'certs'))).cert,
    'utf8',
  )
  const { port, url } = await healthEndpoint('https')
  // The example's program, with this host's deploy dir and port, run as root.
  const program = readFileSync(join(goServer, 'deploy', 'supervisor.conf'), 'utf8')
    .replaceAll('/opt/flutter-webrtc', host.deployDir)
    .replace('0.0.0.0:8443', `127.0.0.1:${port}`)
    .replace(/^user=.*\n/m, '')
  const dir = join(host.root, 'supervisor')
  mkdirSync(dir)
  const supervisor = await startSupervisord(dir, program)
  return { host, supervisor, url, ca, restart: `${supervisor.ctl} restart flutter-webrtc` }
}

async function stopGoHost(goHost: GoHost | undefined): Promise<void> {
  await goHost?.supervisor.stop()
  goHost?.host.cleanup()
}

describe('go-server under supervisord', () => {
  let goHost: GoHost
  let host: StackHost
  let supervisor: Supervisor
  let url: string
  let ca: string

  beforeAll(async () => {
    goHost = await startGoHost()
    ;({ host, supervisor, url, ca } = goHost)
  }, 60_000)

  afterAll(() => stopGoHost(goHost))

  const restart = (): string => goHost.restart

  const runningPrograms = async (): Promise<string[]> => {
    const { stdout } = await run('bash', ['-c', `${supervisor.ctl} status || true`], {
      env: { PATH: SSM_PATH },
    })
    return stdout.split('\n').filter(line => /\bRUNNING\b/.test(line))
  }

  /** The version answers over HTTPS, from the one running server process. */
  const expectServing = async (version: string): Promise<void> => {
    await waitForVersion(url, version, { ca })
    expect(await runningPrograms()).toHaveLength(1)
    // supervisorctl restart waits for the old process to exit: only one binary runs.
    await waitUntil('one server process', () => host.processesRunningFromDeployDir().length === 1)
  }

  /** A release built by before-switch; it is not switched to yet. */
  const build = async (version: string, files: Record<string, string> = {}): Promise<string> => {
    const id = host.addRelease({
      version,
      source: goServer,
      sharedPaths: ['configs/certs/'],
      files,
    })
    await host.hook(id, BEFORE_SWITCH)
    return id
  }

  it('serves v1, v2 over HTTPS, refuses a broken v3, then v2 again (automatic rollback) and v1 (by version)', async () => {
    const shared = host.sharedSnapshot()
    const v1 = await build('v1')
    await host.switchAndRestart(v1, restart())
    await expectServing('v1')

    const v2 = await build('v2')
    await host.switchAndRestart(v2, restart())
    await expectServing('v2')
    const [pid] = host.processesRunningFromDeployDir()
    // The running binary is release 2's own, found through current when supervisord started it.
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8')).toContain(join(host.deployDir, 'current'))
    expect(readlinkSync(`/proc/${pid}/exe`)).toBe(join(host.releaseDir(v2), 'server'))

    // v3 builds but exits at once: supervisorctl restart fails, which fails the deploy.
    const v3 = await build('v3', {
      'cmd/server/main.go': 'package main\n\nfunc main() { panic("broken v3") }\n',
    })
    await expect(host.switchAndRestart(v3, restart())).rejects.toThrow(/spawn error/)

    // The engine's rollback: current back to v2, and the same restart-command there.
    await host.switchAndRestart(v2, restart())
    await expectServing('v2')
    // A rollback by version: the same again, to v1.
    await host.switchAndRestart(v1, restart())
    await expectServing('v1')
    expect(host.sharedSnapshot()).toEqual(shared)
  }, 180_000)

  it('cannot build without HOME or GOCACHE, as the SSM agent starts commands', async () => {
    const id = host.addRelease({ version: 'v9', source: goServer })
    const noHome = run('bash', ['-c', BEFORE_SWITCH], {
      cwd: host.releaseDir(id),
      env: { PATH: SSM_PATH },
    })
    await expect(noHome).rejects.toThrow(/GOCACHE is not defined/)
  })
})

// The flutter-webrtc example's host commands through the real release engine (rendered as
// ssm-deploy renders them, run by sh as the SSM agent runs them), in issue 12's four steps.
describe('flutter-webrtc through the release engine', () => {
  let goHost: GoHost
  let engine: EngineDriver

  beforeAll(async () => {
    goHost = await startGoHost()
    engine = await EngineDriver.start(goHost.host, { PATH: SSM_PATH })
  }, 60_000)

  afterAll(async () => {
    await engine?.close()
    await stopGoHost(goHost)
  })

  /** The example's ssm-deploy inputs for this host, for a package of go-server's sources. */
  const options = (version: string, replaced: Record<string, string> = {}): RemoteOptions => ({
    mode: 'deploy',
    deployDir: goHost.host.deployDir,
    appName: 'flutter-webrtc',
    environment: 'develop',
    version,
    ...engine.artifact(version, goServer, replaced),
    sharedPaths: ['configs/certs/'],
    beforeSwitch: BEFORE_SWITCH,
    restartCommand: goHost.restart,
    // The engine's health-url check trusts only the system's CAs: the self-signed
    // certificate is checked with curl --cacert instead.
    healthCommand: `curl -fsS --cacert configs/certs/server.crt ${goHost.url}`,
    healthRetries: 5,
    healthIntervalMs: 500,
    keepReleases: 5,
    lockTimeoutMs: 60_000,
  })

  const expectServing = async (version: string): Promise<void> => {
    await waitForVersion(goHost.url, version, { ca: goHost.ca })
    expect(goHost.host.processesRunningFromDeployDir()).toHaveLength(1)
  }

  it('deploys v1 and v2, rolls a broken v3 back by itself, then rolls back to v1', async () => {
    const shared = goHost.host.sharedSnapshot()
    expect(await engine.run(options('v1'))).toMatchObject({ status: 'deployed', version: 'v1' })
    await expectServing('v1')
    expect(await engine.run(options('v2'))).toMatchObject({ status: 'deployed', version: 'v2' })
    await expectServing('v2')

    const broken = options('v3', {
      'cmd/server/main.go': 'package main\n\nfunc main() { panic("broken v3") }\n',
    })
    expect(await engine.run(broken)).toMatchObject({
      status: 'rolled-back',
      previousVersion: 'v2',
      reason: expect.stringMatching(/restart-command failed/),
    })
    await expectServing('v2')

    const rollback: RemoteOptions = { ...options('v1'), mode: 'rollback' }
    delete rollback.artifactUri
    delete rollback.artifactSha256
    expect(await engine.run(rollback)).toMatchObject({ status: 'deployed', version: 'v1' })
    await expectServing('v1')
    expect(goHost.host.sharedSnapshot()).toEqual(shared)
  }, 240_000)
})
