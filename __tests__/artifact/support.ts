// Helpers for the zip tests: temp trees, the independent readers, and a tree comparison.
import { execFileSync, spawnSync } from 'node:child_process'
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `${prefix}-`))
}

/** A tree description: path → content (string/Buffer), {mode}, {link}, or 'dir'. */
export type TreeSpec = Record<
  string,
  string | Buffer | { content: string | Buffer; mode: number } | { link: string } | 'dir'
>

/** Creates the tree under `root`, in the given order. */
export function makeTree(root: string, spec: TreeSpec): void {
  for (const [path, value] of Object.entries(spec)) {
    const target = join(root, path)
    mkdirSync(dirname(target), { recursive: true })
    if (value === 'dir') mkdirSync(target, { recursive: true })
    else if (typeof value === 'string' || Buffer.isBuffer(value)) writeFileSync(target, value)
    else if ('link' in value) symlinkSync(value.link, target)
    else {
      writeFileSync(target, value.content)
      chmodSync(target, value.mode)
    }
  }
}

/** Runs a reader; returns its output, failing the test with its output when it fails. */
export function reader(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 })
  if (result.status !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} exited ${result.status}:\n${result.stdout}\n${result.stderr}`,
    )
  }
  return result.stdout
}

/** `unzip -t`, `zipinfo` and `python3 -m zipfile -t` must all accept the zip. */
export function assertReadersAccept(zip: string): { zipinfo: string } {
  const unzipOut = reader('unzip', ['-t', zip])
  if (!/No errors detected/.test(unzipOut)) throw new Error(`unzip -t:\n${unzipOut}`)
  const python = reader('python3', ['-m', 'zipfile', '-t', zip])
  if (!/Done testing/.test(python)) throw new Error(`python3 -m zipfile -t:\n${python}`)
  return { zipinfo: reader('zipinfo', [zip]) }
}

/** What a tree holds, for comparing a source with what unzip extracted. */
export interface TreeItem {
  type: 'file' | 'dir' | 'link'
  mode: number
  content?: string
}

export function describeTree(root: string): Record<string, TreeItem> {
  const items: Record<string, TreeItem> = {}
  const walk = (directory: string, prefix: string): void => {
    for (const name of readdirSync(directory).sort()) {
      const path = join(directory, name)
      const rel = prefix ? `${prefix}/${name}` : name
      const stats = lstatSync(path)
      if (stats.isSymbolicLink())
        items[rel] = { type: 'link', mode: 0o777, content: readlinkSync(path) }
      else if (stats.isDirectory()) {
        items[rel] = { type: 'dir', mode: stats.mode & 0o777 }
        walk(path, rel)
      } else {
        const content = readFileSync(path).toString('base64')
        items[rel] = { type: 'file', mode: stats.mode & 0o777, content }
      }
    }
  }
  walk(root, '')
  return items
}

/** Extracts with Info-ZIP's unzip (which restores modes and symlinks) into a new dir. */
export function unzipTo(zip: string): string {
  const out = tempDir('unzipped')
  execFileSync('unzip', ['-q', zip, '-d', out])
  return out
}
