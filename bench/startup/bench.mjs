#!/usr/bin/env node
// Cold start of every bundle against configure-aws-credentials' bundle, side by side.
//
//   node bench/startup/bench.mjs --baseline DIR [--runs 7] [--warmup 1]
//        [--dist [LABEL=]DIR]… [--only a,b] [--print-command NAME]
//
// Each run starts `node24 <bundle>/index.js` the way the runner starts a step whose required
// inputs were left empty: every input the action.yml declares is set as INPUT_<NAME> to its
// default (or ''), GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, GITHUB_ENV and RUNNER_TEMP point to
// temporary files, and nothing else is inherited (no AWS_* variable, so no step reaches AWS).
// A step fails on its inputs; the time is from spawn to exit, which is what a job waits for.
//
// DIR for --baseline is a checkout of aws-actions/configure-aws-credentials (or any directory
// holding its dist/index.js, or that file itself). Its bundle is plain CommonJS and needs no
// other file at run time; it is copied to a temporary directory beside a package.json of
// {"type":"commonjs"}, so the directory it came from cannot change how Node loads it. Never
// commit it. To get it:
//   git clone --depth 1 https://github.com/aws-actions/configure-aws-credentials /tmp/caws
//
// Runs are paired and interleaved: after the warm-up (every bundle and the baseline, not
// counted), each round runs every bundle next to a run of the baseline, which of the two
// goes first alternating by round and the bundle order rotating, so a machine that slows
// down or speeds up mid-run hits both alike. The table gives each bundle's median, its
// ratio to the median of all the baseline's runs, and the median of its pair-by-pair
// ratios; at most 1.00 is the target. Several --dist options (e.g. before=/tmp/dist-old
// after=dist) are measured in the same rounds and printed side by side.
//
// --print-command NAME prints, instead, one shell command line that starts that bundle
// ('baseline' for the baseline) in the same environment, for an outside timer such as
// hyperfine or /usr/bin/time.
import { spawn } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync } from 'node:fs'
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { parse as parseYaml } from 'yaml'

const root = resolve(fileURLToPath(import.meta.url), '../../..')
const node24 = join(root, 'node_modules/node/bin/node')
const BASELINE = 'configure-aws-credentials'

const { values: args } = parseArgs({
  options: {
    baseline: { type: 'string' },
    runs: { type: 'string', default: '7' },
    warmup: { type: 'string', default: '1' },
    dist: { type: 'string', multiple: true },
    only: { type: 'string' },
    'print-command': { type: 'string' },
  },
})

function fail(message) {
  console.error(message)
  process.exit(2)
}

const runs = Number(args.runs)
const warmup = Number(args.warmup)
if (!Number.isInteger(runs) || runs < 1) fail(`--runs ${args.runs}: use a whole number ≥ 1`)
if (!Number.isInteger(warmup) || warmup < 0) fail(`--warmup ${args.warmup}: use a whole number ≥ 0`)
if (!existsSync(node24)) fail(`${node24} is missing: run npm ci (the npm package node@24)`)
if (args.baseline === undefined) {
  fail(
    '--baseline DIR is required: a checkout of aws-actions/configure-aws-credentials, e.g.\n' +
      '  git clone --depth 1 https://github.com/aws-actions/configure-aws-credentials /tmp/caws\n' +
      '  npm run bench:startup -- --baseline /tmp/caws',
  )
}

const work = mkdtempSync(join(tmpdir(), 'bench-startup-'))
process.on('exit', () => {
  if (args['print-command'] === undefined) rmSync(work, { recursive: true, force: true })
})

/** The baseline's dist/index.js, copied beside a package.json that makes it CommonJS. */
function baselineEntry(given) {
  const path = resolve(given)
  const candidates = [path, join(path, 'dist/index.js'), join(path, 'index.js')]
  const entry = candidates.find(file => existsSync(file) && statSync(file).isFile())
  if (entry === undefined) fail(`--baseline ${given}: no dist/index.js there`)
  const dir = join(work, 'baseline', 'dist')
  mkdirSync(dir, { recursive: true })
  copyFileSync(entry, join(dir, 'index.js'))
  writeFileSync(join(dir, 'package.json'), '{"type":"commonjs"}\n')
  // Its action.yml, when the checkout has one, gives its inputs' defaults like ours do.
  const actionYml = [join(dirname(dirname(entry)), 'action.yml'), join(path, 'action.yml')].find(
    existsSync,
  )
  return { name: BASELINE, entry: join(dir, 'index.js'), actionYml }
}

/** The bundles of one dist directory: every <name>/index.js with an actions/<name>/action.yml. */
function distBundles(spec) {
  const at = spec.indexOf('=')
  const label = at > 0 ? spec.slice(0, at) : ''
  const dir = resolve(root, at > 0 ? spec.slice(at + 1) : spec)
  if (!existsSync(dir)) fail(`--dist ${spec}: ${dir} does not exist (npm run bundle builds dist/)`)
  const only = args.only?.split(',').map(name => name.trim())
  return readdirSync(dir)
    .filter(name => existsSync(join(dir, name, 'index.js')))
    .filter(name => existsSync(join(root, 'actions', name, 'action.yml')))
    .filter(name => only === undefined || only.includes(name))
    .sort()
    .map(name => ({
      name,
      label,
      entry: join(dir, name, 'index.js'),
      actionYml: join(root, 'actions', name, 'action.yml'),
    }))
}

const FILES = ['output', 'summary', 'env', 'path', 'state']

/**
 * The runner's environment for a step of this bundle whose inputs were left empty, its
 * GITHUB_OUTPUT and other files made (empty) in `dir`.
 */
function runnerEnv(bundle, dir) {
  mkdirSync(dir, { recursive: true })
  for (const file of FILES) writeFileSync(join(dir, file), '')
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: dir,
    LANG: 'C.UTF-8',
    CI: 'true',
    GITHUB_ACTIONS: 'true',
    GITHUB_OUTPUT: join(dir, 'output'),
    GITHUB_STEP_SUMMARY: join(dir, 'summary'),
    GITHUB_ENV: join(dir, 'env'),
    GITHUB_PATH: join(dir, 'path'),
    GITHUB_STATE: join(dir, 'state'),
    GITHUB_WORKSPACE: dir,
    GITHUB_REPOSITORY: 'octo-org/octo-repo',
    GITHUB_RUN_ID: '1234567890',
    GITHUB_RUN_ATTEMPT: '1',
    RUNNER_TEMP: dir,
    RUNNER_OS: 'Linux',
  }
  const inputs = bundle.actionYml
    ? (parseYaml(readFileSync(bundle.actionYml, 'utf8')).inputs ?? {})
    : {}
  for (const [name, spec] of Object.entries(inputs)) {
    const value = String(spec?.default ?? '').replace(/\$\{\{[^}]*\}\}/g, 'ghs_bench_token')
    env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value
  }
  return env
}

/** Starts the bundle once; resolves with the milliseconds from spawn to exit and the outcome. */
function runOnce(bundle) {
  const dir = join(work, 'runs', `${bundle.label || 'dist'}-${bundle.name}`)
  const env = runnerEnv(bundle, dir)
  return new Promise((done, reject) => {
    const start = performance.now()
    const child = spawn(node24, [bundle.entry], {
      cwd: dir,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    child.stdout.on('data', chunk => (out += chunk))
    child.stderr.on('data', chunk => (out += chunk))
    child.on('error', reject)
    child.on('close', code => {
      const ms = performance.now() - start
      const error = /^::error::(.*)$/m.exec(out)?.[1]
      done({
        ms,
        code,
        said: error ?? (code === 0 ? '(succeeded: no required input)' : out.trim()),
      })
    })
  })
}

function shellQuote(value) {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`
}

const median = values => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

const baseline = baselineEntry(args.baseline)
const dists = args.dist?.length ? args.dist : ['dist']
const labels = dists.map(spec => (spec.indexOf('=') > 0 ? spec.slice(0, spec.indexOf('=')) : ''))
if (new Set(labels).size !== labels.length) fail('give each --dist its own LABEL=DIR')
const bundles = dists.flatMap(distBundles)
if (bundles.length === 0) fail('no bundles to measure (npm run bundle builds dist/)')

if (args['print-command'] !== undefined) {
  const name = args['print-command']
  const bundle = name === 'baseline' ? baseline : bundles.find(b => b.name === name)
  if (bundle === undefined) fail(`--print-command ${name}: no such bundle`)
  const dir = join(work, 'command')
  const env = runnerEnv(bundle, dir)
  console.log(
    ['env', '-i', ...Object.entries(env).map(([k, v]) => shellQuote(`${k}=${v}`))]
      .concat([node24, bundle.entry].map(shellQuote))
      .join(' '),
  )
  console.error(`(its files are in ${work}: remove it when done)`)
  process.exit(0)
}

const version = await new Promise(done => {
  const child = spawn(node24, ['--version'])
  let out = ''
  child.stdout.on('data', chunk => (out += chunk))
  child.on('close', () => done(out.trim()))
})
console.log(
  `Node ${version}; ${runs} paired run(s) per bundle after ${warmup} warm-up; load ${loadavg()
    .map(n => n.toFixed(2))
    .join(' ')}`,
)

for (let i = 0; i < warmup; i++) {
  for (const bundle of [baseline, ...bundles]) await runOnce(bundle)
}

const times = new Map([[baseline, []], ...bundles.map(b => [b, []])])
const pairs = new Map(bundles.map(b => [b, []]))
const outcome = new Map()
for (let round = 0; round < runs; round++) {
  const order = bundles.map((_, i) => bundles[(i + round) % bundles.length])
  for (const bundle of order) {
    const first = round % 2 === 0 ? baseline : bundle
    const second = first === baseline ? bundle : baseline
    const a = await runOnce(first)
    const b = await runOnce(second)
    const [mine, theirs] = first === baseline ? [b, a] : [a, b]
    times.get(bundle).push(mine.ms)
    times.get(baseline).push(theirs.ms)
    pairs.get(bundle).push(mine.ms / theirs.ms)
    outcome.set(bundle, mine)
    outcome.set(baseline, theirs)
  }
  process.stderr.write(`round ${round + 1}/${runs} done\n`)
}

const baselineMedian = median(times.get(baseline))
const ms = value => value.toFixed(0)
const spread = values =>
  `${ms(median(values))} (${ms(Math.min(...values))}–${ms(Math.max(...values))})`
const said = ({ code, said: text }) =>
  `exit ${code}: ${text.length > 60 ? `${text.slice(0, 57)}...` : text}`.replace(/\|/g, '\\|')
const ratio = bundle => median(times.get(bundle)) / baselineMedian

console.log('')
console.log(
  `${BASELINE}: ${spread(times.get(baseline))} ms over ${times.get(baseline).length} runs ` +
    `(${said(outcome.get(baseline))})`,
)
console.log('')
const heads = labels.flatMap(label => {
  const prefix = label ? `${label} ` : ''
  return [`${prefix}ms (min–max)`, `${prefix}× base`, `${prefix}× pairs`]
})
console.log(`| bundle | ${heads.join(' | ')} | outcome |`)
console.log(`| --- | ${heads.map(() => '---:').join(' | ')} | --- |`)
for (const name of [...new Set(bundles.map(b => b.name))]) {
  const cells = labels.flatMap(label => {
    const bundle = bundles.find(b => b.name === name && b.label === label)
    if (bundle === undefined) return ['', '', '']
    const pairRatio = median(pairs.get(bundle))
    return [spread(times.get(bundle)), ratio(bundle).toFixed(2), pairRatio.toFixed(2)]
  })
  const last = bundles.filter(b => b.name === name).at(-1)
  console.log(`| ${name} | ${cells.join(' | ')} | ${said(outcome.get(last))} |`)
}
console.log('')
for (const label of labels) {
  const mine = bundles.filter(b => b.label === label)
  const slowest = mine.reduce((a, b) => (ratio(b) > ratio(a) ? b : a))
  const over = mine.filter(b => ratio(b) > 1)
  console.log(
    `${label || 'dist'}: ${
      over.length === 0
        ? 'every bundle at or below'
        : `${over.length} bundle(s) above (${over.map(b => b.name).join(', ')})`
    } ${BASELINE}'s median; slowest ${slowest.name} at ${ratio(slowest).toFixed(2)}×`,
  )
}
console.log(
  '× base: median over the baseline median; × pairs: median of the run-by-run ratios. The ' +
    'machine may be shared: when the spreads are wide, run again.',
)
