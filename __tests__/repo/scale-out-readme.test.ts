// The README's scale-out snippets cannot drift from the code: the user data is exactly what
// renderBootstrap renders for the snippet's values, and the association and the by-hand run
// are run as written (bash, the AWS CLI, jq) against the sandbox, delivering that script's
// lines to the tagged instances, which run it.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import {
  DescribeAssociationCommand,
  DescribeAssociationExecutionTargetsCommand,
  DescribeAssociationExecutionsCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm'
import { bootstrapCommands, renderBootstrap } from '../../packages/remote/src/index.js'
import { sandboxClients, startSandbox, type Sandbox } from '../../dev/aws-sandbox/src/index.js'
import { cliEnv, until } from '../sandbox/helpers.js'
import { invocationOf } from '../remote/support/host-commands.js'

const run = promisify(execFile)
const VALUES = { bucket: 'my-artifacts', app: 'web', environment: 'prod' }
const NOTHING = 's3://my-artifacts/web/prod/desired.json does not exist yet: nothing to converge to'

/** The fenced blocks of the README's "Scale-out and status" section, before its subsections. */
function snippets(): { lang: string; text: string }[] {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
  const start = readme.indexOf('\n## Scale-out and status\n')
  expect(start).toBeGreaterThan(0)
  // Up to the next heading: the status and notification parts below are subsections.
  const end = readme.slice(start + 1).search(/\n###? /)
  const section = readme.slice(start, end < 0 ? undefined : start + 1 + end)
  return [...section.matchAll(/^```(\w+)\n([\s\S]*?)^```$/gm)].map(m => ({
    lang: m[1] ?? '',
    text: m[2] ?? '',
  }))
}

let sandbox: Sandbox
let ssm: SSMClient
let dir: string

beforeAll(async () => {
  sandbox = await startSandbox({
    instances: [
      { name: 'web-prod', tags: { DeployApp: 'web', DeployEnvironment: 'prod' } },
      { name: 'web-dev', tags: { DeployApp: 'web', DeployEnvironment: 'dev' } },
    ],
    s3: { buckets: ['my-artifacts'] },
    invocationVisibilityDelayMs: 0,
  })
  ssm = sandboxClients(sandbox).ssm
  dir = mkdtempSync(join(tmpdir(), 'scale-out-readme-'))
  writeFileSync(join(dir, 'bootstrap.sh'), snippets()[0]?.text ?? '')
})
afterAll(async () => {
  ssm?.destroy()
  await sandbox?.close()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

/** Runs a README shell snippet with bash, in the directory holding bootstrap.sh. */
async function runSnippet(text: string): Promise<string> {
  const { stdout } = await run('bash', ['-euc', text], {
    cwd: dir,
    env: { ...cliEnv(sandbox), AWS_DEFAULT_OUTPUT: 'json' },
  })
  return stdout
}

const prodId = () => sandbox.fleet.byName('web-prod')!.id

describe("the README's scale-out snippets", () => {
  it('are the user data that renderBootstrap renders, then an association and a by-hand run', () => {
    const blocks = snippets()
    expect(blocks.map(b => b.lang)).toEqual(['bash', 'sh', 'sh'])
    expect(blocks[0]?.text).toBe(renderBootstrap(VALUES))
    expect(blocks[1]?.text).toMatch(/^aws ssm create-association --name AWS-RunShellScript /)
    expect(blocks[1]?.text).toContain("--schedule-expression 'rate(30 minutes)'")
    expect(blocks[2]?.text).toMatch(/^aws ssm send-command --document-name AWS-RunShellScript /)
  })

  it("the association, run as written, sends the bootstrap's lines to the app's tagged hosts", async () => {
    const out = JSON.parse(await runSnippet(snippets()[1]!.text)) as {
      AssociationDescription: { AssociationId: string }
    }
    const associationId = out.AssociationDescription.AssociationId
    const described = await ssm.send(
      new DescribeAssociationCommand({ AssociationId: associationId }),
    )
    expect(described.AssociationDescription?.Parameters).toEqual({
      commands: bootstrapCommands(VALUES),
    })
    const execution = await until(async () => {
      const list = await ssm.send(
        new DescribeAssociationExecutionsCommand({ AssociationId: associationId }),
      )
      const [first] = list.AssociationExecutions ?? []
      return first && first.Status !== 'InProgress' && first.Status !== 'Pending'
        ? first
        : undefined
    }, 60_000)
    const targets = await ssm.send(
      new DescribeAssociationExecutionTargetsCommand({
        AssociationId: associationId,
        ExecutionId: execution.ExecutionId,
      }),
    )
    const [target, ...others] = targets.AssociationExecutionTargets ?? []
    expect([target?.ResourceId, target?.Status, others]).toEqual([prodId(), 'Success', []])
    const host = await invocationOf(ssm, target!.OutputSource!.OutputSourceId!, prodId())
    expect([host.code, host.stdout]).toEqual([0, `bootstrap: ${NOTHING}\n`])
  })

  it('the by-hand run, as written, runs the same bootstrap on the same hosts', async () => {
    const out = JSON.parse(await runSnippet(snippets()[2]!.text)) as {
      Command: { CommandId: string; Parameters: { commands: string[] } }
    }
    expect(out.Command.Parameters.commands).toEqual(bootstrapCommands(VALUES))
    const done = await sandbox.ssm.whenDone(out.Command.CommandId)
    expect(done.invocations.map(i => i.instance.id)).toEqual([prodId()])
    const host = await invocationOf(ssm, out.Command.CommandId, prodId())
    expect([host.code, host.stdout]).toEqual([0, `bootstrap: ${NOTHING}\n`])
  })
})
