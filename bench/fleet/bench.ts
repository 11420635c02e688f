/**
 * Fleet benchmark: how ssm-deploy's FleetCommands follows one command on N sandbox instances,
 * against the usual hand-rolled loop of `aws ssm wait command-executed` per instance (the AWS
 * CLI's waiter: GetCommandInvocation every 5 s, giving up after 20 tries, i.e. 100 s).
 *
 *   npm run bench:fleet            N = 1, 50, 500 and the CLI loop for N = 1 and 50, then a
 *                                  rollout of 500 in waves (1, 10%, 50%, 100%) by FleetDeploy
 *   npm run bench:fleet -- --long  also a 110 s command: where the CLI waiter gives up
 *   npm run bench:fleet -- --waves only the rollout in waves
 *
 * Commands run in the sandbox's fast mode (no shell) and take a random 1–8 s, so what is
 * measured is the following, not the hosts. Detection delay = the moment FleetCommands returns
 * minus the moment the last invocation finished in the sandbox; for the rollout in waves, per
 * wave: the moment the wave is judged (its gates run) minus the end of its last invocation.
 */
import { SendCommandCommand, type SSMClient } from '@aws-sdk/client-ssm'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import type { Logger } from '../../packages/kit/src/index.js'
import {
  FleetCommands,
  FleetDeploy,
  type FleetCommand,
  type WaveGate,
} from '../../packages/fleet/src/index.js'
import { RESULT_PREFIX } from '../../packages/remote/src/index.js'
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
  stdout = 'ok',
): Promise<T> {
  const sandbox = await startSandbox({
    instances: n,
    commandMode: 'fast',
    fastHandler: () => ({ exitCode: 0, stdout, durationMs: durationMs() }),
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

/** What a host engine prints when it deployed v2 over v1. */
const DEPLOYED = `${RESULT_PREFIX}${JSON.stringify({
  status: 'deployed',
  mode: 'deploy',
  'exit-code': 0,
  'previous-version': 'v1.0.0',
  version: 'v2.0.0',
  'rolled-back': false,
  'duration-ms': 1,
  phases: {},
})}\n`

interface WaveRow {
  wave: number
  hosts: number
  sendCalls: number
  maxPollCallsPerRound: number
  wallMs: number
  detectionMs: number
}

/**
 * FleetDeploy rolling out to 500 hosts in waves of 1, 10%, 50% and 100% (max-concurrency 100%),
 * each host taking a random 1–8 s: per wave, the calls it made and how soon it was judged.
 */
async function wavesOnce(n: number, spec: string): Promise<WaveRow[]> {
  return withSandbox(
    n,
    () => 1000 + Math.floor(random() * 7000),
    async sandbox => {
      const commands = new FleetCommands(ssmClient(sandbox), quiet)
      const rows: WaveRow[] = []
      let before = { sendCalls: 0, started: 0, commands: 0 }
      const meter: WaveGate = {
        name: 'meter',
        async beforeWave() {
          commands.stats.maxListCallsPerRound = 0
          before = {
            sendCalls: commands.stats.sendCalls,
            started: Date.now(),
            commands: commands.commandIds.length,
          }
          return new Map()
        },
        async afterWave(wave) {
          const judged = Date.now()
          rows.push({
            wave: wave.number,
            hosts: wave.instanceIds.length,
            sendCalls: commands.stats.sendCalls - before.sendCalls,
            maxPollCallsPerRound: commands.stats.maxListCallsPerRound,
            wallMs: judged - before.started,
            detectionMs:
              detectionDelay(sandbox, commands.commandIds.slice(before.commands), judged) ?? NaN,
          })
          return new Map()
        },
      }
      const report = await new FleetDeploy(commands, quiet).run(
        {
          instanceIds: sandbox.instances.map(i => i.id),
          remote: {
            deployDir: '/opt/app',
            version: 'v2.0.0',
            artifactUri: 's3://artifacts/app/v2.0.0.zip',
            artifactSha256: 'a'.repeat(64),
          },
          waves: spec,
          maxConcurrency: '100%',
          maxErrors: '0',
          executionTimeoutSeconds: 600,
          gates: [meter],
        },
        async () => {},
      )
      if (report.status !== 'success') throw new Error(`the rollout ended ${report.status}`)
      return rows
    },
    DEPLOYED,
  )
}

async function main(): Promise<void> {
  const rows: Row[] = []
  const summary: string[] = []
  if (process.argv.includes('--waves')) return reportWaves(summary, rows)
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
  await reportWaves(summary, rows)
}

/** The rollout in waves, after whatever rows and summary lines came before. */
async function reportWaves(summary: string[], rows: Row[]): Promise<void> {
  const waves = await wavesOnce(500, '1, 10%, 50%, 100%')
  summary.push(
    ...waves.map(
      w =>
        `ours in waves N=500 (1, 10%, 50%, 100%), wave ${w.wave} of ${w.hosts} host(s): SendCommand ${w.sendCalls} (target ≤ ${Math.ceil(w.hosts / 50)}), ` +
        `poll calls per round ≤ ${w.maxPollCallsPerRound} (target ≤ ${Math.ceil(w.hosts / 50)}), wall ${w.wallMs} ms, detection ${w.detectionMs} ms (target < 1000)`,
    ),
  )
  if (rows.length > 0) console.table(rows)
  console.table(waves)
  console.log(summary.join('\n'))
}

await main()
