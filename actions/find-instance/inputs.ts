import { Inputs, envInputSource, type InputSource } from '../../packages/kit/src/index.js'
import {
  AWS_INPUT_DEFAULTS,
  readAwsInputs,
  type AwsInputs,
} from '../../packages/github/src/index.js'
import type { DiscoveryOptions } from '../../packages/fleet/src/index.js'
import { DEFAULT_STATES, readInstanceSelection } from '../shared/discovery-inputs.js'

/** find-instance's inputs, parsed and checked. */
export interface FindInstanceInputs {
  /**
   * What to find: `tags` (lines Key=Value, {environment} and {app} filled in from
   * `environment` and `app-name`), `instance-ids`, `states`, `require-ssm-online`, `offline`,
   * `min-count` and `max-count`.
   */
  discovery: DiscoveryOptions
  /** The common AWS inputs (`aws-region`, `role-to-assume`…). */
  aws: AwsInputs
}

/** The defaults of find-instance's inputs by name, as action.yml declares them. */
export const INPUT_DEFAULTS = {
  states: DEFAULT_STATES,
  'require-ssm-online': true,
  offline: 'fail',
  'min-count': 1,
  'max-count': 0,
  ...AWS_INPUT_DEFAULTS,
} as const

/** Reads and checks every input; throws a ConfigurationError naming the first bad one. */
export function getInputs(source: InputSource = envInputSource()): FindInstanceInputs {
  const inputs = new Inputs(source)
  const d = INPUT_DEFAULTS
  const discovery: DiscoveryOptions = {
    ...readInstanceSelection(inputs),
    requireSsmOnline: inputs.boolean('require-ssm-online', d['require-ssm-online']),
    offline: inputs.enum('offline', ['fail', 'skip'], d.offline),
    minCount: inputs.integer('min-count', d['min-count'], { min: 0, max: 10_000 }),
    maxCount: inputs.integer('max-count', d['max-count'], { min: 0, max: 10_000 }),
  }
  return { discovery, aws: readAwsInputs(inputs) }
}
