// The renderer (typed options → SSM commands), the result-line parser, and static checks
// of the engine: shellcheck, the embedded copy, and the exit codes.
import { describe, expect, it } from '@jest/globals'
import { execFileSync, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { ConfigurationError } from '../../packages/kit/src/index.js'
import {
  ENGINE_SCRIPT,
  EXIT_CODES,
  RESULT_PREFIX,
  commandsSize,
  describeExitCode,
  parseResultLine,
  renderCommands,
  type RemoteOptions,
} from '../../packages/remote/src/index.js'
import { requireTool } from '../support/system-tools.js'

const root = resolve(import.meta.dirname, '../..')
const enginePath = join(root, 'packages/remote/engine.sh')
const SHA = 'a'.repeat(64)

const valid: RemoteOptions = {
  deployDir: '/srv/app',
  version: 'v1.2.3',
  environment: 'prod',
  appName: 'webrtc',
  artifactUri: 's3://my-artifacts/webrtc/v1.2.3.zip',
  artifactSha256: SHA,
  sharedPaths: ['.env', 'configs/certs', 'logs/'],
  beforeSwitch: 'npm ci --omit=dev && npx prisma migrate deploy',
  restartCommand: 'systemctl daemon-reload && systemctl restart app',
  healthUrl: 'http://127.0.0.1:3000/health',
  runUrl: 'https://github.com/acme/webrtc/actions/runs/42',
}

function renderError(options: RemoteOptions): string {
  try {
    renderCommands(options)
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError)
    return (error as Error).message
  }
  throw new Error('expected a ConfigurationError')
}

describe('renderCommands', () => {
  it('packs the preamble and the engine with gzip + base64 into a quoted heredoc for bash', () => {
    const commands = renderCommands(valid)
    expect(commands[0]).toBe('#!/bin/sh')
    const start = commands.indexOf(
      "base64 -d <<'EC2D_ENGINE_END' | gunzip | bash /dev/fd/3 3<&0 </dev/null",
    )
    expect(start).toBeGreaterThan(0)
    // The heredoc ends the commands: nothing runs after it.
    expect(commands.indexOf('EC2D_ENGINE_END')).toBe(commands.length - 1)
    const packed = commands.slice(start + 1, -1)
    expect(packed.every(line => /^[A-Za-z0-9+/=]{1,1000}$/.test(line))).toBe(true)
    // Every value sits in the preamble inside the packed body, single-quoted.
    const body = gunzipSync(Buffer.from(packed.join(''), 'base64'))
      .toString('utf8')
      .split('\n')
    expect(body).toContain("EC2D_DEPLOY_DIR='/srv/app'")
    expect(body).toContain("EC2D_VERSION='v1.2.3'")
    // The health gate checks the served version unless told not to.
    expect(body).toContain("EC2D_HEALTH_VERSION='true'")
    expect(body).toContain("EC2D_SHARED_PATHS='.env")
    expect(body).toContain("EC2D_BEFORE_SWITCH='npm ci --omit=dev && npx prisma migrate deploy'")
    expect(body.join('\n')).toContain(ENGINE_SCRIPT.replace(/^#!.*\n/, ''))
    const outside = commands.slice(0, start).join('\n')
    expect(outside).not.toContain('v1.2.3')
    expect(outside).not.toContain('npm ci')
    // Small on the wire: well under half of the engine alone.
    expect(commandsSize(commands)).toBeLessThan(ENGINE_SCRIPT.length / 2)
  })

  it('no value can end the heredoc: base64 lines never equal its delimiter', () => {
    const sneaky = renderCommands({ ...valid, beforeSwitch: 'echo a\nEC2D_ENGINE_END\necho b' })
    expect(sneaky.filter(line => line === 'EC2D_ENGINE_END')).toHaveLength(1)
    expect(sneaky.at(-1)).toBe('EC2D_ENGINE_END')
  })

  it('refuses, before any send, hooks that would make the command too large for SSM', () => {
    const noise = (n: number) => randomBytes(n).toString('base64').slice(0, n)
    const message = renderError({
      ...valid,
      beforeSwitch: noise(16_000),
      stopCommand: noise(16_384),
      restartCommand: noise(12_000),
      healthCommand: noise(100),
    })
    expect(message).toMatch(
      /^input 'stop-command' is too large: the SSM command would be \d+ bytes compressed, over the 60000-byte budget within SSM's 64 KB document limit \('stop-command' 16384 characters, 'before-switch' 16000 characters, 'restart-command' 12000 characters, 'health-command' 100 characters, 'shared-paths' \d+ characters\)/,
    )
  })

  it('passes shellcheck as a POSIX sh script (what SSM runs)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'render-'))
    try {
      const file = join(dir, 'commands.sh')
      writeFileSync(file, `${renderCommands(valid).join('\n')}\n`)
      const result = spawnSync(requireTool('shellcheck'), ['-s', 'sh', file], { encoding: 'utf8' })
      expect(result.stdout + result.stderr).toBe('')
      expect(result.status).toBe(0)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('accepts a rollback without version or artifact', () => {
    const { version: _v, artifactUri: _u, artifactSha256: _s, ...rest } = valid
    expect(() => renderCommands({ ...rest, mode: 'rollback' })).not.toThrow()
  })

  const cases: [string, Partial<RemoteOptions>, RegExp][] = [
    [
      'deploy-dir',
      { deployDir: 'srv/app' },
      /input 'deploy-dir': "srv\/app" is not valid: use an absolute/,
    ],
    ['deploy-dir', { deployDir: '/srv/../etc' }, /'deploy-dir'.*no '\.' or '\.\.' segments/],
    ['deploy-dir', { deployDir: '/srv/app/' }, /'deploy-dir'/],
    ['version', { version: 'v1;rm -rf /' }, /input 'version' "v1;rm -rf \/" is not allowed/],
    ['version', { version: '' }, /input 'version' is required when mode is 'deploy'/],
    ['artifact-uri', { artifactUri: undefined as never }, /'artifact-uri' is required/],
    [
      'artifact-uri',
      { artifactUri: 'https://x.example/a.zip' },
      /'artifact-uri'.*s3:\/\/bucket\/key/,
    ],
    ['artifact-uri', { artifactUri: "s3://b/a'b.zip" }, /'artifact-uri'/],
    [
      'artifact-uri',
      { download: 'presigned', artifactUri: 'http://example.com/a.zip' },
      /'artifact-uri'.*https URL/,
    ],
    [
      'artifact-sha256',
      { artifactSha256: 'ABC' },
      /input 'artifact-sha256': "ABC" is not valid: use 64/,
    ],
    ['download', { download: 'scp' as never }, /input 'download': "scp"/],
    ['mode', { mode: 'yolo' as never }, /input 'mode': "yolo"/],
    ['run-as', { runAs: 'Root User' }, /input 'run-as': "Root User"/],
    ['shared-paths', { sharedPaths: ['../etc'] }, /input 'shared-paths': "\.\.\/etc"/],
    ['shared-paths', { sharedPaths: ['/abs'] }, /input 'shared-paths'/],
    ['shared-paths', { sharedPaths: ['.deploy-release.json'] }, /input 'shared-paths'/],
    ['health-url', { healthUrl: 'ftp://x/health' }, /input 'health-url'/],
    [
      'health-version',
      { healthVersion: 'yes' as never },
      /input 'health-version': "yes" is not valid: use true or false/,
    ],
    ['health-retries', { healthRetries: 0 }, /input 'health-retries': "0".*from 1 to 100/],
    ['health-interval', { healthIntervalMs: -5 }, /input 'health-interval'/],
    ['keep-releases', { keepReleases: 0 }, /input 'keep-releases'/],
    ['lock-timeout', { lockTimeoutMs: 1.5 }, /input 'lock-timeout'/],
    ['before-switch', { beforeSwitch: 'echo\rhi' }, /input 'before-switch'.*printable text/],
    ['stop-command', { stopCommand: 'x'.repeat(20_000) }, /input 'stop-command'.*at most/],
    ['environment', { environment: 'prod env' }, /input 'environment'/],
    ['app-name', { appName: '$(id)' }, /input 'app-name'/],
    ['run-url', { runUrl: 'javascript:alert(1)' }, /input 'run-url'/],
    ['commit', { commit: 'HEAD;id' }, /input 'commit': "HEAD;id".*commit sha/],
  ]
  it.each(cases)(
    'rejects a bad %s, naming the input, the value and the rule',
    (_input, bad, message) => {
      expect(renderError({ ...valid, ...bad })).toMatch(message)
    },
  )
})

describe('parseResultLine', () => {
  const line =
    'DEPLOY_RESULT {"status":"rolled-back","mode":"deploy","exit-code":20,"previous-version":"v1","version":"v2","release":"20261123T120000000Z-v2","previous-release":"20261122T120000000Z-v1","rolled-back":true,"reason":"health check failed; rolled back to v1","duration-ms":5120,"phases":{"lock":3,"fetch":900,"health":4000}}'

  it('returns the typed result of the last line', () => {
    expect(parseResultLine(`::deploy-phase:: lock\nsome log\n${line}\n`)).toEqual({
      status: 'rolled-back',
      mode: 'deploy',
      exitCode: 20,
      previousVersion: 'v1',
      version: 'v2',
      release: '20261123T120000000Z-v2',
      previousRelease: '20261122T120000000Z-v1',
      rolledBack: true,
      reason: 'health check failed; rolled back to v1',
      durationMs: 5120,
      phases: { lock: 3, fetch: 900, health: 4000 },
      warnings: [],
    })
  })

  it('returns the warnings the host listed (strings only)', () => {
    const warned = line.replace(/}$/, ',"warnings":["hooks run as root",7,"shared/.env missing"]}')
    expect(parseResultLine(warned)?.warnings).toEqual(['hooks run as root', 'shared/.env missing'])
  })

  it('survives output cut at the front, CRLF line ends and trailing blank lines', () => {
    const output = `${'x'.repeat(30_000)}\n${line}\r\n\r\n`
    expect(parseResultLine(output.slice(-24_000))?.status).toBe('rolled-back')
  })

  it('takes only a line that starts with the prefix, the last one', () => {
    const spoof = line.replace('"rolled-back"', '"deployed"')
    expect(parseResultLine(`  | ${spoof}\n${line}`)?.status).toBe('rolled-back')
    expect(parseResultLine(`${spoof}\n${line}`)?.status).toBe('rolled-back')
  })

  it('returns undefined for no result, a cut result, or malformed JSON', () => {
    expect(parseResultLine('::deploy-phase:: fetch\n')).toBeUndefined()
    expect(parseResultLine(line.slice(0, 80))).toBeUndefined()
    expect(parseResultLine(`${RESULT_PREFIX}{"status":"deployed"}`)).toBeUndefined()
    expect(
      parseResultLine(
        `${RESULT_PREFIX}{"status":"weird","mode":"deploy","exit-code":0,"rolled-back":false,"duration-ms":1,"phases":{}}`,
      ),
    ).toBeUndefined()
  })
})

describe('the engine script', () => {
  it('is shellcheck-clean', () => {
    const result = spawnSync(requireTool('shellcheck'), [enginePath], { encoding: 'utf8' })
    expect(result.stdout + result.stderr).toBe('')
    expect(result.status).toBe(0)
  })

  it('is embedded unchanged (run node scripts/embed-remote.mjs after editing engine.sh)', () => {
    expect(ENGINE_SCRIPT).toBe(readFileSync(enginePath, 'utf8'))
    execFileSync(process.execPath, [join(root, 'scripts/embed-remote.mjs'), '--check'], {
      stdio: 'pipe',
    })
  })

  it('declares exactly the exit codes the TypeScript side knows, never 194', () => {
    const declared = Object.fromEntries(
      [...ENGINE_SCRIPT.matchAll(/^readonly EXIT_([A-Z_]+)=(\d+)/gm)].map(m => [
        m[1],
        Number(m[2]),
      ]),
    )
    expect(declared).toEqual({
      OK: EXIT_CODES.ok,
      FAILED: EXIT_CODES.failed,
      LOCK_TIMEOUT: EXIT_CODES.lockTimeout,
      ROLLED_BACK: EXIT_CODES.rolledBack,
      ROLLBACK_FAILED: EXIT_CODES.rollbackFailed,
      INTERNAL: EXIT_CODES.internal,
    })
    expect(Object.values(EXIT_CODES)).not.toContain(194)
    // The only exit in the script is finish's, with one of those codes.
    const exits = ENGINE_SCRIPT.split('\n')
      .filter(line => !/^\s*#/.test(line))
      .flatMap(line => [...line.matchAll(/(?:^|[\s;&|])exit(?!\s+code\b)(?:\s+(\S+))?(?=\s|$)/g)])
      .map(match => match[1])
    expect(exits).toEqual(['"$code"'])
    for (const code of Object.values(EXIT_CODES)) {
      expect(describeExitCode(code)).not.toMatch(/unexpected exit code/)
    }
    expect(describeExitCode(194)).toMatch(/unexpected exit code 194/)
  })
})
