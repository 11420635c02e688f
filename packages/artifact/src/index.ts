// packages/artifact: the deterministic zip of an app, its sha256, and checks on zips.
import { closeSync, mkdirSync, openSync, realpathSync, renameSync, rmSync } from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'
import { ConfigurationError, describeValue, type Logger } from '../../kit/src/index.js'
import { checkZipDirectory, readZipDirectory } from './reader.js'
import { selectEntries, type SymlinkPolicy } from './select.js'
import { writeZip } from './writer.js'

export * from './names.js'
export * from './reader.js'
export * from './select.js'
export * from './timestamp.js'
export * from './writer.js'
export { DEFLATED, STORED } from './zip-format.js'
export { crc32Combine } from './crc32-combine.js'

/**
 * The default deflate level. zlib's level 5 makes zips as small as Info-ZIP's `zip -6`
 * (within about 1% on this project's node_modules) for about 20% less CPU than zlib's
 * level 6; the size budget of the speed goal (≤ 1.02× Info-ZIP's size) is better spent
 * on time. bench/zip measures both levels side by side.
 */
export const DEFAULT_LEVEL = 5

export interface PackageZipOptions {
  /** The directory to pack. */
  root: string
  include?: readonly string[]
  exclude?: readonly string[]
  symlinks?: SymlinkPolicy
  /** Where the zip goes; its directory is created. An existing file is replaced. */
  outputFile: string
  /** Deflate level 0–9 (default DEFAULT_LEVEL). */
  level?: number
  /** The timestamp of every entry (see resolveTimestamp). */
  epochSeconds: number
  /** Worker threads (default: the number of cores). */
  workers?: number
  logger: Logger
}

export interface PackageZipResult {
  /** Absolute path of the zip. */
  file: string
  /** Hex SHA-256 of the zip. */
  sha256: string
  /** Size of the zip in bytes. */
  size: number
  /** Files and symlinks packed (directories not counted). */
  files: number
  /** All entries, directories included. */
  entries: number
}

/**
 * Packs `root` into a reproducible zip at `outputFile` and returns its checksum and size.
 * The zip is written next to the target under a temporary name and renamed when complete
 * and checked, so a failed run never leaves a partial file under the real name.
 */
export async function packageZip(options: PackageZipOptions): Promise<PackageZipResult> {
  const file = resolve(options.outputFile)
  let outputReal: string
  try {
    mkdirSync(dirname(file), { recursive: true })
    outputReal = join(realpathSync(dirname(file)), basename(file))
  } catch (error) {
    throw cannotWrite(file, error)
  }
  const entries = selectEntries({
    root: options.root,
    logger: options.logger,
    ...(options.include ? { include: options.include } : {}),
    ...(options.exclude ? { exclude: options.exclude } : {}),
    ...(options.symlinks ? { symlinks: options.symlinks } : {}),
  }).filter(entry => {
    // A zip from an earlier run inside the packed tree must not pack itself.
    return !(entry.kind === 'file' && (entry.source === outputReal || entry.source === file))
  })
  if (entries.length === 0) {
    throw new ConfigurationError(
      `input 'include': nothing under input 'path' ${describeValue(options.root)} is left to ` +
        `pack but the zip itself (${describeValue(file)}): check the globs`,
    )
  }
  const files = entries.filter(entry => entry.kind !== 'directory').length
  const bytes = entries.reduce((sum, entry) => sum + (entry.kind === 'file' ? entry.size : 0), 0)
  options.logger.info(
    `Packing ${files} files (${bytes} bytes) and ${entries.length - files} directories from ${options.root}`,
  )

  const partial = `${file}.partial-${process.pid}`
  try {
    try {
      closeSync(openSync(partial, 'w'))
    } catch (error) {
      throw cannotWrite(partial, error)
    }
    const written = await writeZip(partial, entries, {
      level: options.level ?? DEFAULT_LEVEL,
      epochSeconds: options.epochSeconds,
      ...(options.workers ? { workers: options.workers } : {}),
    })
    const directory = readZipDirectory(partial)
    const problems = checkZipDirectory(directory)
    if (directory.entries.length !== written.entries) {
      problems.push(`${directory.entries.length} entries read back, ${written.entries} written`)
    }
    if (problems.length > 0) {
      throw new Error(`the written zip failed its own checks: ${problems.join('; ')}`)
    }
    renameSync(partial, file)
    return { file, sha256: written.sha256, size: written.size, files, entries: written.entries }
  } finally {
    rmSync(partial, { force: true })
  }
}

function cannotWrite(path: string, error: unknown): ConfigurationError {
  return new ConfigurationError(
    `input 'output-dir': cannot write ${describeValue(path)} (${(error as Error).message}): ` +
      'use a directory this job can create and write to',
  )
}
