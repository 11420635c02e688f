/**
 * Finding every process an instance started, also those that left its process group
 * (`setsid`, double forks, `nohup … &` under a service manager script): each command runs
 * with INSTANCE_MARKER in its environment, which every descendant inherits.
 */
import { readdirSync, readFileSync } from 'node:fs'

/** The environment variable that tags every process a sandbox instance starts. */
export const INSTANCE_MARKER = 'EC2_SANDBOX_INSTANCE'

/** Pids of live processes whose environment has INSTANCE_MARKER starting with `valuePrefix`. */
export function markedProcesses(valuePrefix: string): number[] {
  const wanted = `${INSTANCE_MARKER}=${valuePrefix}`
  const found: number[] = []
  let entries: string[]
  try {
    entries = readdirSync('/proc')
  } catch {
    return found
  }
  for (const entry of entries) {
    if (!/^[0-9]+$/.test(entry) || Number(entry) === process.pid) continue
    let environ: string
    try {
      environ = readFileSync(`/proc/${entry}/environ`, 'latin1')
    } catch {
      continue // gone, or not ours to read
    }
    if (environ.split('\0').some(variable => variable.startsWith(wanted))) found.push(Number(entry))
  }
  return found
}

/**
 * SIGKILLs every marked process, scanning again until none is left, so a child forked while
 * its parent was being killed goes too. Returns how many were killed.
 */
export function killMarkedProcesses(valuePrefix: string, maxRounds = 50): number {
  const killed = new Set<number>()
  for (let round = 0; round < maxRounds; round += 1) {
    const pids = markedProcesses(valuePrefix)
    if (pids.length === 0) break
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL')
        killed.add(pid)
      } catch {
        // already gone
      }
    }
  }
  return killed.size
}

/**
 * A set shared by every copy of the calling module in this process (jest may load a
 * module once per test file), with `onExit` called on it when the process exits.
 */
export function processWideSet<T>(name: string, onExit: (items: Set<T>) => void): Set<T> {
  const key = Symbol.for(`ec2-deploy-actions.${name}`)
  const holder = process as unknown as Record<symbol, Set<T> | undefined>
  const existing = holder[key]
  if (existing) return existing
  const items = new Set<T>()
  holder[key] = items
  process.once('exit', () => onExit(items))
  return items
}
