import { ReportedFailure, Inputs, describeValue, sleep } from '../../packages/kit/src/index.js'
import {
  printFenced,
  runAction,
  runnerLogger,
  setOutputs,
  awsClientsFromInputs,
} from '../../packages/github/src/index.js'
import {
  FleetCommands,
  FleetDeploy,
  readFleetDeployOptions,
} from '../../packages/fleet/src/index.js'
import { instanceResultsToJson } from '../shared/results-json.js'

/** What a deploy that failed before reporting on any host says: nothing was deployed. */
const NOTHING_DEPLOYED = {
  'command-id': '',
  'command-ids': [],
  status: 'failed',
  results: [],
  succeeded: 0,
  failed: 0,
  'rolled-back': 0,
  untouched: 0,
  'previous-version': '',
}

await runAction(
  async () => {
    const inputs = new Inputs()
    const options = readFleetDeployOptions(inputs)
    const { instanceIds: ids, remote } = options
    const aws = await awsClientsFromInputs({
      component: 'ssm-deploy',
      inputs,
      logger: runnerLogger,
    })

    // A cancelled workflow sends SIGINT, then SIGTERM: stop waiting at once and cancel the commands.
    const stop = new AbortController()
    const interruptibleSleep = (ms: number) =>
      Promise.race([
        sleep(ms),
        new Promise<void>(resolve =>
          stop.signal.addEventListener('abort', () => resolve(), { once: true }),
        ),
      ])
    // The SDK is loaded here, not at start-up: a step that fails on its inputs never loads it.
    const { EC2Client } = await import('@aws-sdk/client-ec2')
    const { SSMClient } = await import('@aws-sdk/client-ssm')
    const commands = new FleetCommands(aws.client(SSMClient), runnerLogger, {
      sleep: interruptibleSleep,
    })
    const deploy = new FleetDeploy(commands, runnerLogger, aws.client(EC2Client))
    const onSignal = (signal: string) => {
      runnerLogger.warning(`Received ${signal}: cancelling the SSM command(s)…`)
      deploy.cancel()
      stop.abort()
    }
    process.once('SIGINT', () => onSignal('SIGINT'))
    process.once('SIGTERM', () => onSignal('SIGTERM'))

    runnerLogger.info(
      `${remote.mode === 'rollback' ? 'Rolling back' : 'Deploying'} ${remote.version ?? '(previous release)'} to ${ids.length} instance(s) ` +
        `in ${remote.deployDir}, max-concurrency ${options.maxConcurrency}, max-errors ${options.maxErrors}`,
    )
    const report = await deploy.run(options, (_id, title, output) => printFenced(title, output))
    setOutputs({
      'command-id': report.commandIds[0] ?? '',
      'command-ids': report.commandIds,
      status: report.status,
      results: instanceResultsToJson(report.results),
      succeeded: report.succeeded,
      failed: report.failed,
      'rolled-back': report.rolledBack,
      untouched: report.untouched,
      'previous-version': report.previousVersion,
    })
    for (const result of report.results) {
      const line =
        `${result.instanceId}${result.name ? ` (${result.name})` : ''}: ${result.status}` +
        `${result.previousVersion || result.version ? `, ${result.previousVersion || '∅'} → ${result.version || '∅'}` : ''}` +
        `${result.reason ? ` — ${result.reason}` : ''}`
      if (result.status === 'success') runnerLogger.info(line)
      else runnerLogger.error(line)
      for (const warning of result.warnings) {
        runnerLogger.warning(`${result.instanceId}: ${warning}`)
      }
    }
    if (stop.signal.aborted) {
      throw new ReportedFailure(
        `cancelled: the SSM command was cancelled${report.interrupted.length > 0 ? `; mid-deploy on ${report.interrupted.join(', ')}` : ''}`,
      )
    }
    if (report.status !== 'success') {
      const bad = report.results.filter(r => r.status !== 'success')
      throw new ReportedFailure(
        `deploy ${report.status}: ${bad.length} of ${report.results.length} instance(s) did not deploy ` +
          `(${bad.map(r => `${r.instanceId}: ${describeValue(r.reason || r.status)}`).join('; ')})`,
      )
    }
  },
  { outputsOnFailure: NOTHING_DEPLOYED },
)
