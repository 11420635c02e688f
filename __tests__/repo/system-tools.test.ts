import { describe, expect, it } from '@jest/globals'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inPrivateMountNamespace } from '../../dev/aws-sandbox/src/index.js'
import { repoRoot } from '../support/bundled-action.js'

// `npm test` starts with scripts/system-tools.mjs: a missing tool is installed (as root) or
// named with its Debian package. Each case hides shellcheck in a private mount namespace.
const script = join(repoRoot, 'scripts/system-tools.mjs')
const shellcheck = spawnSync('sh', ['-c', 'command -v shellcheck'], {
  encoding: 'utf8',
}).stdout.trim()

/** Runs the script with shellcheck hidden (/dev/null mounted over it), as `user`. */
function withoutShellcheck(mode: string, options: { user?: string; path?: string } = {}) {
  const run = [...(options.user ? ['runuser', '-u', options.user, '--'] : []), 'env']
  const hide = `mount --bind /dev/null "$0" && exec "$@"`
  const [program, args] = inPrivateMountNamespace(hide, [
    shellcheck,
    ...run,
    `PATH=${options.path ?? process.env.PATH}`,
    process.execPath,
    script,
    mode,
  ])
  return spawnSync(program, args, { encoding: 'utf8' })
}

describe('the system tools check before npm test', () => {
  it('lists every tool in one table, with its Debian package', () => {
    expect(JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).scripts.pretest).toBe(
      'node scripts/system-tools.mjs --install',
    )
    const table = JSON.parse(readFileSync(join(repoRoot, 'scripts/system-tools.json'), 'utf8'))
    expect(table.tools).toMatchObject({ shellcheck: 'shellcheck', unzip: 'unzip', aws: 'awscli' })
  })

  it('is what .ci/run relies on: it runs exactly npm test, with no tool list of its own', () => {
    const ci = readFileSync(join(repoRoot, '.ci/run'), 'utf8')
    const commands = ci.split('\n').filter(line => /^npm /.test(line))
    expect(commands).toEqual([
      'npm ci --no-audit --no-fund',
      'npm test',
      'npm run lint',
      'npm run check-dist',
    ])
    expect(ci).not.toMatch(/apt-get|shellcheck/)
  })

  it('passes on this machine, where every tool is installed', () => {
    const run = spawnSync(process.execPath, [script, '--check'], { encoding: 'utf8' })
    expect(run.stderr).toBe('')
    expect(run.status).toBe(0)
  })

  it('names a tool that comes from npm with its pinned npm package', () => {
    const pm2 = spawnSync('sh', ['-c', 'command -v pm2'], { encoding: 'utf8' }).stdout.trim()
    expect(pm2).not.toBe('')
    const hide = `mount --bind /dev/null "$0" && exec "$@"`
    const [program, args] = inPrivateMountNamespace(hide, [
      pm2,
      ...['runuser', '-u', 'nobody', '--', process.execPath, script, '--install'],
    ])
    const run = spawnSync(program, args, { encoding: 'utf8' })
    const table = JSON.parse(readFileSync(join(repoRoot, 'scripts/system-tools.json'), 'utf8'))
    expect(table.npmGlobal.pm2).toMatch(/^pm2@\d+\.\d+\.\d+$/)
    expect(run.stderr.trim().split('\n')).toContain(
      `missing system tool: pm2 (install the npm package: npm install -g ${table.npmGlobal.pm2})`,
    )
    expect(run.status).toBe(1)
  })

  it('names a missing tool and its package in one line when it cannot install', () => {
    expect(shellcheck).not.toBe('')
    const run = withoutShellcheck('--install', { user: 'nobody' })
    expect(run.stderr.trim().split('\n')).toContain(
      'missing system tool: shellcheck (install the Debian package: apt-get install shellcheck)',
    )
    expect(run.status).toBe(1)
  })

  /** Runs --install with shellcheck hidden and a stand-in apt-get running `install`. */
  function installWithStandIn(install: string) {
    // The real apt-get would reach the network: the stand-in records its arguments.
    const bin = mkdtempSync(join(tmpdir(), 'apt-get-'))
    try {
      const script = `#!/bin/sh\necho "$*" >> "${bin}/calls"\ncase "$1" in install) ${install} ;; esac\n`
      writeFileSync(join(bin, 'apt-get'), script, { mode: 0o755 })
      const run = withoutShellcheck('--install', { path: `${bin}:${process.env.PATH}` })
      return { ...run, calls: readFileSync(join(bin, 'calls'), 'utf8') }
    } finally {
      rmSync(bin, { recursive: true, force: true })
    }
  }

  it('installs a missing tool with apt-get as root, then passes', () => {
    // This "install" puts a shellcheck on PATH, next to the stand-in.
    const run = installWithStandIn(
      `printf '#!/bin/sh\\n' > "$(dirname "$0")/shellcheck"; chmod +x "$(dirname "$0")/shellcheck"`,
    )
    expect(run.calls).toBe('update -qq\ninstall -y -qq --no-install-recommends shellcheck\n')
    expect(run.stderr).toBe('system tools: installing shellcheck with apt-get\n')
    expect(run.status).toBe(0)
  })

  it('still names the tool when apt-get did not install it', () => {
    const run = installWithStandIn('true')
    expect(run.stderr).toContain('system tools: installing shellcheck with apt-get')
    expect(run.stderr).toContain('missing system tool: shellcheck')
    expect(run.status).toBe(1)
  })
})
