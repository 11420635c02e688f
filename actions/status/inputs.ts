import {
  APP_NAME_RULE,
  ConfigurationError,
  ENVIRONMENT_RULE,
  Inputs,
  assertSafeName,
  envInputSource,
  renderTemplate,
  type InputSource,
} from '../../packages/kit/src/index.js'
import {
  AWS_INPUT_DEFAULTS,
  readAwsInputs,
  type AwsInputs,
} from '../../packages/github/src/index.js'
import type { DiscoveryOptions } from '../../packages/fleet/src/index.js'
import { validateDeployDir } from '../../packages/remote/src/index.js'
import { validateBucketName } from '../../packages/release-store/src/index.js'
import { DEPLOY_INPUT_DEFAULTS } from '../shared/deploy-inputs.js'
import { DEFAULT_STATES, readInstanceSelection } from '../shared/discovery-inputs.js'

/** Where desired.json is read: `s3://<bucket>/<app>/<environment>/desired.json`. */
export interface DesiredSource {
  bucket: string
  app: string
  environment: string
}

/** status's inputs, parsed and checked. */
export interface StatusInputs {
  /**
   * Which instances: `tags`, `instance-ids`, `states` as find-instance reads them; offline
   * agents are kept (reported offline), and no count is required.
   */
  discovery: DiscoveryOptions
  /** `deploy-dir`, {app} filled in from `app-name` (as ssm-deploy reads it). */
  deployDir: string
  /** `bucket` with `app-name` and `environment`; undefined without bucket (no drift judged). */
  desired: DesiredSource | undefined
  environment: string | undefined
  /** `fail-on-drift`: fail the step when a host drifted or could not be read. */
  failOnDrift: boolean
  /** `timeout` in ms: the probe's execution timeout, and how long an agent may take to pick it up. */
  timeoutMs: number
  aws: AwsInputs
}

/** The defaults of status's inputs by name, as action.yml declares them. */
export const INPUT_DEFAULTS = {
  states: DEFAULT_STATES,
  'deploy-dir': DEPLOY_INPUT_DEFAULTS['deploy-dir'],
  'fail-on-drift': false,
  timeout: 60_000,
  ...AWS_INPUT_DEFAULTS,
} as const

/** `bucket`, and then `app-name` and `environment`, which desired.json's key needs. */
function readDesiredSource(
  inputs: Inputs,
  app: string | undefined,
  environment: string | undefined,
): DesiredSource | undefined {
  const bucket = inputs.optional('bucket')
  if (bucket === undefined) return undefined
  validateBucketName('bucket', bucket)
  if (app === undefined || environment === undefined) {
    throw new ConfigurationError(
      "input 'bucket' is set, so inputs 'app-name' and 'environment' are required: desired.json is read from <bucket>/<app-name>/<environment>/desired.json",
    )
  }
  return { bucket, app, environment }
}

/** Reads and checks every input; throws a ConfigurationError naming the first bad one. */
export function getInputs(source: InputSource = envInputSource()): StatusInputs {
  const inputs = new Inputs(source)
  const selection = readInstanceSelection(inputs)
  const app = inputs.optional('app-name')
  if (app !== undefined) assertSafeName("input 'app-name'", app, APP_NAME_RULE)
  const environment = inputs.optional('environment')
  if (environment !== undefined)
    assertSafeName("input 'environment'", environment, ENVIRONMENT_RULE)
  const deployDir = validateDeployDir(
    renderTemplate('deploy-dir', inputs.string('deploy-dir', INPUT_DEFAULTS['deploy-dir']), {
      app,
    }),
  )
  const desired = readDesiredSource(inputs, app, environment)
  const failOnDrift = inputs.boolean('fail-on-drift', INPUT_DEFAULTS['fail-on-drift'])
  if (failOnDrift && desired === undefined) {
    throw new ConfigurationError(
      "input 'fail-on-drift' is true but input 'bucket' is empty: drift is judged against <bucket>/<app-name>/<environment>/desired.json",
    )
  }
  return {
    discovery: {
      ...selection,
      requireSsmOnline: true,
      offline: 'skip',
      // Hosts that are all offline are still reported; finding none at all is an error.
      minCount: 0,
      maxCount: 0,
    },
    deployDir,
    desired,
    environment,
    failOnDrift,
    timeoutMs: inputs.duration('timeout', INPUT_DEFAULTS.timeout, { minMs: 5000, maxMs: 600_000 }),
    aws: readAwsInputs(inputs),
  }
}
