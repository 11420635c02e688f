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
} from '../../packages/kit/src/index.js'
import {
  AWS_INPUT_DEFAULTS,
  normalizeArtifactDigest,
  readAwsInputs,
  type AwsInputs,
} from '../../packages/github/src/index.js'
import {
  DEFAULT_KEY_TEMPLATE,
  MAX_PRESIGN_SECONDS,
  parsePartSize,
  renderObjectKey,
  validateBucketName,
  validateStorageClass,
  type IfExists,
  type KeyValues,
  type ReleaseStorageClass,
  type SseMode,
} from '../../packages/release-store/src/index.js'

/** s3-upload's inputs, parsed and checked. */
export interface S3UploadInputs {
  /** `file`: the release zip to upload. */
  file: string | undefined
  /** `artifact-name`: the workflow artifact holding the release zip to upload. */
  artifactName: string | undefined
  /** `artifact-digest`: the workflow artifact's digest, `sha256:` and 64 hex digits. */
  artifactDigest: string | undefined
  /** `app`, `version`, `environment`, and GITHUB_REPOSITORY and GITHUB_SHA: the key's placeholders. */
  keyValues: KeyValues
  /** `bucket`. */
  bucket: string
  /** `key`: the template, and the key made from it. */
  keyTemplate: string
  key: string
  /** `if-exists`: what to do when the key holds an object already. */
  ifExists: IfExists
  /** `sse` and `kms-key-id`: server-side encryption. */
  sse: SseMode | undefined
  kmsKeyId: string | undefined
  /** `storage-class`. */
  storageClass: ReleaseStorageClass | undefined
  /** `part-size` (bytes) and `concurrency` of the multipart upload. */
  partSize: number
  concurrency: number
  /** `presign-expires`: how long the presigned URL lasts, in ms; 0 presigns nothing. */
  presignMs: number
  /** `expected-sha256`: what the release's sha256 must be (lowercase hex). */
  expectedSha256: string | undefined
  /** `allow-any-stored-version`: a rollback may use a version no deployment record names. */
  allowAnyStoredVersion: boolean
  /** The common AWS inputs (`aws-region`, `role-to-assume`…). */
  aws: AwsInputs
}

/** The defaults of s3-upload's inputs by name (durations in ms), as action.yml declares them. */
export const INPUT_DEFAULTS = {
  key: DEFAULT_KEY_TEMPLATE,
  'allow-any-stored-version': false,
  'if-exists': 'skip-same',
  'part-size': '16MiB',
  concurrency: 8,
  'presign-expires': 0,
  ...AWS_INPUT_DEFAULTS,
} as const

/** An optional sha256 input: 64 hex digits (lowercased), or undefined. */
function optionalSha256(inputs: Inputs, name: string): string | undefined {
  const value = inputs.optional(name)
  if (value === undefined) return undefined
  if (!/^[0-9a-fA-F]{64}$/.test(value)) throw invalidInput(name, value, 'use 64 hex digits')
  return value.toLowerCase()
}

/** What to upload: `file` or `artifact-name`, or neither to look up a stored `version`. */
function readSource(inputs: Inputs, version: string | undefined) {
  const file = inputs.optional('file')
  const artifactName = inputs.optional('artifact-name')
  if (file !== undefined && artifactName !== undefined) {
    throw new ConfigurationError("set either input 'file' or input 'artifact-name', not both")
  }
  if (file === undefined && artifactName === undefined && version === undefined) {
    throw new ConfigurationError(
      "nothing to do: set input 'file' or 'artifact-name' to upload a release, " +
        "or input 'version' to check that an existing version can be deployed",
    )
  }
  return { file, artifactName }
}

/** `sse` and `kms-key-id`. */
function readEncryption(inputs: Inputs): Pick<S3UploadInputs, 'sse' | 'kmsKeyId'> {
  const sse = inputs.optional('sse')
  const kmsKeyId = inputs.optional('kms-key-id')
  const sseMode =
    sse === undefined ? undefined : inputs.enum('sse', ['AES256', 'aws:kms'], 'AES256')
  if (kmsKeyId !== undefined && sseMode !== 'aws:kms') {
    throw new ConfigurationError("input 'kms-key-id' is set, but input 'sse' is not 'aws:kms'")
  }
  return { sse: sseMode, kmsKeyId }
}

/** `artifact-digest`, which only goes with `artifact-name`. */
function readArtifactDigest(inputs: Inputs, artifactName: string | undefined): string | undefined {
  const digestInput = inputs.optional('artifact-digest')
  const artifactDigest =
    digestInput === undefined ? undefined : normalizeArtifactDigest(digestInput)
  if (digestInput !== undefined && artifactDigest === undefined) {
    throw invalidInput('artifact-digest', digestInput, "use 'sha256:' and 64 hex digits")
  }
  if (artifactDigest !== undefined && artifactName === undefined) {
    throw new ConfigurationError("input 'artifact-digest' is set, but input 'artifact-name' is not")
  }
  return artifactDigest
}

/** Reads and checks every input; throws a ConfigurationError naming the first bad one. */
export function getInputs(
  source: InputSource = envInputSource(),
  env: NodeJS.ProcessEnv = process.env,
): S3UploadInputs {
  const inputs = new Inputs(source)
  const d = INPUT_DEFAULTS
  const app = inputs.optional('app')
  const version = inputs.optional('version')
  const environment = inputs.optional('environment')
  const { file, artifactName } = readSource(inputs, version)
  if (app !== undefined) assertSafeName("input 'app'", app, APP_NAME_RULE)
  if (version !== undefined) assertSafeName("input 'version'", version, VERSION_RULE)
  if (environment !== undefined)
    assertSafeName("input 'environment'", environment, ENVIRONMENT_RULE)
  const keyValues: KeyValues = {
    app,
    version,
    environment,
    repository: env.GITHUB_REPOSITORY,
    sha: env.GITHUB_SHA,
  }
  const bucket = validateBucketName('bucket', inputs.required('bucket'))
  const keyTemplate = inputs.string('key', d.key)
  const key = renderObjectKey('key', keyTemplate, keyValues)
  const ifExists = inputs.enum('if-exists', ['skip-same', 'fail', 'overwrite'], d['if-exists'])
  const encryption = readEncryption(inputs)
  const storageClassInput = inputs.optional('storage-class')
  const storageClass =
    storageClassInput === undefined
      ? undefined
      : validateStorageClass('storage-class', storageClassInput)
  const partSize = parsePartSize('part-size', inputs.string('part-size', d['part-size']))
  const concurrency = inputs.integer('concurrency', d.concurrency, { min: 1, max: 64 })
  const presignMs = inputs.duration('presign-expires', d['presign-expires'], {
    maxMs: MAX_PRESIGN_SECONDS * 1000,
  })
  const expectedSha256 = optionalSha256(inputs, 'expected-sha256')
  const artifactDigest = readArtifactDigest(inputs, artifactName)
  const allowAnyStoredVersion = inputs.boolean(
    'allow-any-stored-version',
    d['allow-any-stored-version'],
  )
  const lookup = file === undefined && artifactName === undefined
  if (lookup && !allowAnyStoredVersion && (app === undefined || environment === undefined)) {
    throw new ConfigurationError(
      `input '${app === undefined ? 'app' : 'environment'}' is empty: a rollback (input ` +
        "'version' without 'file' or 'artifact-name') may only use a version that was " +
        "deployed to that environment, per its deployment records; set 'app' and " +
        "'environment', or set 'allow-any-stored-version: true' to deploy any stored version",
    )
  }
  return {
    file,
    artifactName,
    artifactDigest,
    keyValues,
    bucket,
    keyTemplate,
    key,
    ifExists,
    ...encryption,
    storageClass,
    partSize,
    concurrency,
    presignMs,
    expectedSha256,
    allowAnyStoredVersion,
    aws: readAwsInputs(inputs),
  }
}
