#!/usr/bin/env node
// Rebuilds every bundle into a temporary directory and fails on any difference from dist/.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(fileURLToPath(import.meta.url), '../..')
const fresh = mkdtempSync(join(tmpdir(), 'check-dist-'))

function files(dir) {
  const out = []
  const walk = current => {
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const path = join(current, entry.name)
      if (entry.isDirectory()) walk(path)
      else out.push(relative(dir, path))
    }
  }
  try {
    if (statSync(dir).isDirectory()) walk(dir)
  } catch {
    // a missing dist/ has no files; every fresh file then counts as a difference
  }
  return out.sort()
}

try {
  const built = spawnSync(process.execPath, [join(root, 'scripts/bundle.mjs'), fresh], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  if (built.status !== 0) process.exit(built.status ?? 1)
  const committed = join(root, 'dist')
  const want = files(fresh)
  const have = files(committed)
  const differences = [
    ...want.filter(f => !have.includes(f)).map(f => `missing from dist/: ${f}`),
    ...have.filter(f => !want.includes(f)).map(f => `stale file in dist/: ${f}`),
    ...want
      .filter(f => have.includes(f))
      .filter(f => !readFileSync(join(fresh, f)).equals(readFileSync(join(committed, f))))
      .map(f => `differs: dist/${f}`),
  ]
  if (differences.length > 0) {
    console.error(differences.join('\n'))
    console.error('dist/ is out of date: run `npm run bundle` and commit dist/.')
    process.exit(1)
  }
  console.log(`dist/ matches the sources (${want.length} files).`)
} finally {
  rmSync(fresh, { recursive: true, force: true })
}
