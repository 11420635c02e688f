import { ReportedFailure } from '../../packages/kit/src/index.js'
import type { AwsActionDeps, OutputValues } from '../../packages/github/src/index.js'
import { FleetCommands, FleetDeploy, type DeployReport } from '../../packages/fleet/src/index.js'
import { checkUrls, checkViaSsm, type CheckReport } from '../../packages/health/src/index.js'
import { healthResultsToJson, instanceResultsToJson } from '../shared/results-json.js'
import type { VerifyHealthInputs } from './inputs.js'

/** What verify-health found, and the rollback it ran when the check failed. */
export interface VerifyHealthResult {
  check: CheckReport
  rollback?: DeployReport
  /** The rollback threw (a bug or an outage): the step fails with it, after the check's outputs. */
  rollbackError?: unknown
}

/** Checks the release, and rolls the hosts back while it stays unhealthy when asked to. */
export async function run(
  inputs: VerifyHealthInputs,
  deps: AwsActionDeps,
): Promise<VerifyHealthResult> {
  const { logger } = deps
  const aws = inputs.aws && (await deps.awsClients({ component: 'verify-health', aws: inputs.aws }))
  // The SDK is loaded here, when needed: a step that fails on its inputs never loads it.
  const ssm = aws && aws.client((await import('@aws-sdk/client-ssm')).SSMClient)
  const makeCommands = () => new FleetCommands(ssm as NonNullable<typeof ssm>, logger)

  const check: CheckReport = inputs.http
    ? await checkUrls({ ...inputs.http, ...inputs.timing }, logger)
    : await checkViaSsm(
        makeCommands,
        { ...(inputs.ssm as NonNullable<VerifyHealthInputs['ssm']>), ...inputs.timing },
        logger,
      )
  if (check.healthy) {
    logger.info(`Healthy: ${check.results.length} target(s) after ${check.durationMs} ms.`)
    return { check }
  }
  if (!inputs.rollback) return { check }
  logger.warning(
    `Unhealthy (${unhealthy(check).join('; ')}): rolling back ${inputs.rollback.instanceIds.length} instance(s).`,
  )
  try {
    const fleet = new FleetDeploy(makeCommands(), logger)
    const rollback = await fleet.run(inputs.rollback, (_id, title, output) =>
      deps.printFenced(title, output),
    )
    return { check, rollback }
  } catch (error) {
    return { check, rollbackError: error }
  }
}

function unhealthy(check: CheckReport): string[] {
  return check.results.filter(r => !r.healthy).map(r => `${r.target}: ${r.detail}`)
}

/** The action's outputs, by their action.yml names. */
export function outputs({ check, rollback }: VerifyHealthResult): OutputValues {
  return {
    healthy: check.healthy,
    attempts: check.attempts,
    'duration-ms': check.durationMs,
    results: healthResultsToJson(check.results),
    'rolled-back': rollback?.status === 'success',
    'rollback-status': rollback?.status ?? '',
    'rollback-results': rollback ? instanceResultsToJson(rollback.results) : '',
  }
}

/** What a check that failed before it could judge anything says. */
export const OUTPUTS_ON_FAILURE = outputs({
  check: { healthy: false, attempts: 0, durationMs: 0, results: [] },
})

/** Unhealthy fails the step, rolled back or not; the message says which. */
export function failure({ check, rollback, rollbackError }: VerifyHealthResult): unknown {
  if (rollbackError !== undefined) return rollbackError
  if (check.healthy) return undefined
  const problems = unhealthy(check).join('; ')
  if (!rollback) return new ReportedFailure(`unhealthy: ${problems}`)
  return new ReportedFailure(
    rollback.status === 'success'
      ? `unhealthy, rolled back: every instance serves its previous release again (${problems})`
      : `unhealthy, rollback failed (${rollback.status}): a human is needed; ${rollback.results
          .filter(r => r.status !== 'success')
          .map(r => `${r.instanceId}: ${r.reason}`)
          .join('; ')}`,
  )
}
