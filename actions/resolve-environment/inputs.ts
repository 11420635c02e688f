import { Inputs, envInputSource, type InputSource } from '../../packages/kit/src/index.js'
import type { ResolveOptions } from '../../packages/refs/src/index.js'

/**
 * resolve-environment's inputs: `rules`, `ref` (default GITHUB_REF), `environment`,
 * `version`, `status`, `production` and `on-no-match`; the rules are parsed when they are applied.
 */
export type ResolveEnvironmentInputs = ResolveOptions

/** The defaults of resolve-environment's inputs by name, as action.yml declares them. */
export const INPUT_DEFAULTS = {
  status: false,
  production: ['prod', 'production'],
  'on-no-match': 'skip',
} as const

/** Reads and checks every input; throws a ConfigurationError naming the first bad one. */
export function getInputs(
  source: InputSource = envInputSource(),
  env: NodeJS.ProcessEnv = process.env,
): ResolveEnvironmentInputs {
  const inputs = new Inputs(source)
  return {
    rules: inputs.required('rules'),
    ref: inputs.string('ref', env.GITHUB_REF ?? ''),
    environment: inputs.optional('environment'),
    version: inputs.optional('version'),
    status: inputs.boolean('status', INPUT_DEFAULTS.status),
    production: inputs.list('production', [...INPUT_DEFAULTS.production]),
    onNoMatch: inputs.enum('on-no-match', ['skip', 'fail'], INPUT_DEFAULTS['on-no-match']),
  }
}
