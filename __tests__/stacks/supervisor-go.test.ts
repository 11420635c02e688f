import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdirSync, readFileSync, readlinkSync } from 'node:fs'
import { join } from 'node:path'
import {
  appsDir,
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

describe('go-server under supervisord', () => {
  let host: StackHost
  let supervisor: Supervisor
  let url: string
  let ca: string

  beforeAll(async () => {
    host = new StackHost('flutter-webrtc')
    const certs = join(host.sharedDir, 'configs', 'certs')
    ca = readFileSync((await makeCertificate(certs)).cert, 'utf8')
    const { port, url: healthUrl } = await healthEndpoint('https')
    url = healthUrl
    // The example's program, with this host's deploy dir and port, run as root.
    const program = readFileSync(join(goServer, 'deploy', 'supervisor.conf'), 'utf8')
      .replaceAll('/opt/flutter-webrtc', host.deployDir)
      .replace('0.0.0.0:8443', `127.0.0.1:${port}`)
      .replace(/^user=.*\n/m, '')
    const dir = join(host.root, 'supervisor')
    mkdirSync(dir)
    supervisor = await startSupervisord(dir, program)
  }, 60_000)

  afterAll(async () => {
    await supervisor?.stop()
    host?.cleanup()
  })

  const restart = (): string => `${supervisor.ctl} restart flutter-webrtc`

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
