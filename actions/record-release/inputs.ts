import {
  APP_NAME_RULE,
  ConfigurationError,
  ENVIRONMENT_RULE,
  Inputs,
  VERSION_RULE,
  assertSafeName,
  envInputSource,
  invalidInput,
  type InputSource,
  type NameRule,
} from '../../packages/kit/src/index.js'
import {
  AWS_INPUT_DEFAULTS,
  readAwsInputs,
  runContext,
  type AwsInputs,
} from '../../packages/github/src/index.js'
import {
  engineScriptKey,
  validateBucketName,
  validateObjectKey,
  type DeploymentMode,
  type DeploymentRecord,
  type EngineScriptRef,
} from '../../packages/release-store/src/index.js'

/** record-release's inputs, parsed and checked. */
export interface RecordReleaseInputs {
  /** `deploy-status`: only 'success' is recorded; nothing else is read then. */
  deployStatus: string
  /**
   * With `deploy-status: success`: the record (`app`, `environment`, `version`, `bucket`,
   * `key`, `sha256`, `size`, `mode`, and the run from GITHUB_*), and the common AWS inputs.
   */
  record?: {
    fields: Omit<DeploymentRecord, 'time'>
    aws: AwsInputs
    /** `engine-key` + `engine-sha256` (ssm-deploy's): the record is made the desired release. */
    engine?: EngineScriptRef
  }
}

/** The defaults of record-release's inputs by name, as action.yml declares them. */
export const INPUT_DEFAULTS = { mode: 'deploy', ...AWS_INPUT_DEFAULTS } as const

/** Reads and checks every input; throws a ConfigurationError naming the first bad one. */
export function getInputs(
  source: InputSource = envInputSource(),
  env: NodeJS.ProcessEnv = process.env,
): RecordReleaseInputs {
  const inputs = new Inputs(source)
  const deployStatus = inputs.required('deploy-status')
  if (deployStatus !== 'success') return { deployStatus }
  const named = (name: string, rule: NameRule) =>
    assertSafeName(`input '${name}'`, inputs.required(name), rule)
  const app = named('app', APP_NAME_RULE)
  const environment = named('environment', ENVIRONMENT_RULE)
  const version = named('version', VERSION_RULE)
  const bucket = validateBucketName('bucket', inputs.required('bucket'))
  const key = validateObjectKey('key', inputs.required('key'))
  const sha256 = inputs.required('sha256')
  if (!/^[0-9a-f]{64}$/.test(sha256)) {
    throw invalidInput('sha256', sha256, 'use 64 lowercase hex digits')
  }
  inputs.required('size')
  const size = inputs.integer('size', 0, { min: 0 })
  const mode: DeploymentMode = inputs.enum('mode', ['deploy', 'rollback'], INPUT_DEFAULTS.mode)
  const run = runContext(env)
  const engine = readEngine(inputs, app, environment)
  return {
    deployStatus,
    record: {
      fields: { app, environment, version, bucket, key, sha256, size, mode, ...run },
      aws: readAwsInputs(inputs),
      ...(engine ? { engine } : {}),
    },
  }
}

/** `engine-key` and `engine-sha256`, both or neither: the engine ssm-deploy stored. */
function readEngine(inputs: Inputs, app: string, environment: string): EngineScriptRef | undefined {
  const key = inputs.optional('engine-key')
  const sha256 = inputs.optional('engine-sha256')
  if (key === undefined && sha256 === undefined) return undefined
  if (key === undefined || sha256 === undefined) {
    const [given, missing] =
      key === undefined ? ['engine-sha256', 'engine-key'] : ['engine-key', 'engine-sha256']
    throw new ConfigurationError(
      `input '${given}' is set but input '${missing}' is empty: give both (ssm-deploy's outputs of those names) or neither`,
    )
  }
  if (!/^[0-9a-f]{64}$/.test(sha256)) {
    throw invalidInput('engine-sha256', sha256, 'use 64 lowercase hex digits')
  }
  const wanted = engineScriptKey(app, environment, sha256)
  if (key !== wanted) {
    throw invalidInput(
      'engine-key',
      key,
      `use the key of the engine named by engine-sha256 under ${app}/${environment}/engine/: ${wanted}`,
    )
  }
  return { key, sha256 }
}
