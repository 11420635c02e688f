// End to end: the bundled dist/package-zip run as the runner runs it.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runBundledAction } from '../support/bundled-action.js'
import {
  assertReadersAccept,
  describeTree,
  makeTree,
  tempDir,
  unzipTo,
} from '../artifact/support.js'
import { ArtifactServiceStandIn } from '../../dev/github-runner/src/index.js'

function appTree(): string {
  const root = tempDir('app')
  makeTree(root, {
    'server.js': 'console.log("hello")\n'.repeat(100),
    'bin/start': { content: '#!/bin/sh\nexec node server.js\n', mode: 0o755 },
    'public/logo.png': Buffer.alloc(2000, 7),
    logs: 'dir',
    current: { link: 'server.js' },
    '.git/HEAD': 'ref: refs/heads/main\n',
  })
  return root
}

const sha256Of = (file: string): string =>
  createHash('sha256').update(readFileSync(file)).digest('hex')

describe('package-zip action', () => {
  const service = new ArtifactServiceStandIn()
  beforeAll(async () => {
    await service.start()
  })
  afterAll(async () => {
    await service.stop()
  })

  it('packs the workspace and reports file, sha256, size and files', async () => {
    const workspace = appTree()
    const outputDir = tempDir('out')
    const run = await runBundledAction('package-zip', {
      cwd: workspace,
      inputs: { app: 'web', version: 'v1.2.3-main-abc1234', 'output-dir': outputDir },
      env: { SOURCE_DATE_EPOCH: '1700000000' },
      timeoutMs: 120_000,
    })
    expect(run.errors).toEqual([])
    expect(run.exitCode).toBe(0)
    const file = join(outputDir, 'web-v1.2.3-main-abc1234.zip')
    expect(run.outputs).toEqual({
      file,
      sha256: sha256Of(file),
      size: String(readFileSync(file).length),
      files: '4',
      'artifact-id': '',
      'artifact-digest': '',
    })
    assertReadersAccept(file)
    const extracted = describeTree(unzipTo(file))
    const source = describeTree(workspace)
    for (const key of Object.keys(source)) if (key.startsWith('.git')) delete source[key]
    expect(extracted).toEqual(source)
    expect(run.stdout).toMatch(/Entry timestamp: 2023-11-14T22:13:20.000Z \(SOURCE_DATE_EPOCH\)/)
  })

  it('gives the same bytes on a second run, and uses the commit time of GITHUB_SHA', async () => {
    const workspace = appTree()
    const git = (...args: string[]): string =>
      execFileSync('git', ['-C', workspace, ...args], {
        encoding: 'utf8',
        env: { ...process.env, GIT_COMMITTER_DATE: '@1600000000 +0000' },
      }).trim()
    git('init', '-q')
    git('add', 'server.js')
    git('-c', 'user.name=t', '-c', 'user.email=t@example.invalid', 'commit', '-q', '-m', 'x')
    const sha = git('rev-parse', 'HEAD')
    const runs = []
    for (let i = 0; i < 2; i++) {
      const outputDir = tempDir('out')
      runs.push(
        await runBundledAction('package-zip', {
          cwd: workspace,
          inputs: { name: 'app.zip', 'output-dir': outputDir },
          env: { GITHUB_SHA: sha, SOURCE_DATE_EPOCH: undefined },
          timeoutMs: 120_000,
        }),
      )
      // Touching files between runs changes nothing in the zip.
      writeFileSync(join(workspace, 'server.js'), readFileSync(join(workspace, 'server.js')))
    }
    const [first, second] = runs
    expect(first?.exitCode).toBe(0)
    expect(first?.stdout).toMatch(/Entry timestamp: 2020-09-13T12:26:40.000Z \(commit\)/)
    expect(second?.outputs.sha256).toBe(first?.outputs.sha256)
  })

  it('uploads the zip as a workflow artifact, which downloadWorkflowArtifact fetches back', async () => {
    const workspace = appTree()
    const outputDir = tempDir('out')
    const run = await runBundledAction('package-zip', {
      cwd: workspace,
      inputs: {
        app: 'web',
        version: 'v2.0.0',
        'output-dir': outputDir,
        'artifact-name': 'release-zip',
        'retention-days': '3',
      },
      env: service.env(),
      timeoutMs: 120_000,
    })
    expect(run.errors).toEqual([])
    expect(run.exitCode).toBe(0)
    const stored = service.artifacts.get('release-zip')
    expect(stored?.finalized).toBe(true)
    expect(run.outputs['artifact-id']).toBe(String(stored?.id))
    // The digest is of what the service stored (its own wrapping zip), as the service got it.
    const storedDigest = `sha256:${createHash('sha256')
      .update(stored?.content ?? '')
      .digest('hex')}`
    expect(run.outputs['artifact-digest']).toBe(storedDigest)
    expect(stored?.hash).toBe(storedDigest)
    // Retention reaches the service as an expiry about 3 days out (Twirp JSON uses the
    // proto field names).
    const expiresAt = Date.parse(String(stored?.createRequest.expires_at))
    expect(Math.round((expiresAt - Date.now()) / 86_400_000)).toBe(3)

    // The deploy job's side, in this process against the same stand-in.
    const saved = { ...process.env }
    Object.assign(process.env, service.env(), { GITHUB_SERVER_URL: 'https://github.com' })
    try {
      const { downloadWorkflowArtifact } = await import('../../packages/github/src/index.js')
      const dest = tempDir('download')
      const files = await downloadWorkflowArtifact('release-zip', dest)
      expect(files).toEqual([join(dest, 'web-v2.0.0.zip')])
      expect(sha256Of(files[0] as string)).toBe(run.outputs.sha256)
      const checked = await downloadWorkflowArtifact('release-zip', tempDir('checked'), {
        expectedDigest: storedDigest,
      })
      expect(checked.map(file => sha256Of(file))).toEqual([run.outputs.sha256])
      const forged = `sha256:${'0'.repeat(64)}`
      const refusedDir = tempDir('refused')
      await expect(
        downloadWorkflowArtifact('release-zip', refusedDir, { expectedDigest: forged }),
      ).rejects.toThrow(
        `input 'artifact-digest': workflow artifact "release-zip" (id ${stored?.id}) does not have the digest ${forged}`,
      )
      expect(readdirSync(refusedDir)).toEqual([])
      await expect(downloadWorkflowArtifact('no-such-artifact', dest)).rejects.toThrow(
        /workflow artifact "no-such-artifact" was not found in this run: upload it in an earlier job/,
      )
    } finally {
      process.env = saved
    }
  })

  it.each([
    [
      { app: 'web;rm -rf /', version: 'v1' },
      /input 'app' "web;rm -rf \/" is not allowed: start with a letter or digit/,
    ],
    [{ app: 'web', version: 'v1/../../etc' }, /input 'version' "v1\/..\/..\/etc" is not allowed/],
    [
      { app: 'web' },
      /input 'name': "\{app\}-\{version\}.zip" uses \{version\}, which has no value here/,
    ],
    [
      { name: '../escape.zip' },
      /input 'name' "..\/escape.zip" is not allowed: use a plain file name/,
    ],
    [{ name: '{sha}.zip' }, /input 'name': "\{sha\}.zip" uses the unknown placeholder \{sha\}/],
    [
      { name: 'a.zip', level: '10' },
      /input 'level': "10" is not valid: use a whole number from 0 to 9/,
    ],
    [
      { name: 'a.zip', symlinks: 'yes' },
      /input 'symlinks': "yes" is not valid: use one of 'error', 'skip', 'follow'/,
    ],
    [
      { name: 'a.zip', 'retention-days': '91' },
      /input 'retention-days': "91" is not valid: use a whole number from 0 to 90/,
    ],
    [
      { name: 'a.zip', 'artifact-name': 'bad/name' },
      /input 'artifact-name' "bad\/name" is not allowed/,
    ],
    [
      { name: 'a.zip', include: 'nothing/**' },
      /input 'include': nothing under input 'path' "\." matches include "nothing\/\*\*"/,
    ],
    [{ name: 'a.zip', path: 'missing-dir' }, /input 'path': "missing-dir" cannot be read/],
  ])('fails on bad input %j, naming the input and the rule', async (inputs, message) => {
    const run = await runBundledAction('package-zip', {
      cwd: appTree(),
      inputs: { 'output-dir': tempDir('out'), ...inputs },
      timeoutMs: 120_000,
    })
    expect(run.exitCode).not.toBe(0)
    expect(run.errors.join('\n')).toMatch(message)
  })

  it('fails naming the symlink and the rule when one points outside path', async () => {
    const workspace = appTree()
    makeTree(workspace, { 'config/creds': { link: '/etc/passwd' } })
    const run = await runBundledAction('package-zip', {
      cwd: workspace,
      inputs: { name: 'a.zip', 'output-dir': tempDir('out') },
      timeoutMs: 120_000,
    })
    expect(run.exitCode).not.toBe(0)
    expect(run.errors.join('\n')).toMatch(
      /input 'symlinks': symlink "config\/creds" \(-> "\/etc\/passwd"\) points outside input 'path'/,
    )
  })
})
