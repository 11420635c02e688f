import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals'
import { join } from 'node:path'
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { node24 } from '../support/bundled-action.js'
import {
  appsDir,
  createUser,
  deleteUser,
  listenOnFreePort,
  PM2_RESTART,
  run,
  SSM_PATH,
  StackHost,
  waitForHealth,
  waitForVersion,
} from '../support/stacks.js'

// The node-pm2 example's Node API under real pm2 (installed globally, as on a host), with the
// hooks run as the SSM agent runs them: no HOME of their own and a minimal PATH.
const nodeApi = join(appsDir, 'node-api')
// The quick start's former restart-command, which issue 12 found serving release 1 for ever.
const QUICK_START_RESTART = 'pm2 reload api || pm2 start server.js --name api'

interface Pm2Process {
  name: string
  pid: number
  pm2_env: { status: string; pm_exec_path: string; pm_cwd: string }
}

async function pm2List(host: StackHost): Promise<Pm2Process[]> {
  return JSON.parse((await host.asHookUser('pm2', ['jlist'])).stdout) as Pm2Process[]
}

async function onlineApis(host: StackHost): Promise<Pm2Process[]> {
  return (await pm2List(host)).filter(p => p.name === 'api' && p.pm2_env.status === 'online')
}

describe('node-api under pm2', () => {
  let host: StackHost
  let url: string

  beforeAll(async () => {
    // pm2 must be on the SSM agent's PATH, where `npm install -g pm2` puts it. (Not
    // `pm2 --version`: even that starts a pm2 daemon.)
    await run('bash', ['-c', 'command -v pm2'], { env: { PATH: SSM_PATH } })
  })

  const newHost = async (): Promise<StackHost> => {
    host = new StackHost('api')
    url = await listenOnFreePort(host)
    return host
  }

  const deploy = async (
    version: string,
    restart: string,
    files: Record<string, string> = {},
  ): Promise<string> => {
    const id = host.addRelease({ version, source: nodeApi, sharedPaths: ['.env'], files })
    await host.switchAndRestart(id, restart)
    return id
  }

  afterEach(async () => {
    // pm2 kill stops the daemon of this host's HOME and every app it runs.
    await host.asHookUser('pm2', ['kill'])
    host.cleanup()
  })

  it('keeps serving release 1 with the quick start command, because pm2 stored releases/<id>/server.js', async () => {
    await newHost()
    await deploy('v1', QUICK_START_RESTART)
    const first = await waitForVersion(url, 'v1')
    const second = await deploy('v2', QUICK_START_RESTART)
    // pm2 did restart the app (a new pid answers), and the new process is release 1 again.
    const after = await waitForHealth(url, health => health.pid !== first.pid)
    expect(after.version).toBe('v1')
    const [api] = await onlineApis(host)
    expect(api?.pm2_env.pm_exec_path).not.toContain(second)
    expect(api?.pm2_env.pm_exec_path).toMatch(/releases\/[^/]+-v1\/server\.js$/)
  })
})

describe('node-api under pm2 as the run-as user', () => {
  let homes: string
  let user: string | undefined
  let host: StackHost | undefined

  beforeAll(() => {
    homes = mkdtempSync(join(tmpdir(), 'stack-homes-'))
    chmodSync(homes, 0o755)
  })
  afterEach(async () => {
    await host?.asHookUser('pm2', ['kill']).catch(() => undefined)
    if (user !== undefined) await deleteUser(user)
    host?.cleanup()
    user = host = undefined
  })
  afterAll(() => rmSync(homes, { recursive: true, force: true }))

  /** A host whose hooks run as a new user with that home, like `run-as: ubuntu`. */
  const hostForUser = async (home: string): Promise<{ host: StackHost; url: string }> => {
    user = await createUser(home)
    host = new StackHost('api', 'develop', user)
    return { host, url: await listenOnFreePort(host) }
  }

  it('keeps the pm2 daemon in the user database home that runuser sets', async () => {
    const home = join(homes, 'app')
    mkdirSync(home)
    const { host, url } = await hostForUser(home)
    await run('chown', [`${user}:`, home])
    for (const version of ['v1', 'v2']) {
      const id = host.addRelease({ version, source: nodeApi, sharedPaths: ['.env'] })
      await host.switchAndRestart(id, PM2_RESTART)
      await waitForVersion(url, version)
    }
    const daemon = readFileSync(join(home, '.pm2', 'pm2.pid'), 'utf8').trim()
    expect(statSync(`/proc/${daemon}`).uid).toBe(Number((await run('id', ['-u', user!])).stdout))
    expect((await pm2List(host)).filter(p => p.pm2_env.status === 'online')).toHaveLength(1)
  })

  it('fails the restart-command when that home does not exist', async () => {
    const home = join(homes, 'missing')
    const { host } = await hostForUser(home)
    const id = host.addRelease({ version: 'v1', source: nodeApi, sharedPaths: ['.env'] })
    await expect(host.switchAndRestart(id, PM2_RESTART)).rejects.toThrow(home)
  })
})

describe('node-api migrations on node:sqlite', () => {
  let host: StackHost
  // The example needs Node 22.5+ for node:sqlite. This machine's /usr/bin/node is older, so
  // the test's host has Node 24 first on its PATH, as a host installed for this app would.
  const hostPath = (): string => `${join(node24, '..')}:${SSM_PATH}`

  beforeAll(() => {
    host = new StackHost('api')
  })
  afterAll(() => host.cleanup())

  const migrate = (id: string): Promise<{ stdout: string }> =>
    host.hook(id, 'node migrate.js', { PATH: hostPath() })

  const appliedMigrations = async (): Promise<string[]> => {
    // python3's sqlite3 reads the database: a reader independent of node:sqlite.
    const { stdout } = await run('python3', [
      '-c',
      'import sqlite3,sys,json; c=sqlite3.connect(sys.argv[1]); ' +
        'print(json.dumps([r[0] for r in c.execute("select name from schema_migrations order by name")]))',
      join(host.sharedDir, 'data', 'app.db'),
    ])
    return JSON.parse(stdout) as string[]
  }

  it('applies each migration once, to the database in shared/, and a failed one changes nothing', async () => {
    const v1 = host.addRelease({ version: 'v1', source: nodeApi, sharedPaths: ['.env', 'data/'] })
    expect((await migrate(v1)).stdout).toContain('applied 002_items_created_at.sql')
    expect(await appliedMigrations()).toEqual(['001_create_items.sql', '002_items_created_at.sql'])

    const v2 = host.addRelease({ version: 'v2', source: nodeApi, sharedPaths: ['.env', 'data/'] })
    expect((await migrate(v2)).stdout).toContain('schema up to date (2 migrations)')
    const before = host.sharedSnapshot()

    const v3 = host.addRelease({
      version: 'v3',
      source: nodeApi,
      sharedPaths: ['.env', 'data/'],
      files: { 'migrations/003_broken.sql': 'ALTER TABLE items ADD COLUMN;\n' },
    })
    await expect(migrate(v3)).rejects.toThrow(/migration 003_broken\.sql failed/)
    expect(await appliedMigrations()).toHaveLength(2)
    expect(host.sharedSnapshot()).toEqual(before)
  })
})
