// What find-instance and status select instances by: `tags` (with {environment} and {app}
// from `environment` and `app-name`), `instance-ids` and `states`, read one way for both.
import type { Inputs } from '../../packages/kit/src/index.js'
import { parseTagFilters, type DiscoveryOptions } from '../../packages/fleet/src/index.js'

/** The default of input `states`, as both action.yml files declare it. */
export const DEFAULT_STATES: readonly string[] = ['running']

/** The instance selection of the discovery options, from `tags`, `instance-ids` and `states`. */
export function readInstanceSelection(
  inputs: Inputs,
): Pick<DiscoveryOptions, 'tags' | 'instanceIds' | 'states'> {
  return {
    tags: parseTagFilters(inputs.lines('tags'), {
      environment: inputs.optional('environment'),
      app: inputs.optional('app-name'),
    }),
    instanceIds: inputs.list('instance-ids'),
    states: inputs.list('states', [...DEFAULT_STATES]),
  }
}
