import { describe, expect, it } from '@jest/globals'
import { SendCommandCommand } from '@aws-sdk/client-ssm'
import { randomBytes } from 'node:crypto'
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { sandboxClients, startSandbox } from '../../dev/aws-sandbox/src/index.js'
import { evalTypescriptModule, node24, repoRoot } from '../support/bundled-action.js'

// Closing a sandbox leaves nothing behind: no process any instance started (services that
// left the command's process group included), no directory on the machine.

/** True while `pid` runs (a zombie waiting for its parent counts as gone). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return false
  }
}

describe('sandbox close', () => {
  it('kills the services that left their process group and removes every dir it made', async () => {
    // A parent that does not exist on this machine, so only the sandbox could create it.
    const top = `/srv/ec2d-teardown-${randomBytes(6).toString('hex')}`
    const deployDir = `${top}/app`
    const sandbox = await startSandbox({ instances: 2, privateDirs: [deployDir] })
    const root = sandbox.fleet.rootDir
    let pids: number[] = []
    try {
      const { ssm } = sandboxClients(sandbox)
      const sent = await ssm.send(
        new SendCommandCommand({
          DocumentName: 'AWS-RunShellScript',
          InstanceIds: sandbox.instances.map(instance => instance.id),
          Parameters: {
            commands: [
              // What service scripts do: a new session, and a double fork that re-parents.
              `setsid sh -c 'echo $$ > ${deployDir}/session.pid; exec sleep 300' </dev/null >/dev/null 2>&1 &`,
              `(sh -c 'echo $$ > ${deployDir}/orphan.pid; exec sleep 300' </dev/null >/dev/null 2>&1 &)`,
              `while [ ! -s ${deployDir}/session.pid ] || [ ! -s ${deployDir}/orphan.pid ]; do sleep 0.05; done`,
            ],
          },
        }),
      )
      const done = await sandbox.ssm.whenDone(sent.Command?.CommandId ?? '')
      expect(sandbox.ssm.commandStatus(done).status).toBe('Success')
      pids = sandbox.instances.flatMap(instance =>
        ['session.pid', 'orphan.pid'].map(file =>
          Number(readFileSync(join(instance.dir, 'root', deployDir, file), 'utf8')),
        ),
      )
      expect(pids).toHaveLength(4)
      expect(pids.filter(alive)).toEqual(pids)
      // The deploy dir lives in each instance's tree; the machine's /srv never had it.
      expect(existsSync(top)).toBe(false)
    } finally {
      await sandbox.close()
    }
    expect(pids.filter(alive)).toEqual([])
    expect(existsSync(top)).toBe(false)
    expect(existsSync(root)).toBe(false)
  })

  it('happens to its processes when the process that started it exits without closing it', () => {
    // A test that crashes or calls process.exit never reaches its afterAll.
    const script = `
      const { runScript, startSandbox } = await import('./dev/aws-sandbox/src/index.ts')
      const sandbox = await startSandbox({ instances: 1 })
      const instance = sandbox.instances[0]
      await runScript({
        instance,
        commandId: 'exit-test',
        commands: [
          "setsid sh -c 'echo $$ > service.pid; exec sleep 300' </dev/null >/dev/null 2>&1 &",
          'while [ ! -s service.pid ]; do sleep 0.05; done',
        ],
        workingDirectory: instance.dir,
        env: { PATH: process.env.PATH },
        readLimits: { stdout: 100, stderr: 100 },
      }).done
      const { readFileSync } = await import('node:fs')
      console.log(JSON.stringify({ root: sandbox.fleet.rootDir, pid: Number(readFileSync(instance.dir + '/service.pid', 'utf8')) }))
      process.exit(0)
    `
    const run = spawnSync(node24, evalTypescriptModule(script), {
      cwd: repoRoot,
      encoding: 'utf8',
      env: { ...process.env, NODE_OPTIONS: '' },
    })
    const { root, pid } = JSON.parse(run.stdout) as { root: string; pid: number }
    rmSync(root, { recursive: true, force: true })
    expect(run.status).toBe(0)
    expect(pid).toBeGreaterThan(0)
    const survived = alive(pid)
    if (survived) process.kill(pid, 'SIGKILL')
    expect(survived).toBe(false)
  })
})
