// A snapshot of a directory tree that changes when anything in it is written: every entry's
// type and mode, owner, size, mtime, ctime (which a chmod or chown moves too) and link target.
import { lstatSync, readdirSync, readlinkSync } from 'node:fs'
import { join } from 'node:path'

/** Every entry under `root`, by path; links are listed, never followed. */
export function fileTree(root: string): Record<string, string> {
  const entries: Record<string, string> = {}
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name)
      const stat = lstatSync(path, { bigint: true })
      const link = stat.isSymbolicLink() ? readlinkSync(path) : ''
      entries[path] = [stat.mode, stat.uid, stat.size, stat.mtimeNs, stat.ctimeNs, link].join(' ')
      if (stat.isDirectory()) walk(path)
    }
  }
  walk(root)
  return entries
}
