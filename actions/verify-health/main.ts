import {
  ConfigurationError,
  ReportedFailure,
  Inputs,
  renderTemplate,
} from '../../packages/kit/src/index.js'
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
  readInstanceIds,
} from '../../packages/fleet/src/index.js'
import {
  checkUrls,
  checkViaSsm,
  parseBodyExpectation,
  parseStatuses,
  parseUrls,
  parseVersionSource,
  type CheckReport,
} from '../../packages/health/src/index.js'
import { healthResultsToJson, instanceResultsToJson } from '../shared/results-json.js'

/** What a check that failed before it could judge anything says. */
const NOTHING_CHECKED = {
  healthy: false,
  attempts: 0,
  'duration-ms': 0,
  results: [],
  'rolled-back': false,
  'rollback-status': '',
  'rollback-results': '',
}

await runAction(
  async () => {
    const inputs = new Inputs()
    const via = inputs.enum('via', ['http', 'ssm'], 'http')
    const timing = {
      retries: inputs.integer('retries', 10, { min: 1, max: 1000 }),
      intervalMs: inputs.duration('interval', 3000, { minMs: 10, maxMs: 600_000 }),
      initialDelayMs: inputs.duration('initial-delay', 0, { minMs: 0, maxMs: 3_600_000 }),
      attemptTimeoutMs: inputs.duration('attempt-timeout', 10_000, {
        minMs: 100,
        maxMs: 3_600_000,
      }),
      timeoutMs: inputs.duration('timeout', 300_000, { minMs: 1000, maxMs: 86_400_000 }),
    }
    const rollbackOnFailure = inputs.boolean('rollback-on-failure', false)
    // Read everything before checking anything, so a bad input never leaves hosts half-handled.
    const rollback = rollbackOnFailure
      ? readFleetDeployOptions(inputs, 'rollback', 'rollback-timeout')
      : undefined
    const http =
      via === 'http'
        ? {
            urls: parseUrls(
              'urls',
              inputs.list('urls').map(url =>
                renderTemplate('urls', url, {
                  environment: inputs.optional('environment'),
                  app: inputs.optional('app-name'),
                }),
              ),
            ),
            expect: {
              statuses: parseStatuses('expect-status', inputs.string('expect-status', '200')),
              body: parseBodyExpectation('expect-body', inputs.optional('expect-body')),
              version: inputs.optional('expect-version'),
              versionSource: parseVersionSource(
                'version-source',
                inputs.string('version-source', 'auto'),
              ),
            },
          }
        : undefined
    if (http && http.urls.length === 0)
      throw new ConfigurationError("input 'urls' is required with via: http")
    const ssmCheck =
      via === 'ssm'
        ? { instanceIds: readInstanceIds(inputs), command: inputs.required('command') }
        : undefined
    const aws =
      via === 'ssm' || rollback
        ? await awsClientsFromInputs({ component: 'verify-health', inputs, logger: runnerLogger })
        : undefined
    // The SDK is loaded here, when needed: a step that fails on its inputs never loads it.
    const ssm = aws && aws.client((await import('@aws-sdk/client-ssm')).SSMClient)
    const makeCommands = () => new FleetCommands(ssm as NonNullable<typeof ssm>, runnerLogger)

    const report: CheckReport = http
      ? await checkUrls({ ...http, ...timing }, runnerLogger)
      : await checkViaSsm(
          makeCommands,
          { ...(ssmCheck as NonNullable<typeof ssmCheck>), ...timing },
          runnerLogger,
        )
    setOutputs({
      healthy: report.healthy,
      attempts: report.attempts,
      'duration-ms': report.durationMs,
      results: healthResultsToJson(report.results),
    })
    const unhealthy = report.results.filter(r => !r.healthy).map(r => `${r.target}: ${r.detail}`)
    if (report.healthy) {
      setOutputs({ 'rolled-back': false, 'rollback-status': '', 'rollback-results': '' })
      runnerLogger.info(
        `Healthy: ${report.results.length} target(s) after ${report.durationMs} ms.`,
      )
      return
    }
    if (!rollback) {
      setOutputs({ 'rolled-back': false, 'rollback-status': '', 'rollback-results': '' })
      throw new ReportedFailure(`unhealthy: ${unhealthy.join('; ')}`)
    }
    runnerLogger.warning(
      `Unhealthy (${unhealthy.join('; ')}): rolling back ${rollback.instanceIds.length} instance(s).`,
    )
    const deploy = new FleetDeploy(makeCommands(), runnerLogger)
    const result = await deploy.run(rollback, (_id, title, output) => printFenced(title, output))
    const rolledBack = result.status === 'success'
    setOutputs({
      'rolled-back': rolledBack,
      'rollback-status': result.status,
      'rollback-results': instanceResultsToJson(result.results),
    })
    throw new ReportedFailure(
      rolledBack
        ? `unhealthy, rolled back: every instance serves its previous release again (${unhealthy.join('; ')})`
        : `unhealthy, rollback failed (${result.status}): a human is needed; ${result.results
            .filter(r => r.status !== 'success')
            .map(r => `${r.instanceId}: ${r.reason}`)
            .join('; ')}`,
    )
  },
  { outputsOnFailure: NOTHING_CHECKED },
)
