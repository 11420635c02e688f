import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

const run = promisify(execFile)

/**
 * The tags reachable from `sha` in the repository at `cwd`, or undefined when git cannot
 * tell (no repository, git missing, unknown commit). A shallow clone answers with fewer
 * tags than exist; `isShallow` lets the caller say so.
 */
export async function reachableTags(cwd: string, sha: string): Promise<string[] | undefined> {
  try {
    const { stdout } = await run('git', ['tag', '--merged', sha, '--list'], {
      cwd,
      maxBuffer: 64 * 1024 * 1024,
    })
    return stdout.split('\n').filter(tag => tag.length > 0)
  } catch {
    return undefined
  }
}

/** Whether the repository at `cwd` is a shallow clone; false when it cannot tell. */
export async function isShallow(cwd: string): Promise<boolean> {
  try {
    const { stdout } = await run('git', ['rev-parse', '--is-shallow-repository'], { cwd })
    return stdout.trim() === 'true'
  } catch {
    return false
  }
}
