import type { ActionDeps, OutputValues } from '../../packages/github/src/index.js'
import { workflowRunUrlIfValid } from '../../packages/github/src/index.js'
import { errorMessage } from '../../packages/kit/src/index.js'
import {
  deploymentState,
  notificationBody,
  renderSummary,
} from '../../packages/report/src/index.js'
import { recordDeployment } from './deployment.js'
import type { SummaryInputs } from './inputs.js'
import { postNotification } from './notify.js'

/** The summary written, and why recording the GitHub Deployment failed, if it did. */
export interface SummaryResult {
  markdown: string
  deploymentError?: unknown
  /** Why `notify-webhook` could not be used (not a failed post: that is a warning). */
  notifyError?: unknown
}

/**
 * Writes the job summary, records the GitHub Deployment when asked, then posts the webhook
 * notification. The webhook URL is masked before anything is logged.
 */
export async function run(inputs: SummaryInputs, deps: ActionDeps): Promise<SummaryResult> {
  for (const secret of inputs.webhookSecrets) deps.setSecret(secret)
  const result = await summarize(inputs, deps)
  const notified = await notify(inputs, deps)
  // The step fails with the Deployment's error; this one must not be lost behind it.
  if (result.deploymentError !== undefined && notified.notifyError !== undefined)
    deps.logger.error(errorMessage(notified.notifyError))
  return { ...result, ...notified }
}

/**
 * Writes the job summary, then records the GitHub Deployment when asked. A malformed
 * GITHUB_* variable only leaves the run link out: the summary runs after failures.
 */
async function summarize(inputs: SummaryInputs, deps: ActionDeps): Promise<SummaryResult> {
  const { logger, env } = deps
  for (const warning of inputs.warnings) logger.warning(warning)
  const runUrl = workflowRunUrlIfValid(env)
  const markdown = renderSummary({ ...inputs.summary, runUrl })
  await deps.appendSummary(markdown)
  if (inputs.deploymentError !== undefined)
    return { markdown, deploymentError: inputs.deploymentError }
  if (inputs.deployment === undefined) return { markdown }
  try {
    const { token, environment, environmentUrl } = inputs.deployment
    const status = inputs.summary.status
    const state = deploymentState(status)
    const id = await recordDeployment(token, {
      environment,
      sha: env.GITHUB_SHA ?? '',
      state,
      description: `${status ?? 'unknown'}: ${inputs.summary.version ?? 'no version'}`,
      environmentUrl,
      logUrl: runUrl,
    })
    logger.info(`Recorded GitHub Deployment ${id} for '${environment}' as ${state}.`)
    return { markdown }
  } catch (error) {
    return { markdown, deploymentError: error }
  }
}

/**
 * Posts the notification when `notify-webhook` is set. A post that fails is a warning naming
 * the HTTP status or the network error, never the URL; it never fails the step.
 */
async function notify(
  inputs: SummaryInputs,
  deps: ActionDeps,
): Promise<Pick<SummaryResult, 'notifyError'>> {
  if (inputs.notifyError !== undefined) return { notifyError: inputs.notifyError }
  if (inputs.notify === undefined) return {}
  const body = notificationBody({
    ...inputs.summary,
    appName: inputs.notify.appName,
    runUrl: workflowRunUrlIfValid(deps.env),
  })
  const outcome = await postNotification(inputs.notify.webhook, body, { sleep: deps.sleep })
  const tries = outcome.attempts === 1 ? '' : ` (${outcome.attempts} attempts)`
  if (outcome.delivered) {
    deps.logger.info(`Posted the notification to the webhook: HTTP ${outcome.status}${tries}.`)
  } else {
    deps.logger.warning(
      `input 'notify-webhook': the notification was not delivered: ${outcome.problem}${tries}. ` +
        "The deploy's result is unchanged.",
    )
  }
  return {}
}

/** The action's outputs, by their action.yml names. */
export function outputs({ markdown }: SummaryResult): OutputValues {
  return { markdown }
}

/**
 * A GitHub Deployment that could not be recorded, or a `notify-webhook` that cannot be used,
 * fails the step, after the summary.
 */
export function failure({ deploymentError, notifyError }: SummaryResult): unknown {
  return deploymentError ?? notifyError
}
