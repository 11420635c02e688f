import { ReportedFailure, describeValue } from '../../packages/kit/src/index.js'
import type { AwsActionDeps, OutputValues } from '../../packages/github/src/index.js'
import {
  FleetCommands,
  FleetDeploy,
  TargetGroupGate,
  type DeployReport,
  type WaveGate,
} from '../../packages/fleet/src/index.js'
import { renderCommands, type RemoteOptions } from '../../packages/remote/src/index.js'
import {
  s3Uri,
  storeEngineScript,
  type EngineScriptRef,
} from '../../packages/release-store/src/index.js'
import { instanceResultsToJson, waveResultsToJson } from '../shared/results-json.js'
import { bakeGate } from './bake.js'
import type { SsmDeployInputs } from './inputs.js'

/** What ssm-deploy did: the fleet's report, whether the workflow was cancelled, the stored engine. */
export interface SsmDeployResult {
  report: DeployReport
  cancelled: boolean
  /** With `record-engine`: the engine stored for the hosts that converge later. */
  engine?: EngineScriptRef
}

/**
 * The engine a host runs to converge to this release: the deploy's own options in deploy mode
 * (a new host has nothing to roll back to, so a rollback run stores the deploy of the version
 * it goes back to), allowed to go down in version, since the desired release is what a host
 * must run whatever it runs now.
 */
export function convergeEngineScript(remote: RemoteOptions): string {
  return `${renderCommands({ ...remote, mode: 'deploy', allowDowngrade: true }).join('\n')}\n`
}

/** Deploys (or rolls back) the fleet; a cancelled workflow cancels the SSM command(s). */
export async function run(inputs: SsmDeployInputs, deps: AwsActionDeps): Promise<SsmDeployResult> {
  const { deploy: options } = inputs
  const { instanceIds: ids, remote } = options
  const { logger } = deps
  const aws = await deps.awsClients({ component: 'ssm-deploy', aws: inputs.aws })

  // A cancelled workflow sends SIGINT, then SIGTERM: stop waiting at once and cancel the commands.
  const stop = new AbortController()
  const interruptibleSleep = (ms: number) =>
    Promise.race([
      deps.sleep(ms),
      new Promise<void>(resolve =>
        stop.signal.addEventListener('abort', () => resolve(), { once: true }),
      ),
    ])
  // The SDK is loaded here, not at start-up: a step that fails on its inputs never loads it.
  const { EC2Client } = await import('@aws-sdk/client-ec2')
  const { SSMClient } = await import('@aws-sdk/client-ssm')
  const gates: WaveGate[] = []
  if (inputs.loadBalancer !== undefined) {
    const { ElasticLoadBalancingV2Client } =
      await import('@aws-sdk/client-elastic-load-balancing-v2')
    const gate = new TargetGroupGate(aws.client(ElasticLoadBalancingV2Client), logger, {
      ...inputs.loadBalancer,
      sleep: deps.sleep,
    })
    // A target group that is missing or not of type instance fails the step before any change.
    await gate.prepare()
    gates.push(gate)
  }
  let engine: EngineScriptRef | undefined
  if (inputs.recordEngine !== undefined) {
    const { S3Client } = await import('@aws-sdk/client-s3')
    engine = await storeEngineScript(aws.client(S3Client), {
      ...inputs.recordEngine,
      script: convergeEngineScript(remote),
    })
    logger.info(
      `stored the engine of ${remote.version} for hosts that converge later: ${s3Uri(inputs.recordEngine.bucket, engine.key)}`,
    )
  }
  const ssm = aws.client(SSMClient)
  const commands = new FleetCommands(ssm, logger, { sleep: interruptibleSleep })
  const fleet = new FleetDeploy(commands, logger, aws.client(EC2Client))
  const bake = bakeGate(
    {
      bakeTimeMs: inputs.bakeTimeMs,
      remote,
      attemptTimeoutMs: options.executionTimeoutSeconds * 1000,
      makeCommands: () => new FleetCommands(ssm, logger, { sleep: interruptibleSleep }),
      sleep: interruptibleSleep,
    },
    logger,
  )
  deps.onCancel(signal => {
    logger.warning(`Received ${signal}: cancelling the SSM command(s)…`)
    fleet.cancel()
    stop.abort()
  })

  logger.info(
    `${remote.mode === 'rollback' ? 'Rolling back' : 'Deploying'} ${remote.version ?? '(previous release)'} to ${ids.length} instance(s) ` +
      `in ${remote.deployDir}, max-concurrency ${options.maxConcurrency}, max-errors ${options.maxErrors}` +
      `${options.waves ? `, waves ${options.waves}` : ''}, on-failure ${options.onFailure ?? 'stop'}`,
  )
  const report = await fleet.run(
    // The load balancer takes a wave back (registered, healthy) before the bake checks it.
    { ...options, gates: [...(options.gates ?? []), ...gates, ...(bake ? [bake] : [])] },
    (_id, title, output) => deps.printFenced(title, output),
  )
  for (const result of report.results) {
    const line =
      `${result.instanceId}${result.name ? ` (${result.name})` : ''}: ${result.status}` +
      `${result.previousVersion || result.version ? `, ${result.previousVersion || '∅'} → ${result.version || '∅'}` : ''}` +
      `${result.reason ? ` — ${result.reason}` : ''}`
    if (result.status === 'success') logger.info(line)
    else logger.error(line)
    for (const warning of result.warnings) logger.warning(`${result.instanceId}: ${warning}`)
  }
  return { report, cancelled: stop.signal.aborted, ...(engine ? { engine } : {}) }
}

/** The action's outputs, by their action.yml names. */
export function outputs({ report, engine }: SsmDeployResult): OutputValues {
  return {
    'command-id': report.commandIds[0] ?? '',
    'command-ids': report.commandIds,
    status: report.status,
    results: instanceResultsToJson(report.results),
    succeeded: report.succeeded,
    failed: report.failed,
    'rolled-back': report.rolledBack,
    untouched: report.untouched,
    'previous-version': report.previousVersion,
    waves: waveResultsToJson(report.waves),
    'engine-key': engine?.key ?? '',
    'engine-sha256': engine?.sha256 ?? '',
  }
}

/** What a deploy that failed before reporting on any host says: nothing was deployed. */
export const OUTPUTS_ON_FAILURE = outputs({
  report: {
    commandIds: [],
    status: 'failed',
    results: [],
    succeeded: 0,
    failed: 0,
    rolledBack: 0,
    untouched: 0,
    previousVersion: '',
    interrupted: [],
    waves: [],
    revertFailed: [],
  },
  cancelled: false,
})

/** A cancelled run or any host that did not deploy fails the step, after the outputs. */
export function failure({ report, cancelled }: SsmDeployResult): Error | undefined {
  if (cancelled) {
    return new ReportedFailure(
      `cancelled: the SSM command was cancelled${report.interrupted.length > 0 ? `; mid-deploy on ${report.interrupted.join(', ')}` : ''}`,
    )
  }
  if (report.status === 'success') return undefined
  const bad = report.results.filter(r => r.status !== 'success')
  const human =
    report.revertFailed.length > 0
      ? `; switching back failed on ${report.revertFailed.join(', ')}: a human is needed there`
      : ''
  return new ReportedFailure(
    `deploy ${report.status}: ${bad.length} of ${report.results.length} instance(s) did not deploy${human} ` +
      `(${bad.map(r => `${r.instanceId}: ${describeValue(r.reason || r.status)}`).join('; ')})`,
  )
}
