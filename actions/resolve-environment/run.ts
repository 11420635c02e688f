import type { ActionDeps, OutputValues } from '../../packages/github/src/index.js'
import { resolveEnvironment, type Resolution } from '../../packages/refs/src/index.js'
import type { ResolveEnvironmentInputs } from './inputs.js'

/** Decides the environment; a ref no rule matches is a notice and a job summary note. */
export async function run(inputs: ResolveEnvironmentInputs, deps: ActionDeps): Promise<Resolution> {
  const result = resolveEnvironment(inputs, deps.logger)
  if (result.noMatch) {
    deps.notice(result.noMatch.message, 'Nothing deployed')
    await deps.appendSummary(result.noMatch.markdown)
  }
  return result
}

/** The action's outputs, by their action.yml names. */
export function outputs(result: Resolution): OutputValues {
  return {
    environment: result.environment,
    'ref-name': result.refName,
    'ref-type': result.refType,
    deploy: result.deploy,
    'is-production': result.isProduction,
    'matched-rule': result.matchedRule,
  }
}
