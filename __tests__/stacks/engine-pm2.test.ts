import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { RemoteOptions } from '../../packages/remote/src/index.js'
import { node24 } from '../support/run-action.js'
import {
  appsDir,
  EngineDriver,
  listenOnFreePort,
  PM2_RESTART,
  SSM_PATH,
  StackHost,
  waitForVersion,
} from '../support/stacks.js'

// The node-pm2 example's host commands through the real release engine: rendered as
// ssm-deploy renders them and run by sh as the SSM agent runs them. Issue 12's four steps:
// v1, v2, a broken v3 that the host rolls back by itself, and a rollback to v1 by version.
const nodeApi = join(appsDir, 'node-api')

describe('node-pm2 through the release engine', () => {
  let host: StackHost
  let engine: EngineDriver
  let url: string

  beforeAll(async () => {
    host = new StackHost('api')
    url = await listenOnFreePort(host)
    // node:sqlite needs Node 22.5+: the host has Node 24 first on its PATH.
    engine = await EngineDriver.start(host, { PATH: `${join(node24, '..')}:${SSM_PATH}` })
  })

  afterAll(async () => {
    await host?.asHookUser('pm2', ['kill']).catch(() => undefined)
    await engine?.close()
    host?.cleanup()
  })

  /** The example's ssm-deploy inputs for this host, for a package of node-api. */
  const options = (version: string, replaced: Record<string, string> = {}): RemoteOptions => {
    return {
      mode: 'deploy',
      deployDir: host.deployDir,
      appName: 'api',
      environment: 'develop',
      version,
      ...engine.artifact(version, nodeApi, replaced),
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

  const onlineApis = async (): Promise<number> => {
    const { stdout } = await host.asHookUser('pm2', ['jlist'])
    const list = JSON.parse(stdout) as { name: string; pm2_env: { status: string } }[]
    return list.filter(p => p.name === 'api' && p.pm2_env.status === 'online').length
  }

  it('deploys v1 and v2, rolls a broken v3 back by itself, then rolls back to v1', async () => {
    const env = readFileSync(join(host.sharedDir, '.env'))
    expect(await engine.run(options('v1'))).toMatchObject({ status: 'deployed', version: 'v1' })
    await waitForVersion(url, 'v1')
    expect(await onlineApis()).toBe(1)

    expect(await engine.run(options('v2'))).toMatchObject({ status: 'deployed', version: 'v2' })
    await waitForVersion(url, 'v2')
    expect(await onlineApis()).toBe(1)

    const broken = options('v3', { 'server.js': "throw new Error('broken v3')\n" })
    expect(await engine.run(broken)).toMatchObject({ status: 'rolled-back', previousVersion: 'v2' })
    await waitForVersion(url, 'v2')
    expect(await onlineApis()).toBe(1)

    const rollback: RemoteOptions = { ...options('v1'), mode: 'rollback' }
    delete rollback.artifactUri
    delete rollback.artifactSha256
    expect(await engine.run(rollback)).toMatchObject({ status: 'deployed', version: 'v1' })
    await waitForVersion(url, 'v1')
    expect(await onlineApis()).toBe(1)

    expect(readFileSync(join(host.sharedDir, '.env'))).toEqual(env)
    expect(readdirSync(join(host.sharedDir, 'data'))).toContain('app.db')
  }, 240_000)
})
