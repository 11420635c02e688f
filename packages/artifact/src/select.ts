// Chooses what goes into the zip: walks `path`, applies the include/exclude globs and the
// symlink policy, checks every entry name, and returns the entries in the archive's order.
import { lstatSync, readdirSync, readlinkSync, realpathSync, statSync, type Stats } from 'node:fs'
import { isAbsolute, join, posix } from 'node:path'
import picomatch from 'picomatch'
import { ConfigurationError, describeValue, type Logger } from '../../kit/src/index.js'

/** What to do with a symlink whose target is outside `path` (or absolute). */
export type SymlinkPolicy = 'error' | 'skip' | 'follow'
export const SYMLINK_POLICIES: readonly SymlinkPolicy[] = ['error', 'skip', 'follow']

export const DEFAULT_INCLUDE = ['**']
export const DEFAULT_EXCLUDE = ['.git/**']

/** One entry of the archive, in the archive's terms. */
export type PlannedEntry =
  | {
      kind: 'file'
      /** Archive name: relative, '/'-separated. */
      name: string
      /** Where to read the content (may go through a followed symlink). */
      source: string
      /** Permission bits (0o777 at most). */
      mode: number
      size: number
    }
  | { kind: 'directory'; name: string; mode: number }
  | { kind: 'symlink'; name: string; target: string }

export interface SelectOptions {
  /** The directory to pack (input 'path'). */
  root: string
  include?: readonly string[]
  exclude?: readonly string[]
  symlinks?: SymlinkPolicy
  logger: Logger
}

/** The rule every archive name must follow; shown in errors. */
export const ENTRY_NAME_RULE =
  "an entry name must be relative and use '/' between parts, without '.' or '..' parts, " +
  'backslashes, control characters or bytes that are not UTF-8'

/**
 * Why `name` may not be an archive entry name, or undefined when it may. Used both for
 * what we write and for what the reader checks find in a zip.
 */
export function entryNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'it is empty'
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) return 'it is absolute'
  if (name.includes('\\')) return 'it contains a backslash'
  // U+FFFD is what bytes that are not UTF-8 decode to.
  if (hasControlCharacter(name)) return 'it contains a control character'
  if (name.includes('\ufffd')) return 'it is not valid UTF-8'
  const parts = name.split('/')
  if (parts.includes('..')) return "it has a '..' part"
  if (parts.includes('.')) return "it has a '.' part"
  if (parts.slice(0, -1).includes('')) return "it has an empty part ('//')"
  return undefined
}

/** C0 and C1 control characters and DEL. */
function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return true
  }
  return false
}

function assertEntryName(name: string, source: string): void {
  const problem = entryNameProblem(name)
  if (problem !== undefined) {
    throw new ConfigurationError(
      `cannot pack ${describeValue(source)}: the entry name ${describeValue(name)} is not allowed ` +
        `(${problem}): ${ENTRY_NAME_RULE}`,
    )
  }
}

/** Resolves a relative link target against the link's place in the archive. */
function resolveInArchive(linkName: string, target: string): string | undefined {
  if (isAbsolute(target) || target.includes('\\')) return undefined
  const resolved = posix.normalize(posix.join(posix.dirname(linkName), target))
  if (resolved === '..' || resolved.startsWith('../') || isAbsolute(resolved)) return undefined
  return resolved
}

const FILE_TYPE_RULE = 'only regular files, directories and symlinks can be packed'

/**
 * Walks `root` and returns the selected entries sorted by name (directories sort as
 * 'name/'). The rules:
 * - a file is selected when its path (relative to root, '/'-separated) matches an
 *   `include` glob and neither it nor a parent directory matches an `exclude` glob;
 *   globs match dot files too;
 * - a directory is kept when something under it is selected, or when it is empty on
 *   disk and matches `include` (so empty directories survive the round trip);
 * - a symlink whose relative target stays inside root is stored as a symlink; one that
 *   leaves root or is absolute is, by `symlinks`: `error` → an error naming it,
 *   `skip` → left out with a warning, `follow` → replaced by what it points to
 *   (a file's content or a directory's tree; a dangling link or a loop is an error).
 * An empty selection is an error naming the globs.
 */
export function selectEntries(options: SelectOptions): PlannedEntry[] {
  // Names have no leading './', so neither may the globs: 'dist/**' and './dist/**' agree.
  const normalize = (globs: readonly string[]): string[] =>
    globs.map(glob => glob.replace(/^(\.\/)+/, ''))
  const include = normalize(options.include?.length ? options.include : DEFAULT_INCLUDE)
  const exclude = normalize(options.exclude ?? DEFAULT_EXCLUDE)
  const policy = options.symlinks ?? 'error'
  // 's': let globs match names with a newline too, so such a name is seen (and refused by
  // the name rule) rather than silently not matched.
  const globOptions = { dot: true, flags: 's' }
  const isIncluded = picomatch(include, globOptions)
  const isExcluded = exclude.length > 0 ? picomatch(exclude, globOptions) : () => false

  let rootReal: string
  let rootStats: Stats
  try {
    rootReal = realpathSync(options.root)
    rootStats = statSync(rootReal)
  } catch (error) {
    throw new ConfigurationError(
      `input 'path': ${describeValue(options.root)} cannot be read (${(error as Error).message}): ` +
        'use a directory that exists',
    )
  }
  if (!rootStats.isDirectory()) {
    throw new ConfigurationError(
      `input 'path': ${describeValue(options.root)} is not a directory: use the directory to pack`,
    )
  }

  const entries: PlannedEntry[] = []
  let skipped = 0

  /** Walks one directory; returns whether anything under it was selected. */
  const walk = (directory: string, prefix: string, followed: readonly string[]): boolean => {
    const children = readdirSync(directory)
    let selectedBelow = false
    for (const child of children) {
      const name = prefix === '' ? child : `${prefix}/${child}`
      if (isExcluded(name)) continue
      const absolute = join(directory, child)
      const stats = lstatSync(absolute)
      if (stats.isSymbolicLink()) {
        if (handleSymlink(name, absolute, followed)) selectedBelow = true
      } else if (stats.isDirectory()) {
        if (addDirectory(name, absolute, stats, followed)) selectedBelow = true
      } else if (stats.isFile()) {
        if (!isIncluded(name)) continue
        assertEntryName(name, absolute)
        entries.push({
          kind: 'file',
          name,
          source: absolute,
          mode: stats.mode & 0o777,
          size: stats.size,
        })
        selectedBelow = true
      } else if (isIncluded(name)) {
        throw new ConfigurationError(`cannot pack ${describeValue(absolute)}: ${FILE_TYPE_RULE}`)
      }
    }
    return selectedBelow
  }

  const addDirectory = (
    name: string,
    absolute: string,
    stats: Stats,
    followed: readonly string[],
  ): boolean => {
    const index = entries.length
    const selectedBelow = walk(absolute, name, followed)
    const keep = selectedBelow || (readdirSync(absolute).length === 0 && isIncluded(name))
    if (keep) {
      assertEntryName(name, absolute)
      // Inserted before its children; the final sort fixes the order anyway.
      entries.splice(index, 0, { kind: 'directory', name, mode: stats.mode & 0o777 })
    }
    return keep
  }

  /** Applies the symlink policy; returns whether something was selected. */
  const handleSymlink = (name: string, absolute: string, followed: readonly string[]): boolean => {
    const target = readlinkSync(absolute)
    if (resolveInArchive(name, target) !== undefined) {
      if (!isIncluded(name)) return false
      assertEntryName(name, absolute)
      entries.push({ kind: 'symlink', name, target })
      return true
    }
    const where = `symlink ${describeValue(name)} (-> ${describeValue(target)})`
    if (policy === 'error') {
      throw new ConfigurationError(
        `input 'symlinks': ${where} points outside input 'path' ${describeValue(options.root)}: ` +
          "with 'symlinks: error' a symlink must be relative and stay inside the packed " +
          "directory; use 'symlinks: follow' to pack what it points to, 'skip' to leave it " +
          'out, or exclude it',
      )
    }
    if (policy === 'skip') {
      if (!isIncluded(name)) return false
      options.logger.warning(
        `${where} points outside the packed directory: left out (symlinks: skip)`,
      )
      skipped++
      return false
    }
    let real: string
    let stats: Stats
    try {
      real = realpathSync(absolute)
      stats = statSync(real)
    } catch (error) {
      throw new ConfigurationError(
        `input 'symlinks': ${where} cannot be followed (${(error as Error).message}): ` +
          "with 'symlinks: follow' every symlink that leaves the packed directory must point " +
          'to a file or directory that exists',
      )
    }
    if (stats.isDirectory()) {
      if (real === rootReal || followed.includes(real)) {
        throw new ConfigurationError(
          `input 'symlinks': ${where} makes a loop: with 'symlinks: follow' a followed ` +
            'directory may not contain itself; exclude the link',
        )
      }
      return addDirectory(name, real, stats, [...followed, real])
    }
    if (!stats.isFile()) {
      throw new ConfigurationError(`cannot pack ${where}: ${FILE_TYPE_RULE}`)
    }
    if (!isIncluded(name)) return false
    assertEntryName(name, absolute)
    entries.push({ kind: 'file', name, source: real, mode: stats.mode & 0o777, size: stats.size })
    return true
  }

  walk(rootReal, '', [rootReal])
  if (entries.length === 0) {
    throw new ConfigurationError(
      `input 'include': nothing under input 'path' ${describeValue(options.root)} matches ` +
        `include ${describeValue(include.join(', '))} minus exclude ` +
        `${describeValue(exclude.join(', '))}` +
        (skipped > 0 ? ` (${skipped} symlink(s) left out by 'symlinks: skip')` : '') +
        ": check the globs (relative to 'path', '/'-separated, e.g. 'dist/**')",
    )
  }
  return entries.sort((a, b) => compareNames(archiveName(a), archiveName(b)))
}

/** The name as written in the zip: directories end with '/'. */
export function archiveName(entry: PlannedEntry): string {
  return entry.kind === 'directory' ? `${entry.name}/` : entry.name
}

/** Plain code-unit order: the same on every machine and locale. */
function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
