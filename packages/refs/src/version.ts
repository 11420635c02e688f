import {
  ConfigurationError,
  VERSION_RULE,
  assertSafeName,
  describeValue,
  renderTemplate,
  type Logger,
} from '../../kit/src/index.js'
import { parseRef } from './ref.js'
import { compareSemver, parseSemver, type SemVer } from './semver.js'

export const DEFAULT_FORMAT = '{base}-{branch}-{sha7}'
export const DEFAULT_BASE_VERSION = 'v0.0.0'
/** Longest branch slug; keeps versions and S3 keys readable. */
export const MAX_SLUG_LENGTH = 40

/**
 * Turns a branch name into `[a-z0-9.-]`: lower case, accents folded, every other run of
 * characters becomes one '-', no '..', no leading or trailing '-' or '.', at most
 * MAX_SLUG_LENGTH characters, never empty.
 */
export function branchSlug(name: string): string {
  const slug = name
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/[^a-z0-9.]+/g, '-')
    .replace(/\.{2,}/g, '.')
    .replace(/[-.]*-[-.]*/g, '-')
    .replace(/^[-.]+/, '')
    .slice(0, MAX_SLUG_LENGTH)
    .replace(/[-.]+$/, '')
  return slug === '' ? 'ref' : slug
}

/** Full commit ids are 40 (SHA-1) or 64 (SHA-256) hex digits. */
const SHA_PATTERN = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/

/** Lower-cases and checks a full commit id; the error names the input. */
export function normalizeSha(sha: string): string {
  const normalized = sha.toLowerCase()
  if (!SHA_PATTERN.test(normalized)) {
    throw new ConfigurationError(
      `input 'sha': ${describeValue(sha)} is not a commit id: use the full 40-character hex sha`,
    )
  }
  return normalized
}

/** Makes one SemVer pre-release identifier: [0-9A-Za-z-], and no numeric one with a leading zero. */
function toIdentifier(part: string): string {
  const cleaned = part.replace(/[^0-9A-Za-z-]+/g, '-')
  return /^0\d+$/.test(cleaned) ? `x${cleaned}` : cleaned
}

/**
 * A SemVer 2.0 string for any version: the version itself when it already is one
 * (a leading 'v' dropped), else `<base>-<version as pre-release identifiers>`.
 */
export function toSemver(version: string, base: SemVer | undefined): string {
  const parsed = parseSemver(version)
  if (parsed) return parsed.text
  const core = base ? `${base.major}.${base.minor}.${base.patch}` : '0.0.0'
  const prerelease = version
    .split(/[.+]/)
    .filter(part => part !== '')
    .map(toIdentifier)
    .filter(part => part !== '')
  return prerelease.length > 0 ? `${core}-${prerelease.join('.')}` : core
}

/** The newest stable (no pre-release) semver tag among `tags`, or undefined. */
export function newestSemverTag(tags: readonly string[]): string | undefined {
  let best: { tag: string; version: SemVer } | undefined
  for (const tag of tags) {
    const version = parseSemver(tag)
    if (!version || version.prerelease.length > 0) continue
    if (!best || compareSemver(version, best.version) > 0) best = { tag, version }
  }
  return best?.tag
}

export interface VersionOptions {
  ref: string
  sha: string
  /** Explicit version (rollback or redeploy): validated and passed through. */
  version?: string | undefined
  /** Used as {base} when no semver tag is reachable. */
  baseVersion: string
  format: string
  /** Tags reachable from `sha`; undefined when git could not tell. */
  reachableTags: readonly string[] | undefined
  /** GITHUB_RUN_NUMBER, for the {run} placeholder. */
  runNumber?: string | undefined
}

export interface VersionResult {
  version: string
  semver: string
  sha: string
  shortSha: string
  branchSlug: string
  isRelease: boolean
  /** Where {base} came from, for the log. */
  base: string
  baseSource: 'tag' | 'base-version' | 'none'
}

/** Computes the version of a build from its ref and commit. */
export function computeVersion(options: VersionOptions, logger?: Logger): VersionResult {
  const sha = normalizeSha(options.sha)
  const shortSha = sha.slice(0, 7)
  const ref = parseRef(options.ref)
  const slug = branchSlug(ref.name)
  const common = { sha, shortSha, branchSlug: slug }

  const baseInput = parseSemver(options.baseVersion)
  if (!baseInput) {
    throw new ConfigurationError(
      `input 'base-version': ${describeValue(options.baseVersion)} is not a semantic version: use e.g. 'v1.4.0'`,
    )
  }

  if (options.version !== undefined) {
    const version = assertSafeName("input 'version'", options.version, VERSION_RULE)
    logger?.info(`Version ${version} was given explicitly.`)
    return {
      ...common,
      version,
      semver: toSemver(version, baseInput),
      isRelease: false,
      base: '',
      baseSource: 'none',
    }
  }

  if (ref.type === 'tag') {
    const tagVersion = parseSemver(ref.name)
    if (tagVersion) {
      const version = assertSafeName(`tag ${describeValue(ref.name)}`, ref.name, VERSION_RULE)
      logger?.info(`Tag ${version} is a release: the version is the tag.`)
      return {
        ...common,
        version,
        semver: tagVersion.text,
        isRelease: true,
        base: '',
        baseSource: 'none',
      }
    }
  }

  let base = options.baseVersion
  let baseSource: VersionResult['baseSource'] = 'base-version'
  const newest = options.reachableTags ? newestSemverTag(options.reachableTags) : undefined
  if (newest !== undefined) {
    base = newest
    baseSource = 'tag'
    logger?.info(`Base version ${newest}: the newest semver tag reachable from ${shortSha}.`)
  } else if (options.reachableTags === undefined) {
    logger?.warning(
      `Could not read tags with git; using base-version ${base}. ` +
        "Check out with 'fetch-depth: 0' so the newest reachable tag can be found.",
    )
  } else {
    logger?.info(
      `No semver tag is reachable from ${shortSha}; using base-version ${base}. ` +
        "(A shallow checkout hides tags: use 'fetch-depth: 0'.)",
    )
  }
  const rendered = renderTemplate('format', options.format, {
    base,
    branch: slug,
    sha7: shortSha,
    sha,
    run: options.runNumber,
  })
  const version = assertSafeName(
    `the version rendered from input 'format' (${describeValue(options.format)})`,
    rendered,
    VERSION_RULE,
  )
  const baseSemver = parseSemver(base) ?? baseInput
  return {
    ...common,
    version,
    semver: toSemver(version, baseSemver),
    isRelease: false,
    base,
    baseSource,
  }
}
