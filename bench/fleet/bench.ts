/**
 * Fleet benchmark: how ssm-deploy's FleetCommands follows one command on N sandbox instances,
 * against the usual hand-rolled loop of `aws ssm wait command-executed` per instance (the AWS
 * CLI's waiter: GetCommandInvocation every 5 s, giving up after 20 tries, i.e. 100 s).
 *
 *   npm run bench:fleet            N = 1, 50, 500 and the CLI loop for N = 1 and 50
 *   npm run bench:fleet -- --long  also a 110 s command: where the CLI waiter gives up
 *
 * Commands run in the sandbox's fast mode (no shell) and take a random 1–8 s, so what is
 * measured is the following, not the hosts. Detection delay = the moment FleetCommands returns
 * minus the moment the last invocation finished in the sandbox.
 */
import { SendCommandCommand, type SSMClient } from '@aws-sdk/client-ssm'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import type { Logger } from '../../packages/kit/src/index.js'
import { FleetCommands, type FleetCommand } from '../../packages/fleet/src/index.js'
import { sandboxClients, startSandbox, type Sandbox } from '../../dev/aws-sandbox/src/index.js'

const run = promisify(execFile)
const quiet: Logger = {
  info() {},
  warning() {},
  error() {},
  debug() {},
  group: async (_n, fn) => fn(),
}
/** The median of the values that exist (NaN when none does). */
const median = (values: (number | null)[]) => {
  const sorted = values.filter(v => v !== null).sort((a, b) => a - b)
  if (sorted.length === 0) return Number.NaN
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}
let seed = 7
const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31

const ssmClient = (sandbox: Sandbox): SSMClient => sandboxClients(sandbox, 3).ssm

/**
 * The delay between the last invocation of these commands finishing (per the sandbox) and
 * `noticed`; null when one had not finished yet (a waiter that gave up).
 */
function detectionDelay(sandbox: Sandbox, commandIds: Iterable<string>, noticed: number) {
  let last = 0
  for (const id of commandIds) {
    for (const invocation of sandbox.ssm.command(id)?.invocations.values() ?? []) {
      if (invocation.endedAt === undefined) return null
      last = Math.max(last, invocation.endedAt.getTime())
    }
  }
  return noticed - last
}

async function withSandbox<T>(
  n: number,
  durationMs: () => number,
  fn: (s: Sandbox) => Promise<T>,
): Promise<T> {
  const sandbox = await startSandbox({
    instances: n,
    commandMode: 'fast',
    fastHandler: () => ({ exitCode: 0, stdout: 'ok', durationMs: durationMs() }),
  })
  try {
    return await fn(sandbox)
  } finally {
    await sandbox.close()
  }
}

interface Row {
  who: string
  n: number
  sendCalls: number
  pollCallsPerRound: string
  wallMs: number
  detectionMs: number | null
}

async function oursOnce(n: number): Promise<Row> {
  const duration = 1000 + Math.floor(random() * 7000)
  return withSandbox(
    n,
    () => duration,
    async sandbox => {
      const commands = new FleetCommands(ssmClient(sandbox), quiet)
      const command: FleetCommand = {
        instanceIds: sandbox.instances.map(i => i.id),
        commands: ['deploy'],
        executionTimeoutSeconds: 600,
        deliveryTimeoutSeconds: 600,
        maxConcurrency: '100%',
        maxErrors: '0',
      }
      sandbox.faults.resetCounters()
      const started = Date.now()
      const byCommand = await commands.send(command)
      const outcomes = await commands.wait(byCommand, commands.deadlineFor(command, started))
      const noticed = Date.now()
      if (outcomes.some(o => o.verdict !== 'success')) throw new Error('an invocation failed')
      return {
        who: 'ssm-deploy (FleetCommands)',
        n,
        sendCalls: sandbox.faults.calls.SendCommand ?? 0,
        pollCallsPerRound: `${commands.stats.maxListCallsPerRound} (${commands.stats.rounds} rounds)`,
        wallMs: noticed - started,
        detectionMs: detectionDelay(sandbox, byCommand.keys(), noticed),
      }
    },
  )
}

/** The hand-rolled loop: send, then `aws ssm wait command-executed` for each instance in turn. */
async function cliLoopOnce(n: number, fixedDurationMs?: number): Promise<Row & { failed: number }> {
  const duration = fixedDurationMs ?? 1000 + Math.floor(random() * 7000)
  return withSandbox(
    n,
    () => duration,
    async sandbox => {
      const ssm = ssmClient(sandbox)
      const ids = sandbox.instances.map(i => i.id)
      sandbox.faults.resetCounters()
      const started = Date.now()
      const commandIds: string[] = []
      for (let i = 0; i < ids.length; i += 50) {
        const sent = await ssm.send(
          new SendCommandCommand({
            DocumentName: 'AWS-RunShellScript',
            InstanceIds: ids.slice(i, i + 50),
            Parameters: { commands: ['deploy'] },
          }),
        )
        commandIds.push(sent.Command?.CommandId ?? '')
      }
      let failed = 0
      for (const [index, id] of ids.entries()) {
        const commandId = commandIds[Math.floor(index / 50)] as string
        await run(
          'aws',
          ['ssm', 'wait', 'command-executed', '--command-id', commandId, '--instance-id', id],
          {
            env: { ...process.env, ...(sandbox.env as unknown as Record<string, string>) },
          },
        ).catch(() => failed++)
      }
      const noticed = Date.now()
      return {
        who: 'aws ssm wait loop',
        n,
        sendCalls: sandbox.faults.calls.SendCommand ?? 0,
        pollCallsPerRound: `${sandbox.faults.calls.GetCommandInvocation ?? 0} GetCommandInvocation in all`,
        wallMs: noticed - started,
        detectionMs: detectionDelay(sandbox, commandIds, noticed),
        failed,
      }
    },
  )
}

async function main(): Promise<void> {
  const rows: Row[] = []
  const summary: string[] = []
  for (const [n, repeats] of [
    [1, 7],
    [50, 5],
    [500, 3],
  ] as const) {
    const ours: Row[] = []
    for (let i = 0; i < repeats; i++) ours.push(await oursOnce(n))
    rows.push(...ours)
    summary.push(
      `ours N=${n}: SendCommand ${ours[0]?.sendCalls} (target ≤ ${Math.ceil(n / 50)}), ` +
        `poll calls per round ≤ ${Math.max(...ours.map(r => Number(r.pollCallsPerRound.split(' ')[0])))} (target ≤ ${Math.ceil(n / 50) + 1}), ` +
        `median wall ${median(ours.map(r => r.wallMs))} ms, median detection ${median(ours.map(r => r.detectionMs))} ms (target ≤ 1000)`,
    )
  }
  for (const [n, repeats] of [
    [1, 3],
    [50, 1],
  ] as const) {
    const cli: Row[] = []
    for (let i = 0; i < repeats; i++) cli.push(await cliLoopOnce(n))
    rows.push(...cli)
    summary.push(
      `aws ssm wait loop N=${n}: median wall ${median(cli.map(r => r.wallMs))} ms, median detection ${median(cli.map(r => r.detectionMs))} ms`,
    )
  }
  if (process.argv.includes('--long')) {
    const long = await cliLoopOnce(1, 110_000)
    rows.push(long)
    summary.push(
      `aws ssm wait loop, 110 s command: the waiter ${long.failed ? `gave up (failed) after ${long.wallMs} ms` : 'finished'}`,
    )
    const oursLong = await withSandbox(
      1,
      () => 110_000,
      async sandbox => {
        const commands = new FleetCommands(ssmClient(sandbox), quiet)
        const command: FleetCommand = {
          instanceIds: [sandbox.instances[0]!.id],
          commands: ['deploy'],
          executionTimeoutSeconds: 600,
          deliveryTimeoutSeconds: 600,
          maxConcurrency: '1',
          maxErrors: '0',
        }
        const started = Date.now()
        const outcomes = await commands.wait(
          await commands.send(command),
          commands.deadlineFor(command, started),
        )
        return `${outcomes[0]?.verdict} after ${Date.now() - started} ms`
      },
    )
    summary.push(`ssm-deploy (FleetCommands), 110 s command: ${oursLong}`)
  }
  console.table(rows)
  console.log(summary.join('\n'))
}

await main()
