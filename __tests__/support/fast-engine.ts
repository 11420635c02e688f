// A stand-in for the host release engine in the sandbox's fast command mode, for fleets too
// large to run the real engine on (hundreds of hosts): it reads the mode and the version from
// the rendered command exactly as the host would get it (gzip + base64 preamble), keeps each
// host's releases, and prints the engine's result line. The real engine is tested under real
// bash elsewhere; this one answers as it does for deploy, noop, rollback and a failed health gate.
import { gunzipSync } from 'node:zlib'
import type { FastCommandContext, FastResult } from '../../dev/aws-sandbox/src/index.js'
import { EXIT_CODES, RESULT_PREFIX } from '../../packages/remote/src/index.js'

/** What the rendered command asks for. */
export interface EngineRequest {
  mode: 'deploy' | 'rollback'
  version: string
}

/** The engine's variables in a rendered command (single-quoted in its packed preamble). */
export function engineRequest(commands: readonly string[]): EngineRequest {
  const start = commands.findIndex(line => line.startsWith('base64 -d <<'))
  if (start < 0) throw new Error('not a rendered engine command')
  const body = gunzipSync(Buffer.from(commands.slice(start + 1, -1).join(''), 'base64')).toString()
  const variable = (name: string) => {
    const match = new RegExp(`^${name}='((?:[^']|'\\\\'')*)'$`, 'm').exec(body)
    return (match?.[1] ?? '').replace(/'\\''/g, "'")
  }
  return {
    mode: variable('EC2D_MODE') === 'rollback' ? 'rollback' : 'deploy',
    version: variable('EC2D_VERSION'),
  }
}

/** One host's releases, oldest first; the last is current. */
export interface HostReleases {
  releases: string[]
}

/** The fake engine: hosts by instance id, and which deploys fail their health gate. */
export class FastEngine {
  readonly hosts = new Map<string, HostReleases>()

  constructor(
    ids: readonly string[],
    initial: string,
    private readonly unhealthy: (instanceId: string, version: string) => boolean = () => false,
    private readonly durationMs = 5,
  ) {
    for (const id of ids) this.hosts.set(id, { releases: [initial] })
  }

  current(id: string): string | undefined {
    return this.hosts.get(id)?.releases.at(-1)
  }

  readonly handler = ({ instance, commands }: FastCommandContext): FastResult => {
    const host = this.hosts.get(instance.id) ?? { releases: [] }
    this.hosts.set(instance.id, host)
    const request = engineRequest(commands)
    const previous = host.releases.at(-1) ?? ''
    const line = (status: string, exitCode: number, version: string, reason = '') => ({
      exitCode,
      durationMs: this.durationMs,
      stdout: `${RESULT_PREFIX}${JSON.stringify({
        status,
        mode: request.mode,
        'exit-code': exitCode,
        'previous-version': previous,
        version,
        'rolled-back': status === 'rolled-back',
        reason,
        'duration-ms': this.durationMs,
        phases: {},
      })}\n`,
    })
    if (request.mode === 'rollback') {
      const target = host.releases.at(-2)
      if (target === undefined)
        return line('failed', EXIT_CODES.failed, '', 'no good release older than the current one')
      host.releases.pop()
      return line('deployed', EXIT_CODES.ok, target, `rolled back to ${target}`)
    }
    if (previous === request.version) return line('noop', EXIT_CODES.ok, request.version)
    if (this.unhealthy(instance.id, request.version))
      return line('rolled-back', EXIT_CODES.rolledBack, request.version, 'health-command failed')
    host.releases.push(request.version)
    return line('deployed', EXIT_CODES.ok, request.version)
  }
}
