import {
  ConfigurationError,
  Inputs,
  envInputSource,
  type InputSource,
} from '../../packages/kit/src/index.js'
import {
  DEFAULT_BASE_VERSION,
  DEFAULT_FORMAT,
  normalizeSha,
  type VersionOptions,
} from '../../packages/refs/src/index.js'

/** version-tag's inputs, parsed and checked. */
export interface VersionTagInputs {
  /**
   * How to compute the version: `ref` (default GITHUB_REF), `sha` (default GITHUB_SHA),
   * `version`, `base-version` and `format`; the reachable tags are found when it runs.
   */
  version: Omit<VersionOptions, 'reachableTags'>
  /** `working-directory`: the git checkout. */
  cwd: string
  /** With `push-tag: true`: the `token` that pushes the version's tag. */
  pushToken: string | undefined
}

/**
 * The defaults of version-tag's inputs by name, as action.yml declares them (`token`'s,
 * `${{ github.token }}`, is the runner's to fill in).
 */
export const INPUT_DEFAULTS = {
  'base-version': DEFAULT_BASE_VERSION,
  format: DEFAULT_FORMAT,
  'push-tag': false,
  'working-directory': '.',
} as const

/** Reads and checks every input; throws a ConfigurationError naming the first bad one. */
export function getInputs(
  source: InputSource = envInputSource(),
  env: NodeJS.ProcessEnv = process.env,
): VersionTagInputs {
  const inputs = new Inputs(source)
  const d = INPUT_DEFAULTS
  // Checked before git sees it, so it can never be read as an option.
  const sha = normalizeSha(inputs.string('sha', env.GITHUB_SHA ?? ''))
  const version = inputs.optional('version')
  const cwd = inputs.string('working-directory', d['working-directory'])
  const pushTag = inputs.boolean('push-tag', d['push-tag'])
  const options = {
    ref: inputs.string('ref', env.GITHUB_REF ?? ''),
    sha,
    version,
    baseVersion: inputs.string('base-version', d['base-version']),
    format: inputs.string('format', d.format),
    runNumber: env.GITHUB_RUN_NUMBER,
  }
  const token = pushTag ? inputs.optional('token') : undefined
  if (pushTag && token === undefined) {
    throw new ConfigurationError("input 'push-tag' is true but input 'token' is empty")
  }
  return { version: options, cwd, pushToken: token }
}
