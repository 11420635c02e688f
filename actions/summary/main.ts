import * as core from '@actions/core'
import { ConfigurationError, Inputs, describeValue } from '../../packages/kit/src/index.js'
import { runAction, runnerLogger, setOutputs } from '../../packages/github/src/index.js'
import { deploymentState, renderSummary } from '../../packages/report/src/index.js'
import { recordDeployment } from './deployment.js'
import { healthResultFromJson, instanceResultFromJson } from '../shared/results-json.js'

/**
 * A JSON array input, tolerated when broken: the summary runs after failures (`if: always()`)
 * and must still be written, so a bad value is a warning that names the input, not a failure.
 */
function jsonArray(inputs: Inputs, name: string): object[] | undefined {
  const raw = inputs.optional(name)
  if (raw === undefined) return undefined
  try {
    const parsed: unknown = JSON.parse(raw)
    if (Array.isArray(parsed))
      return parsed.filter((item): item is object => typeof item === 'object' && item !== null)
  } catch {
    // reported below
  }
  runnerLogger.warning(
    `input '${name}': ${describeValue(raw)} is not a JSON array; it is left out of the summary`,
  )
  return undefined
}

/** `deploy` or `rollback`; anything else is a warning (the summary must still be written). */
function summaryMode(inputs: Inputs): 'deploy' | 'rollback' {
  const mode = inputs.string('mode', 'deploy')
  if (mode === 'deploy' || mode === 'rollback') return mode
  runnerLogger.warning(
    `input 'mode': ${describeValue(mode)} is not valid: use 'deploy' or 'rollback'; the summary reads it as deploy`,
  )
  return 'deploy'
}

const {
  GITHUB_SERVER_URL: server,
  GITHUB_REPOSITORY: repository,
  GITHUB_RUN_ID: runId,
} = process.env
const runUrl =
  server && repository && runId ? `${server}/${repository}/actions/runs/${runId}` : undefined

await runAction(async () => {
  const inputs = new Inputs()
  const size = inputs.optional('artifact-size')
  const status = inputs.optional('status')
  const environment = inputs.optional('environment')
  const markdown = renderSummary({
    status,
    mode: summaryMode(inputs),
    environment,
    version: inputs.optional('version'),
    previousVersion: inputs.optional('previous-version'),
    artifactUri: inputs.optional('artifact-uri'),
    artifactSha256: inputs.optional('artifact-sha256'),
    artifactSize: size !== undefined && /^\d+$/.test(size) ? Number(size) : undefined,
    deployResults: jsonArray(inputs, 'deploy-results')?.map(instanceResultFromJson),
    healthResults: jsonArray(inputs, 'health-results')?.map(healthResultFromJson),
    commandId: inputs.optional('command-id'),
    region:
      inputs.optional('aws-region') ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION,
    rollbackWorkflow: inputs.optional('rollback-workflow'),
    runUrl,
  })
  await core.summary.addRaw(markdown, true).write()
  setOutputs({ markdown })

  if (inputs.boolean('create-deployment', false)) {
    const token = inputs.optional('token')
    if (!token)
      throw new ConfigurationError("input 'create-deployment' is true but input 'token' is empty")
    if (!environment)
      throw new ConfigurationError(
        "input 'create-deployment' is true but input 'environment' is empty",
      )
    const environmentUrl = inputs.optional('environment-url')
    if (environmentUrl !== undefined && !/^https?:\/\/[^\s<>"]+$/.test(environmentUrl)) {
      throw new ConfigurationError(
        `input 'environment-url': ${describeValue(environmentUrl)} is not valid: use an http(s) URL without spaces`,
      )
    }
    const state = deploymentState(status)
    const id = await recordDeployment(token, {
      environment,
      sha: process.env.GITHUB_SHA ?? '',
      state,
      description: `${status ?? 'unknown'}: ${inputs.string('version', 'no version')}`,
      environmentUrl,
      logUrl: runUrl,
    })
    runnerLogger.info(`Recorded GitHub Deployment ${id} for '${environment}' as ${state}.`)
  }
})
