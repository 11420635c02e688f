#!/usr/bin/env node
// Runs the build job's first steps on this checkout, from the committed bundles, the way the
// runner would: which environment would a push of this ref deploy to, under which version?
// Usage: npm run preview [-- <ref> [<rules file>]]   e.g. npm run preview -- refs/tags/v1.2.0
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(fileURLToPath(import.meta.url), '../..')
const git = (...args) => execFileSync('git', args, { cwd: root, encoding: 'utf8' }).trim()

const SEED_RULES = `master => develop
develop => develop
qa => qa
staging => staging
feature/* => dev
release/* => staging
main => prod
tag:v*.*.* => prod`

const ref = process.argv[2] ?? `refs/heads/${git('rev-parse', '--abbrev-ref', 'HEAD')}`
const rules = process.argv[3] ? readFileSync(process.argv[3], 'utf8') : SEED_RULES
const sha = git('rev-parse', 'HEAD')

/** Runs dist/<name>/index.js with INPUT_* variables and returns its outputs. */
function runBundled(name, inputs) {
  const work = mkdtempSync(join(tmpdir(), 'preview-'))
  const outputFile = join(work, 'output')
  writeFileSync(outputFile, '')
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    GITHUB_OUTPUT: outputFile,
    GITHUB_REF: ref,
    GITHUB_SHA: sha,
  }
  for (const [key, value] of Object.entries(inputs)) env[`INPUT_${key.toUpperCase()}`] = value
  const result = spawnSync(process.execPath, [join(root, 'dist', name, 'index.js')], {
    cwd: root,
    env,
    encoding: 'utf8',
  })
  for (const line of result.stdout.split('\n').filter(Boolean)) console.log(`  [${name}] ${line}`)
  // GITHUB_OUTPUT holds `name<<DELIMITER`, the value's lines, then DELIMITER.
  const outputs = {}
  const lines = readFileSync(outputFile, 'utf8').split('\n')
  for (let i = 0; i < lines.length; i++) {
    const [key, delimiter] = lines[i].split('<<')
    if (!delimiter) continue
    const value = []
    for (i++; i < lines.length && lines[i] !== delimiter; i++) value.push(lines[i])
    outputs[key] = value.join('\n')
  }
  rmSync(work, { recursive: true, force: true })
  if (result.status !== 0) process.exit(result.status ?? 1)
  return outputs
}

console.log(`ref ${ref} at ${sha.slice(0, 7)}`)
const target = runBundled('resolve-environment', {
  rules,
  production: 'prod, production',
  'on-no-match': 'skip',
})
const version = runBundled('version-tag', {
  'base-version': 'v0.0.0',
  format: '{base}-{branch}-{sha7}',
})
console.log(
  target.deploy === 'true'
    ? `→ deploys ${version.version} to '${target.environment}'${target['is-production'] === 'true' ? ' (production)' : ''} by rule '${target['matched-rule']}'`
    : `→ no rule matches: nothing would be deployed (version would be ${version.version})`,
)
