import { tmpdir } from 'node:os'
import {
  APP_NAME_RULE,
  Inputs,
  VERSION_RULE,
  assertSafeName,
  envInputSource,
  renderTemplate,
  type InputSource,
  type NameRule,
} from '../../packages/kit/src/index.js'
import {
  ARTIFACT_NAME_RULE,
  DEFAULT_EXCLUDE,
  DEFAULT_INCLUDE,
  DEFAULT_LEVEL,
  SYMLINK_POLICIES,
  ZIP_NAME_RULE,
  type SymlinkPolicy,
} from '../../packages/artifact/src/index.js'

/** package-zip's inputs, parsed and checked. */
export interface PackageZipInputs {
  /** `path`: the directory to pack. */
  root: string
  /** `include`: globs (one a line) of what to pack. */
  include: string[]
  /** `exclude`: globs (one a line) left out. */
  exclude: string[]
  /** `name`: the zip's file name, {app} and {version} filled in. */
  name: string
  /** `output-dir`: where the zip is written (default: RUNNER_TEMP, else the system's temp dir). */
  outputDir: string
  /** `level`: deflate level 0–9. */
  level: number
  /** `symlinks`: what to do with a link that leaves `path`. */
  symlinks: SymlinkPolicy
  /** `artifact-name`: also upload the zip as this workflow artifact. */
  artifactName: string | undefined
  /** `retention-days`: the workflow artifact's retention; 0 is the repository's default. */
  retentionDays: number
}

/** The defaults of package-zip's inputs by name, as action.yml declares them. */
export const INPUT_DEFAULTS = {
  path: '.',
  include: DEFAULT_INCLUDE,
  exclude: DEFAULT_EXCLUDE,
  name: '{app}-{version}.zip',
  level: DEFAULT_LEVEL,
  symlinks: 'error',
  'retention-days': 0,
} as const

/** Reads and checks every input; throws a ConfigurationError naming the first bad one. */
export function getInputs(
  source: InputSource = envInputSource(),
  env: NodeJS.ProcessEnv = process.env,
): PackageZipInputs {
  const inputs = new Inputs(source)
  const d = INPUT_DEFAULTS
  const optionalName = (input: string, rule: NameRule): string | undefined => {
    const value = inputs.optional(input)
    return value === undefined ? undefined : assertSafeName(`input '${input}'`, value, rule)
  }
  const app = optionalName('app', APP_NAME_RULE)
  const version = optionalName('version', VERSION_RULE)
  const name = assertSafeName(
    "input 'name'",
    renderTemplate('name', inputs.string('name', d.name), { app, version }),
    ZIP_NAME_RULE,
  )
  const root = inputs.string('path', d.path)
  const include = inputs.lines('include')
  const exclude = inputs.lines('exclude')
  return {
    root,
    include: include.length > 0 ? include : [...d.include],
    exclude: exclude.length > 0 ? exclude : [...d.exclude],
    name,
    level: inputs.integer('level', d.level, { min: 0, max: 9 }),
    symlinks: inputs.enum('symlinks', SYMLINK_POLICIES, d.symlinks),
    artifactName: optionalName('artifact-name', ARTIFACT_NAME_RULE),
    retentionDays: inputs.integer('retention-days', d['retention-days'], { min: 0, max: 90 }),
    outputDir: inputs.string('output-dir', env.RUNNER_TEMP || tmpdir()),
  }
}
