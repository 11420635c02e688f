import { Inputs, envInputSource, type InputSource } from '../../packages/kit/src/index.js'
import {
  AWS_INPUT_DEFAULTS,
  readAwsInputs,
  type AwsInputs,
} from '../../packages/github/src/index.js'
import type { FleetDeployOptions } from '../../packages/fleet/src/index.js'
import { ENGINE_OPTIONS } from '../../packages/remote/src/index.js'
import { DEPLOY_INPUT_DEFAULTS, readFleetDeployOptions } from '../shared/deploy-inputs.js'

/** ssm-deploy's inputs, parsed and checked. */
export interface SsmDeployInputs {
  /**
   * The fleet deploy: `instance-ids`, `max-concurrency`, `max-errors`, `timeout`, the SSM
   * output options, and the engine's options (`mode`, `version`, `artifact-uri`, hooks…).
   */
  deploy: FleetDeployOptions
  /** The common AWS inputs (`aws-region`, `role-to-assume`…). */
  aws: AwsInputs
}

/** The defaults of ssm-deploy's inputs by name (durations in ms), as action.yml declares them. */
export const INPUT_DEFAULTS = {
  ...DEPLOY_INPUT_DEFAULTS,
  timeout: ENGINE_OPTIONS.executionTimeout.defaultMs,
  ...AWS_INPUT_DEFAULTS,
}

/** Reads and checks every input; throws a ConfigurationError naming the first bad one. */
export function getInputs(
  source: InputSource = envInputSource(),
  env: NodeJS.ProcessEnv = process.env,
): SsmDeployInputs {
  const inputs = new Inputs(source)
  return {
    deploy: readFleetDeployOptions(inputs, undefined, 'timeout', env),
    aws: readAwsInputs(inputs),
  }
}
