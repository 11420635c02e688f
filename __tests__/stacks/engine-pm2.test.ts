import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { renderCommands, type RemoteOptions } from '../../packages/remote/src/index.js'
import {
  runCommands,
  startFileServer,
  writeZip,
  type FileServer,
  type ZipEntry,
} from '../remote/support/site.js'
import { node24 } from '../support/run-action.js'
import {
  appsDir,
  listenOnFreePort,
  PM2_RESTART,
  run,
  SSM_PATH,
  StackHost,
  waitForVersion,
} from '../support/stacks.js'

// The node-pm2 example's host commands through the real release engine: rendered as
// ssm-deploy renders them and run by sh as the SSM agent runs them. Issue 12's four steps:
// v1, v2, a broken v3 that the host rolls back by itself, and a rollback to v1 by version.
const nodeApi = join(appsDir, 'node-api')

/** The files of a directory as zip entries, with some replaced or added. */
function entriesOf(dir: string, replaced: Record<string, string>): ZipEntry[] {
  const entries: ZipEntry[] = []
  const walk = (path: string): void => {
    for (const name of readdirSync(path)) {
      const file = join(path, name)
      if (statSync(file).isDirectory()) walk(file)
      else entries.push({ name: relative(dir, file), content: readFileSync(file, 'utf8') })
    }
  }
  walk(dir)
  const kept = entries.filter(entry => !(entry.name in replaced))
  return [...kept, ...Object.entries(replaced).map(([name, content]) => ({ name, content }))]
}

describe('node-pm2 through the release engine', () => {
  let host: StackHost
  let files: FileServer
  let url: string
  let artifacts: string

  beforeAll(async () => {
    host = new StackHost('api')
    url = await listenOnFreePort(host)
    artifacts = join(host.root, 'artifacts')
    mkdirSync(artifacts)
    files = await startFileServer(artifacts)
  })

  afterAll(async () => {
    await run('pm2', ['kill'], { env: { PATH: SSM_PATH, HOME: host.home } }).catch(() => undefined)
    await files?.close()
    host?.cleanup()
  })

  /** The example's ssm-deploy inputs for this host, for a package of node-api. */
  const options = (version: string, replaced: Record<string, string> = {}): RemoteOptions => {
    const name = `api-${version}.zip`
    const sha = writeZip(join(artifacts, name), entriesOf(nodeApi, replaced))
    return {
      mode: 'deploy',
      deployDir: host.deployDir,
      appName: 'api',
      environment: 'develop',
      version,
      artifactUri: files.url(name),
      artifactSha256: sha,
      download: 'presigned',
      sharedPaths: ['.env', 'data/'],
      beforeSwitch: 'node migrate.js',
      restartCommand: PM2_RESTART,
      healthUrl: url,
      healthRetries: 5,
      healthIntervalMs: 500,
      keepReleases: 5,
      lockTimeoutMs: 60_000,
    }
  }

  const engine = async (opts: RemoteOptions) => {
    const run = await runCommands(renderCommands(opts), host.root, {
      // node:sqlite needs Node 22.5+: the host has Node 24 first on its PATH. HOME keeps
      // this test's pm2 daemon apart; jest's NODE_OPTIONS must not reach the host.
      env: { PATH: `${join(node24, '..')}:${SSM_PATH}`, HOME: host.home, NODE_OPTIONS: '' },
    })
    expect(run.result).toBeDefined()
    return run.result!
  }

  const onlineApis = async (): Promise<number> => {
    const { stdout } = await run('pm2', ['jlist'], { env: { PATH: SSM_PATH, HOME: host.home } })
    const list = JSON.parse(stdout) as { name: string; pm2_env: { status: string } }[]
    return list.filter(p => p.name === 'api' && p.pm2_env.status === 'online').length
  }

  it('deploys v1 and v2, rolls a broken v3 back by itself, then rolls back to v1', async () => {
    const env = readFileSync(join(host.sharedDir, '.env'))
    expect(await engine(options('v1'))).toMatchObject({ status: 'deployed', version: 'v1' })
    await waitForVersion(url, 'v1')
    expect(await onlineApis()).toBe(1)

    expect(await engine(options('v2'))).toMatchObject({ status: 'deployed', version: 'v2' })
    await waitForVersion(url, 'v2')
    expect(await onlineApis()).toBe(1)

    const broken = options('v3', { 'server.js': "throw new Error('broken v3')\n" })
    expect(await engine(broken)).toMatchObject({ status: 'rolled-back', previousVersion: 'v2' })
    await waitForVersion(url, 'v2')
    expect(await onlineApis()).toBe(1)

    const rollback: RemoteOptions = { ...options('v1'), mode: 'rollback' }
    delete rollback.artifactUri
    delete rollback.artifactSha256
    expect(await engine(rollback)).toMatchObject({ status: 'deployed', version: 'v1' })
    await waitForVersion(url, 'v1')
    expect(await onlineApis()).toBe(1)

    expect(readFileSync(join(host.sharedDir, '.env'))).toEqual(env)
    expect(readdirSync(join(host.sharedDir, 'data'))).toContain('app.db')
  }, 240_000)
})
