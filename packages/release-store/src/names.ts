import {
  ConfigurationError,
  checkSize,
  describeValue,
  renderTemplate,
} from '../../kit/src/index.js'

/** The key s3-upload uses when none is given: each environment has its own part of the store. */
export const DEFAULT_KEY_TEMPLATE = '{app}/{environment}/{version}.zip'

/** The placeholders a key template may use. */
export type KeyValues = Readonly<
  Record<'app' | 'version' | 'environment' | 'repository' | 'sha', string | undefined>
>

const BUCKET_RULES: [(name: string) => boolean, string][] = [
  [name => name.length >= 3 && name.length <= 63, 'a bucket name is 3 to 63 characters long'],
  [
    name => /^[a-z0-9.-]*$/.test(name),
    "a bucket name uses only lowercase letters, digits, '.' and '-'",
  ],
  [
    name => /^[a-z0-9].*[a-z0-9]$/.test(name),
    'a bucket name starts and ends with a lowercase letter or a digit',
  ],
  [name => !name.includes('..'), "a bucket name has no two adjacent '.'"],
  [name => !/^\d{1,3}(\.\d{1,3}){3}$/.test(name), 'a bucket name is not an IP address'],
  [
    name => !/^(xn--|sthree-|amzn-s3-demo-)/.test(name),
    "a bucket name does not start with 'xn--', 'sthree-' or 'amzn-s3-demo-'",
  ],
  [
    name => !/(-s3alias|--ol-s3|\.mrap|--x-s3|--table-s3)$/.test(name),
    "a bucket name does not end with '-s3alias', '--ol-s3', '.mrap', '--x-s3' or '--table-s3'",
  ],
]

/** Checks a bucket name against S3's naming rules; the error names the rule broken. */
export function validateBucketName(input: string, name: string): string {
  for (const [passes, rule] of BUCKET_RULES) {
    if (!passes(name)) {
      throw new ConfigurationError(`input '${input}': ${describeValue(name)} is not valid: ${rule}`)
    }
  }
  return name
}

/**
 * Checks an object key: not empty, at most 1024 bytes, no leading '/', no '.' or '..'
 * segment (keys end up as paths on hosts and in tools that resolve them), and no control
 * characters.
 */
export function validateObjectKey(input: string, key: string): string {
  const fail = (rule: string): never => {
    throw new ConfigurationError(`input '${input}': ${describeValue(key)} is not valid: ${rule}`)
  }
  if (key.length === 0) fail('an object key cannot be empty')
  if (Buffer.byteLength(key, 'utf8') > 1024) fail('an object key is at most 1024 bytes')
  if (key.startsWith('/')) fail("an object key does not start with '/'")
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(key)) fail('an object key has no control characters')
  if (key.split('/').some(segment => segment === '..' || segment === '.')) {
    fail("an object key has no '.' or '..' segments")
  }
  return key
}

/** Where each key placeholder's value comes from, for the error when it has none. */
const KEY_VALUE_SOURCES: Readonly<Record<keyof KeyValues, string>> = {
  app: "input 'app'",
  version: "input 'version'",
  environment: "input 'environment' (resolve-environment's 'environment' output)",
  repository: 'GITHUB_REPOSITORY',
  sha: 'GITHUB_SHA',
}

/** Renders and validates the key template; a placeholder without a value names its source. */
export function renderObjectKey(input: string, template: string, values: KeyValues): string {
  for (const [name, source] of Object.entries(KEY_VALUE_SOURCES)) {
    if (template.includes(`{${name}}`) && !values[name as keyof KeyValues]) {
      throw new ConfigurationError(
        `input '${input}': ${describeValue(template)} uses {${name}}, but ${source} is empty: ` +
          `set it, or set a '${input}' without {${name}}`,
      )
    }
  }
  return validateObjectKey(input, renderTemplate(input, template, values))
}

/**
 * The prefix under which the versions of this app live: the template rendered up to its
 * `{version}` placeholder ('{app}/{version}.zip' → 'webrtc/'). Without `{version}`, the
 * key's folder. Used to list what exists when a version is missing.
 */
export function versionPrefix(input: string, template: string, values: KeyValues): string {
  const at = template.indexOf('{version}')
  if (at >= 0) return at === 0 ? '' : renderTemplate(input, template.slice(0, at), values)
  const key = renderTemplate(input, template, values)
  return key.slice(0, key.lastIndexOf('/') + 1)
}

/** `s3://bucket/key`. */
export function s3Uri(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`
}

/**
 * A part size as the AWS CLI reads one ('5242880', '8MB', '16MiB', '1GiB': a bare number is
 * bytes, MB means MiB), within S3's 5 MiB to 5 GiB per part.
 */
export function parsePartSize(input: string, raw: string): number {
  return checkSize(input, raw, { minBytes: 5 * 1024 ** 2, maxBytes: 5 * 1024 ** 3 })
}

/** Storage classes a release can be stored in: all of them can be downloaded at once. */
export const STORAGE_CLASSES = [
  'STANDARD',
  'STANDARD_IA',
  'ONEZONE_IA',
  'INTELLIGENT_TIERING',
  'GLACIER_IR',
  'REDUCED_REDUNDANCY',
  'EXPRESS_ONEZONE',
] as const
export type ReleaseStorageClass = (typeof STORAGE_CLASSES)[number]

/** Checks `storage-class`; the archive classes are refused, hosts could not download from them. */
export function validateStorageClass(input: string, value: string): ReleaseStorageClass {
  if ((STORAGE_CLASSES as readonly string[]).includes(value)) return value as ReleaseStorageClass
  const rule = ['GLACIER', 'DEEP_ARCHIVE'].includes(value)
    ? 'archived objects need a restore before a host can download them; use GLACIER_IR or a lifecycle rule instead'
    : `use one of ${STORAGE_CLASSES.join(', ')}`
  throw new ConfigurationError(`input '${input}': ${describeValue(value)} is not valid: ${rule}`)
}
