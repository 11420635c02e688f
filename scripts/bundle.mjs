#!/usr/bin/env node
// Bundles every actions/<name>/main.ts into <out>/<name>/index.js with ncc (ESM, minified).
// Types are checked by `npm run lint` (tsc), so ncc only transpiles. Packages loaded with
// import() become chunk files next to index.js; scripts/bundle-chunks.mjs finishes those.
// Usage: node scripts/bundle.mjs [outDir] [action…]
//   outDir defaults to dist; naming actions rebuilds only those and leaves the others.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chunkFiles, minifyChunks, renderLicenses } from './bundle-chunks.mjs'

const root = resolve(fileURLToPath(import.meta.url), '../..')
const outDir = resolve(root, process.argv[2] ?? 'dist')
const ncc = join(root, 'node_modules/@vercel/ncc/dist/ncc/cli.js')

export function actionNames() {
  return readdirSync(join(root, 'actions'), { withFileTypes: true })
    .filter(
      entry => entry.isDirectory() && existsSync(join(root, 'actions', entry.name, 'main.ts')),
    )
    .map(entry => entry.name)
    .sort()
}

const all = actionNames()
const only = process.argv.slice(3)
const unknown = only.filter(name => !all.includes(name))
if (all.length === 0 || unknown.length > 0) {
  console.error(
    unknown.length > 0
      ? `no actions/<name>/main.ts for: ${unknown.join(', ')}`
      : 'no actions/*/main.ts found',
  )
  process.exit(1)
}
const names = only.length > 0 ? only : all
if (only.length === 0) rmSync(outDir, { recursive: true, force: true })
const scratch = mkdtempSync(join(tmpdir(), 'bundle-stats-'))
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }))
for (const name of names) {
  rmSync(join(outDir, name), { recursive: true, force: true })
  const target = join(outDir, name)
  const stats = join(scratch, `${name}.json`)
  const result = spawnSync(
    process.execPath,
    [
      ncc,
      'build',
      join('actions', name, 'main.ts'),
      '-o',
      target,
      '-m',
      '--license',
      'licenses.txt',
      '--transpile-only',
      '-q',
      '--stats-out',
      stats,
    ],
    { cwd: root, stdio: 'inherit' },
  )
  if (result.status !== 0) {
    console.error(`bundling ${name} failed`)
    process.exit(result.status ?? 1)
  }
  const licenses = renderLicenses(stats, root)
  const written = join(target, 'licenses.txt')
  if (chunkFiles(target).length > 0) {
    await minifyChunks(target)
    writeFileSync(written, licenses)
  } else if (readFileSync(written, 'utf8') !== licenses) {
    // Without chunks ncc's own licenses.txt is complete: ours must be the same, byte for byte.
    console.error(`${name}: scripts/bundle-chunks.mjs renders licenses.txt unlike ncc`)
    process.exit(1)
  }
  console.log(`bundled ${name} → ${relative(root, join(outDir, name, 'index.js'))}`)
}
