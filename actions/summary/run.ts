import type { ActionDeps, OutputValues } from '../../packages/github/src/index.js'
import { workflowRunUrlIfValid } from '../../packages/github/src/index.js'
import { deploymentState, renderSummary } from '../../packages/report/src/index.js'
import { recordDeployment } from './deployment.js'
import type { SummaryInputs } from './inputs.js'

/** The summary written, and why recording the GitHub Deployment failed, if it did. */
export interface SummaryResult {
  markdown: string
  deploymentError?: unknown
}

/**
 * Writes the job summary, then records the GitHub Deployment when asked. A malformed
 * GITHUB_* variable only leaves the run link out: the summary runs after failures.
 */
export async function run(inputs: SummaryInputs, deps: ActionDeps): Promise<SummaryResult> {
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

/** The action's outputs, by their action.yml names. */
export function outputs({ markdown }: SummaryResult): OutputValues {
  return { markdown }
}

/** A GitHub Deployment that could not be recorded fails the step, after the summary. */
export function failure({ deploymentError }: SummaryResult): unknown {
  return deploymentError
}
