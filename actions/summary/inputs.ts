import {
  ConfigurationError,
  Inputs,
  VERSION_RULE,
  describeValue,
  envInputSource,
  fitsRule,
  type InputSource,
} from '../../packages/kit/src/index.js'
import type { RollbackVersion, SummaryInput } from '../../packages/report/src/index.js'
import {
  healthResultFromJson,
  instanceResultFromJson,
  rollbackVersionFromJson,
  waveResultFromJson,
} from '../shared/results-json.js'
import { readNotifyWebhook, webhookSecrets, type NotifyWebhook } from './notify.js'

/**
 * summary's inputs. The summary runs after failures (`if: always()`) and must still be
 * written: a broken value is a warning, and a bad GitHub Deployment input fails the step
 * only after the summary is written.
 */
export interface SummaryInputs {
  /**
   * What the summary shows: `status`, `mode`, `environment`, `version`, `previous-version`,
   * `artifact-uri`, `artifact-sha256`, `artifact-size`, `deploy-results`, `health-results`,
   * `command-id`, `aws-region` (default AWS_REGION, else AWS_DEFAULT_REGION),
   * `rollback-workflow`, `waves` and `rollback-versions`; the run URL is added when it runs.
   */
  summary: Omit<SummaryInput, 'runUrl'>
  /** Warnings about inputs that were left out of the summary. */
  warnings: string[]
  /** With `create-deployment: true`: the `token`, `environment` and `environment-url`. */
  deployment?: { token: string; environment: string; environmentUrl: string | undefined }
  /** Why the GitHub Deployment cannot be recorded: thrown after the summary is written. */
  deploymentError?: unknown
  /** `notify-webhook` in every form it could be logged in: masked before anything else. */
  webhookSecrets: string[]
  /** With `notify-webhook`: where to post, and `app-name` for the message. */
  notify?: { webhook: NotifyWebhook; appName: string | undefined }
  /** Why `notify-webhook` cannot be used: thrown after the summary is written. */
  notifyError?: unknown
}

/**
 * The defaults of summary's inputs by name, as action.yml declares them (`token`'s,
 * `${{ github.token }}`, is the runner's to fill in).
 */
export const INPUT_DEFAULTS = { mode: 'deploy', 'create-deployment': false } as const

/** A JSON array input, or undefined with a warning naming the input when it is broken. */
function jsonArray(inputs: Inputs, name: string, warnings: string[]): object[] | undefined {
  const raw = inputs.optional(name)
  if (raw === undefined) return undefined
  try {
    const parsed: unknown = JSON.parse(raw)
    if (Array.isArray(parsed))
      return parsed.filter((item): item is object => typeof item === 'object' && item !== null)
  } catch {
    // reported below
  }
  warnings.push(
    `input '${name}': ${describeValue(raw)} is not a JSON array; it is left out of the summary`,
  )
  return undefined
}

/** record-release's or s3-upload's `rollback-versions`; an entry whose version the suite refuses is a warning. */
function rollbackVersions(inputs: Inputs, warnings: string[]): RollbackVersion[] | undefined {
  return jsonArray(inputs, 'rollback-versions', warnings)
    ?.map(rollbackVersionFromJson)
    .filter(({ version }) => {
      if (typeof version === 'string' && fitsRule(version, VERSION_RULE)) return true
      const shown = typeof version === 'string' ? describeValue(version) : 'missing'
      warnings.push(
        `input 'rollback-versions': version ${shown} is not valid: ${VERSION_RULE.rule}; it is left out of the summary`,
      )
      return false
    })
}

/** `deploy` or `rollback`; anything else is a warning, read as deploy. */
function summaryMode(inputs: Inputs, warnings: string[]): 'deploy' | 'rollback' {
  const mode = inputs.string('mode', INPUT_DEFAULTS.mode)
  if (mode === 'deploy' || mode === 'rollback') return mode
  warnings.push(
    `input 'mode': ${describeValue(mode)} is not valid: use 'deploy' or 'rollback'; the summary reads it as deploy`,
  )
  return 'deploy'
}

function readDeployment(inputs: Inputs): SummaryInputs['deployment'] {
  if (!inputs.boolean('create-deployment', INPUT_DEFAULTS['create-deployment'])) return undefined
  const token = inputs.optional('token')
  if (!token)
    throw new ConfigurationError("input 'create-deployment' is true but input 'token' is empty")
  const environment = inputs.optional('environment')
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
  return { token, environment, environmentUrl }
}

/** Reads every input; never throws (see {@link SummaryInputs}). */
export function getInputs(
  source: InputSource = envInputSource(),
  env: NodeJS.ProcessEnv = process.env,
): SummaryInputs {
  const inputs = new Inputs(source)
  const warnings: string[] = []
  const size = inputs.optional('artifact-size')
  const summary = {
    status: inputs.optional('status'),
    mode: summaryMode(inputs, warnings),
    environment: inputs.optional('environment'),
    version: inputs.optional('version'),
    previousVersion: inputs.optional('previous-version'),
    artifactUri: inputs.optional('artifact-uri'),
    artifactSha256: inputs.optional('artifact-sha256'),
    artifactSize: size !== undefined && /^\d+$/.test(size) ? Number(size) : undefined,
    deployResults: jsonArray(inputs, 'deploy-results', warnings)?.map(instanceResultFromJson),
    healthResults: jsonArray(inputs, 'health-results', warnings)?.map(healthResultFromJson),
    commandId: inputs.optional('command-id'),
    region: inputs.optional('aws-region') ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION,
    rollbackWorkflow: inputs.optional('rollback-workflow'),
    waves: jsonArray(inputs, 'waves', warnings)?.map(waveResultFromJson),
    rollbackVersions: rollbackVersions(inputs, warnings),
  }
  let deploymentPart: Pick<SummaryInputs, 'deployment' | 'deploymentError'>
  try {
    const deployment = readDeployment(inputs)
    deploymentPart = deployment ? { deployment } : {}
  } catch (error) {
    deploymentPart = { deploymentError: error }
  }
  return { summary, warnings, ...deploymentPart, ...readNotify(inputs) }
}

/** `notify-webhook` and `app-name`; a webhook that cannot be used is an error kept for later. */
function readNotify(
  inputs: Inputs,
): Pick<SummaryInputs, 'webhookSecrets' | 'notify' | 'notifyError'> {
  const raw = inputs.optional('notify-webhook')
  const appName = inputs.optional('app-name')
  if (raw === undefined) return { webhookSecrets: [] }
  try {
    return {
      webhookSecrets: webhookSecrets(raw),
      notify: { webhook: readNotifyWebhook(raw), appName },
    }
  } catch (error) {
    return { webhookSecrets: webhookSecrets(raw), notifyError: error }
  }
}
