import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  appsDir,
  healthEndpoint,
  run,
  SSM_PATH,
  startSupervisord,
  waitForHealth,
} from '../support/stacks.js'

// Where each example app takes the version it reports: the version= line of REVISION in its own
// release (as the engine writes it), else DEPLOY_VERSION. Each app runs straight from a
// release dir here, without a service manager.
describe('the version an example app reports', () => {
  let dir: string
  let goBinary: string

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'stack-apps-'))
    goBinary = join(dir, 'go-server')
    // The runner's environment: its HOME holds Go's build cache.
    await run('go', ['build', '-o', goBinary, './cmd/server'], {
      cwd: join(appsDir, 'go-server'),
      timeoutMs: 300_000,
    })
  }, 300_000)
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  /** A release dir of the app with an optional REVISION. */
  const release = (name: string, app: 'node-api' | 'go-server', revision?: string): string => {
    const releaseDir = join(dir, name)
    if (app === 'node-api') cpSync(join(appsDir, 'node-api'), releaseDir, { recursive: true })
    else cpSync(goBinary, join(releaseDir, 'server'))
    if (revision !== undefined) writeFileSync(join(releaseDir, 'REVISION'), revision)
    return releaseDir
  }

  /** Starts the app of releaseDir, waits for /health, stops it, and returns the version. */
  const reportedVersion = async (
    app: 'node-api' | 'go-server',
    releaseDir: string,
    deployVersion: string,
  ): Promise<string> => {
    const { port, url } = await healthEndpoint()
    const env = { PATH: SSM_PATH, DEPLOY_VERSION: deployVersion, PORT: String(port) }
    const child: ChildProcess =
      app === 'node-api'
        ? spawn('node', ['server.js'], { cwd: releaseDir, env, stdio: 'ignore' })
        : spawn(join(releaseDir, 'server'), ['-plain', '-addr', `127.0.0.1:${port}`], {
            cwd: dir, // not the release: the binary finds REVISION beside itself
            env,
            stdio: 'ignore',
          })
    try {
      return (await waitForHealth(url, () => true)).version
    } finally {
      const exited = once(child, 'exit')
      child.kill('SIGTERM')
      await exited
    }
  }

  it("go-server: the version in the engine's .deploy-release.json, when there is no REVISION", async () => {
    const releaseDir = release('go-server-record', 'go-server')
    writeFileSync(join(releaseDir, '.deploy-release.json'), '{"app":"x","version":"v5.0.0"}\n')
    expect(await reportedVersion('go-server', releaseDir, 'v9.9.9')).toBe('v5.0.0')
  })

  for (const app of ['node-api', 'go-server'] as const) {
    it(`${app}: REVISION's version= line, over DEPLOY_VERSION`, async () => {
      const releaseDir = release(
        `${app}-revision`,
        app,
        'version=v1.2.3\ncommit=0123abc\ntime=2026-12-01T10:00:00Z\nenvironment=prod\n',
      )
      expect(await reportedVersion(app, releaseDir, 'v9.9.9')).toBe('v1.2.3')
    })

    it(`${app}: DEPLOY_VERSION when the release has no REVISION`, async () => {
      const releaseDir = release(`${app}-no-revision`, app)
      expect(await reportedVersion(app, releaseDir, 'v9.9.9')).toBe('v9.9.9')
    })
  }
})

describe('test daemons', () => {
  it('a daemon that exits before it is ready fails the start with its log', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stack-daemon-'))
    try {
      // supervisord refuses a program without a command, and exits.
      await expect(startSupervisord(dir, '[program:broken]\n')).rejects.toThrow(
        /supervisord to be ready: it exited[\s\S]*program section program:broken does not specify a command/,
      )
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
