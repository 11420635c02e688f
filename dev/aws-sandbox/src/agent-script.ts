/**
 * Runs one command invocation as the SSM agent does: the `commands` joined by newlines into
 * `_script.sh`, run by `sh` in its own process group, with stdout and stderr written to
 * files in the invocation's orchestration directory. Completion is the exit of `sh` itself
 * (background services it started may keep running and keep the files open, as on a host).
 */
import { spawn } from 'node:child_process'
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { dirname, isAbsolute, join } from 'node:path'
import { killProcessGroup, type SandboxInstance } from './instances.js'
import { INSTANCE_MARKER } from './processes.js'

/** How a run ended. */
export interface RunOutcome {
  /** Exit code of `sh`, or null when it was killed by a signal. */
  exitCode: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** A started run. */
export interface RunningScript {
  /** The process group id (the pid of `sh`). */
  readonly processGroup: number
  /** Where `_script.sh`, `stdout` and `stderr` are. */
  readonly orchestrationDir: string
  /** Resolves when `sh` exits (never rejects). */
  readonly done: Promise<RunOutcome>
  /** SIGKILLs the whole process group. */
  kill(): void
}

/** What to run and where. */
export interface RunScriptOptions {
  instance: SandboxInstance
  commandId: string
  commands: readonly string[]
  /** Absolute directory the script starts in. */
  workingDirectory: string
  /** Environment of the run (already merged). */
  env: Record<string, string>
  /** How many characters of each stream to read back (the rest stays in the files). */
  readLimits: { stdout: number; stderr: number }
  /**
   * Where the script and its output go; default the invocation's orchestration directory.
   * One path for both streams interleaves them in one file (a log), opened for appending.
   */
  files?: ScriptFiles
}

/** Absolute paths of a run's script and its output files. */
export interface ScriptFiles {
  script: string
  stdout: string
  stderr: string
}

/** The orchestration directory the agent uses for one invocation, under the instance. */
export function orchestrationDir(instance: SandboxInstance, commandId: string): string {
  return join(
    instance.dir,
    'var/lib/amazon/ssm',
    instance.id,
    'document/orchestration',
    commandId,
    'awsrunShellScript/0.awsrunShellScript',
  )
}

/**
 * Mounts each private dir, then runs the script. Arguments: the scratch dir, the number of
 * overlay roots and the roots, then (source, target) pairs. A target missing on the machine
 * is created only inside the namespace: its nearest existing ancestor gets an overlay whose
 * writable layer is a tmpfs, so nothing is left on the machine's own disk.
 */
const PRIVATE_MOUNTS = `script=$0 scratch=$1 roots=$2
shift 2
if [ "$roots" -gt 0 ]; then mount -t tmpfs sandbox-scratch "$scratch" || exit 1; fi
i=0
while [ "$i" -lt "$roots" ]; do
  mkdir "$scratch/upper$i" "$scratch/work$i" &&
    mount -t overlay sandbox-overlay -o "lowerdir=$1,upperdir=$scratch/upper$i,workdir=$scratch/work$i" "$1" || exit 1
  i=$((i + 1))
  shift
done
while [ "$#" -gt 0 ]; do
  mkdir -p "$2" && mount --bind "$1" "$2" || exit 1
  shift 2
done
exec sh "$script"`

/** Characters an overlay mount option cannot carry in a path. */
const OVERLAY_UNSAFE = /[,:\\]/

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory()
  } catch {
    return false
  }
}

/** The nearest ancestor of `path` that exists on the machine (below /). */
function existingAncestor(path: string): string {
  let ancestor = dirname(path)
  while (ancestor !== '/' && !existsSync(ancestor)) ancestor = dirname(ancestor)
  if (ancestor === '/' || !isDirectory(ancestor) || OVERLAY_UNSAFE.test(ancestor)) {
    throw new Error(
      `private dir ${JSON.stringify(path)} cannot be made: its nearest existing parent ${JSON.stringify(ancestor)} must be a directory below / without ',', ':' or '\\'`,
    )
  }
  return ancestor
}

/** The topmost of `paths`: none is inside another. */
function outermost(paths: string[]): string[] {
  const unique = [...new Set(paths)]
  return unique.filter(
    path => !unique.some(other => other !== path && path.startsWith(`${other}/`)),
  )
}

/**
 * The program and arguments that run `_script.sh`: plain `sh`, or, when the instance has
 * private directories, `unshare --mount` with each one bind-mounted from the instance's own
 * tree before `exec sh`; inside its network namespace when it has a private network.
 * unshare execs in place, so the pid and process group stay the same.
 */
export function scriptCommand(instance: SandboxInstance, scriptPath: string): [string, string[]] {
  const [program, args] = inOwnMounts(instance, scriptPath)
  // nsenter without --pid execs in place too: same pid, same process group.
  return instance.netns
    ? ['nsenter', [`--net=${instance.netns}`, '--', program, ...args]]
    : [program, args]
}

/** `sh _script.sh`, inside the instance's private mounts when it has private dirs. */
function inOwnMounts(instance: SandboxInstance, scriptPath: string): [string, string[]] {
  if (instance.privateDirs.length === 0) return ['sh', [scriptPath]]
  for (const target of instance.privateDirs) {
    if (!isAbsolute(target) || target === '/')
      throw new Error(`private dir ${JSON.stringify(target)} must be an absolute path below /`)
    mkdirSync(join(instance.dir, 'root', target), { recursive: true })
  }
  const missing = instance.privateDirs.filter(target => !isDirectory(target))
  const roots = outermost(missing.map(existingAncestor))
  const scratch = join(instance.dir, '.private-mounts')
  if (roots.length > 0 && OVERLAY_UNSAFE.test(scratch))
    throw new Error(`sandbox dir ${JSON.stringify(scratch)} must not contain ',', ':' or '\\'`)
  mkdirSync(scratch, { recursive: true })
  // Paths travel as positional parameters, never inside the script text.
  const pairs = instance.privateDirs.flatMap(target => [join(instance.dir, 'root', target), target])
  return inPrivateMountNamespace(PRIVATE_MOUNTS, [
    scriptPath,
    scratch,
    String(roots.length),
    ...roots,
    ...pairs,
  ])
}

/**
 * The program and arguments that run `sh -c script` in a private mount namespace of its own
 * (root only), with `args` as its positional parameters ($0, $1, …).
 */
export function inPrivateMountNamespace(
  script: string,
  args: readonly string[],
): [string, string[]] {
  return ['unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, ...args]]
}

/** Starts `sh _script.sh` for one invocation. Throws only if the process cannot be spawned. */
export function runScript(options: RunScriptOptions): RunningScript {
  const dir = orchestrationDir(options.instance, options.commandId)
  const files = options.files ?? {
    script: join(dir, '_script.sh'),
    stdout: join(dir, 'stdout'),
    stderr: join(dir, 'stderr'),
  }
  for (const path of new Set([files.script, files.stdout, files.stderr]))
    mkdirSync(dirname(path), { recursive: true })
  const scriptPath = files.script
  writeFileSync(scriptPath, `${options.commands.join('\n')}\n`, { mode: 0o700 })
  const stdoutPath = files.stdout
  const stderrPath = files.stderr
  const combined = stdoutPath === stderrPath
  const stdoutFd = openSync(stdoutPath, combined ? 'a' : 'w')
  const stderrFd = combined ? stdoutFd : openSync(stderrPath, 'w')
  let child
  try {
    const [program, args] = scriptCommand(options.instance, scriptPath)
    child = spawn(program, args, {
      cwd: options.workingDirectory,
      env: { ...options.env, [INSTANCE_MARKER]: options.instance.marker },
      // A new session, so the script and everything it starts share one process group.
      detached: true,
      stdio: ['ignore', stdoutFd, stderrFd],
    })
  } finally {
    closeSync(stdoutFd)
    if (!combined) closeSync(stderrFd)
  }
  const pid = child.pid
  if (pid === undefined) {
    // spawn reports the failure through 'error'; keep the shape uniform.
    const failed = new Promise<RunOutcome>(resolve => {
      child.once('error', error =>
        resolve({ exitCode: 127, signal: null, stdout: '', stderr: `${error.message}\n` }),
      )
    })
    return {
      processGroup: -1,
      orchestrationDir: dirname(scriptPath),
      done: failed,
      kill: () => undefined,
    }
  }
  options.instance.processGroups.add(pid)
  const done = new Promise<RunOutcome>(resolve => {
    child.once('exit', (code, signal) => {
      resolve({
        exitCode: code,
        signal,
        stdout: readHead(stdoutPath, options.readLimits.stdout),
        stderr: readHead(stderrPath, options.readLimits.stderr),
      })
    })
    child.once('error', error =>
      resolve({ exitCode: 127, signal: null, stdout: '', stderr: `${error.message}\n` }),
    )
  })
  return {
    processGroup: pid,
    orchestrationDir: dirname(scriptPath),
    done,
    kill: () => killProcessGroup(pid),
  }
}

/** The first `chars` characters of a UTF-8 file (reads at most 4 bytes per character). */
export function readHead(path: string, chars: number): string {
  let fd
  try {
    fd = openSync(path, 'r')
  } catch {
    return ''
  }
  try {
    const buffer = Buffer.alloc(chars * 4)
    let length = 0
    while (length < buffer.length) {
      const read = readSync(fd, buffer, length, buffer.length - length, null)
      if (read === 0) break
      length += read
    }
    return Array.from(buffer.subarray(0, length).toString('utf8')).slice(0, chars).join('')
  } finally {
    closeSync(fd)
  }
}
