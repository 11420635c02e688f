#!/usr/bin/env node
// package-zip against Info-ZIP, side by side in one run, on the same tree.
//
//   node bench/zip/bench.mjs [tree] [runs]     (defaults: node_modules, 5)
//
// The tree is copied to a temporary directory first, so it cannot change mid-run.
// Baseline: `zip -qr -6 -y` (Info-ZIP; -y stores symlinks as symlinks, as we do: without
// it zip would pack what node_modules/.bin/* point to a second time). Ours: the packaging
// code run by the action (packages/artifact, bundled like the action, on Node 24), at
// its default level 5 and at level 6. Runs alternate between the tools after one warm-up
// of each, so load from other processes hits both alike; medians are printed with the
// spread, and the CPU seconds (user + sys), which load does not inflate.
// Peak memory is the maximum resident set size reported by /usr/bin/time.
// The machine is shared: when other work keeps its cores busy, our parallel speed-up
// shrinks and the wall-time ratio tends to the CPU-time ratio. Read both.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { performance } from 'node:perf_hooks'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(fileURLToPath(import.meta.url), '../../..')
const source = resolve(root, process.argv[2] ?? 'node_modules')
const runs = Number(process.argv[3] ?? 5)
const node24 = join(root, 'node_modules/node/bin/node')
const work = mkdtempSync(join(tmpdir(), 'bench-zip-'))
const hasTime = existsSync('/usr/bin/time')

// Build first: ncc writes caches into node_modules, which must not change mid-benchmark.
const cli = join(work, 'cli')
const build = spawnSync(
  process.execPath,
  [
    join(root, 'node_modules/@vercel/ncc/dist/ncc/cli.js'),
    'build',
    'bench/zip/pack-cli.ts',
    '-o',
    cli,
    '-q',
    '-t',
  ],
  { cwd: root, stdio: 'inherit' },
)
if (build.status !== 0) process.exit(build.status ?? 1)

// Both tools read a private copy: the shared node_modules changes while other work runs
// (installs, ncc caches), and a file changing under a run makes it fail or differ.
const tree = join(work, 'tree')
const copy = spawnSync('cp', ['-a', source, tree], { stdio: 'inherit' })
if (copy.status !== 0) process.exit(copy.status ?? 1)

const tools = {
  'info-zip -6': out => ['zip', ['-qr', '-6', '-y', out, '.'], tree],
  'ours -5 (def)': out => [node24, [join(cli, 'index.js'), tree, out, '5'], root],
  'ours -6': out => [node24, [join(cli, 'index.js'), tree, out, '6'], root],
}

function measure(name) {
  const out = join(work, `${name.replace(/\W+/g, '_')}.zip`)
  rmSync(out, { force: true }) // zip would update an existing archive
  const [command, args, cwd] = tools[name](out)
  const timed = hasTime
    ? ['/usr/bin/time', ['-f', 'BENCH %M %U %S', command, ...args]]
    : [command, args]
  const start = performance.now()
  const result = spawnSync(timed[0], timed[1], { cwd, encoding: 'utf8', maxBuffer: 64 << 20 })
  const seconds = (performance.now() - start) / 1000
  if (result.status !== 0) {
    console.error(`${name} failed (exit ${result.status}):\n${result.stdout}\n${result.stderr}`)
    process.exit(1)
  }
  const [, rssKb, user, sys] = /BENCH (\d+) ([\d.]+) ([\d.]+)/.exec(result.stderr) ?? []
  return {
    seconds,
    size: statSync(out).size,
    rssMb: rssKb ? Number(rssKb) / 1024 : NaN,
    cpu: user ? Number(user) + Number(sys) : NaN,
  }
}

const median = values => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

const du = spawnSync('du', ['-sb', tree], { encoding: 'utf8' }).stdout.split('\t')[0]
const count = spawnSync('sh', ['-c', `find "${tree}" | wc -l`], { encoding: 'utf8' }).stdout.trim()
console.log(
  `tree: a copy of ${source} (${(Number(du) / 2 ** 20).toFixed(0)} MiB, ${count} paths); ${runs} runs each`,
)
console.log(
  `load average at start: ${loadavg()
    .map(l => l.toFixed(2))
    .join(' ')}`,
)

const results = Object.fromEntries(Object.keys(tools).map(name => [name, []]))
for (const name of Object.keys(tools)) measure(name) // warm the page cache
for (let i = 0; i < runs; i++) {
  for (const name of Object.keys(tools)) results[name].push(measure(name))
}

const base = results['info-zip -6']
const baseWall = median(base.map(r => r.seconds))
const baseSize = median(base.map(r => r.size))
console.log('')
console.log(
  'tool          wall median (min–max)      cpu s   size bytes    peak RSS   wall×    size×',
)
for (const [name, rows] of Object.entries(results)) {
  const walls = rows.map(r => r.seconds)
  const wall = median(walls)
  const size = median(rows.map(r => r.size))
  console.log(
    [
      name.padEnd(13),
      `${wall.toFixed(2)} s (${Math.min(...walls).toFixed(2)}–${Math.max(...walls).toFixed(2)})`.padEnd(
        26,
      ),
      median(rows.map(r => r.cpu))
        .toFixed(2)
        .padStart(6),
      String(size).padStart(12),
      `${median(rows.map(r => r.rssMb)).toFixed(0)} MB`.padStart(10),
      (wall / baseWall).toFixed(2).padStart(7),
      (size / baseSize).toFixed(3).padStart(8),
    ].join('  '),
  )
}
console.log(
  `\nload average at end: ${loadavg()
    .map(l => l.toFixed(2))
    .join(' ')}`,
)
console.log('target: ours wall× ≤ 0.60 at size× ≤ 1.020')
rmSync(work, { recursive: true, force: true })
