#!/usr/bin/env node
// s3-upload against the AWS CLI, side by side in one run, on the same local s3rver.
//
//   node bench/s3-upload/bench.mjs [--size-mb 256] [--rounds 3]
//
// Each round uploads the same file once with `aws s3 cp` and once with the bundled action
// (dist/s3-upload/index.js under Node 24, exactly as the runner starts it), alternating which
// goes first. It prints each time, the ratio action/CLI per round and the median ratio
// (target: ≤ 1). Then it runs the action twice more for one key through a byte-counting
// proxy and prints the request body bytes of the repeated, unchanged upload (target: 0).
// The machine is shared and noisy: read the median, and rerun when the spread is wide.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createWriteStream, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, request as httpRequest } from 'node:http'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { performance } from 'node:perf_hooks'
import process from 'node:process'
import { fileURLToPath, URL } from 'node:url'

const root = resolve(fileURLToPath(import.meta.url), '../../..')
const require = createRequire(import.meta.url)
const S3rver = require('s3rver')
const node24 = join(root, 'node_modules/node/bin/node')
const entry = join(root, 'dist/s3-upload/index.js')

function option(name, fallback) {
  const at = process.argv.indexOf(`--${name}`)
  return at > 0 ? Number(process.argv[at + 1]) : fallback
}
const sizeMb = option('size-mb', 256)
const rounds = option('rounds', 3)
const bucket = 'bench-releases'

// GNU time, when installed, reports each process's peak memory (maxrss).
const gnuTime = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined

/** Runs a command to completion; resolves with its exit code, stdout, stderr and peak RSS. */
function exec(command, args, env) {
  return new Promise((done, fail) => {
    const [file, argv] = gnuTime
      ? [gnuTime, ['-f', 'bench-maxrss-kb=%M', command, ...args]]
      : [command, args]
    const child = spawn(file, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', chunk => (stdout += chunk))
    child.stderr.on('data', chunk => (stderr += chunk))
    child.on('error', fail)
    child.on('close', code => {
      const rss = /bench-maxrss-kb=(\d+)/.exec(stderr)
      done({ code, stdout, stderr, maxRssMb: rss ? Number(rss[1]) / 1024 : undefined })
    })
  })
}

async function timed(label, fn) {
  const start = performance.now()
  const result = await fn()
  const seconds = (performance.now() - start) / 1000
  if (result.code !== 0)
    throw new Error(`${label} failed (${result.code}):\n${result.stdout}\n${result.stderr}`)
  return { seconds, maxRssMb: result.maxRssMb }
}
const mb = value => (value === undefined ? '?' : `${value.toFixed(0)} MB`)

const median = values => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

const work = mkdtempSync(join(tmpdir(), 's3-upload-bench-'))
const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  silent: true,
  directory: join(work, 's3rver'),
  configureBuckets: [{ name: bucket, configs: [] }],
})
const { port } = await server.run()
const endpoint = `http://127.0.0.1:${port}`

try {
  const file = join(work, 'release.zip')
  // Random bytes: a release zip is incompressible, and nothing can dedupe it.
  await new Promise((done, fail) => {
    const out = createWriteStream(file)
    out.on('error', fail).on('finish', done)
    for (let i = 0; i < sizeMb; i++) out.write(randomBytes(1024 * 1024))
    out.end()
  })

  const baseEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_REGION: 'us-east-1',
    AWS_PAGER: '',
  }
  const outputFile = join(work, 'github-output')
  // BENCH_ACTION_ENV='{"INPUT_CONCURRENCY":"4"}' tries other settings for the action.
  const extraEnv = JSON.parse(process.env.BENCH_ACTION_ENV ?? '{}')
  const actionEnv = (version, url) => ({
    ...baseEnv,
    AWS_ENDPOINT_URL_S3: url,
    GITHUB_OUTPUT: outputFile,
    GITHUB_REPOSITORY: 'octo-org/octo-repo',
    GITHUB_RUN_ID: '1',
    INPUT_FILE: file,
    INPUT_BUCKET: bucket,
    INPUT_KEY: '{app}/{version}.zip',
    INPUT_APP: 'bench',
    INPUT_VERSION: version,
    'INPUT_IF-EXISTS': 'skip-same',
    'INPUT_PART-SIZE': '16MiB',
    INPUT_CONCURRENCY: '8',
    'INPUT_PRESIGN-EXPIRES': '0',
    'INPUT_ROLE-DURATION-SECONDS': '3600',
    INPUT_AUDIENCE: 'sts.amazonaws.com',
    ...extraEnv,
  })
  writeFileSync(outputFile, '')
  const cli = key =>
    timed('aws s3 cp', () =>
      exec('aws', ['s3', 'cp', '--only-show-errors', file, `s3://${bucket}/${key}`], {
        ...baseEnv,
        AWS_ENDPOINT_URL: endpoint,
      }),
    )
  const action = version =>
    timed('s3-upload', () => exec(node24, [entry], actionEnv(version, endpoint)))

  console.log(`s3-upload vs aws s3 cp, ${sizeMb} MiB file, local s3rver, ${rounds} rounds`)
  console.log('round  aws-cli(s)  s3-upload(s)  ratio  peak RSS cli / action')
  const ratios = []
  const cliTimes = []
  const actionTimes = []
  for (let round = 1; round <= rounds; round++) {
    let cliRun
    let actionRun
    if (round % 2) {
      cliRun = await cli(`cli/round-${round}.zip`)
      actionRun = await action(`v${round}`)
    } else {
      actionRun = await action(`v${round}`)
      cliRun = await cli(`cli/round-${round}.zip`)
    }
    cliTimes.push(cliRun.seconds)
    actionTimes.push(actionRun.seconds)
    ratios.push(actionRun.seconds / cliRun.seconds)
    console.log(
      `${String(round).padStart(5)}  ${cliRun.seconds.toFixed(2).padStart(10)}  ${actionRun.seconds.toFixed(2).padStart(12)}  ${(actionRun.seconds / cliRun.seconds).toFixed(2).padStart(5)}  ${mb(cliRun.maxRssMb)} / ${mb(actionRun.maxRssMb)}`,
    )
  }
  console.log(`median ratio s3-upload/aws-cli: ${median(ratios).toFixed(2)} (target ≤ 1.00)`)
  console.log(
    `best-of ratio (fastest action / fastest CLI): ${(Math.min(...actionTimes) / Math.min(...cliTimes)).toFixed(2)}`,
  )

  // The repeated upload of an unchanged artifact, through a proxy that counts body bytes.
  const requests = []
  const target = new URL(endpoint)
  const proxy = createServer((incoming, outgoing) => {
    const entry = { method: incoming.method, url: incoming.url, bytes: 0 }
    requests.push(entry)
    const forward = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method: incoming.method,
        path: incoming.url,
        headers: incoming.headers,
      },
      response => {
        outgoing.writeHead(response.statusCode ?? 502, response.headers)
        response.pipe(outgoing)
      },
    )
    incoming.on('data', chunk => (entry.bytes += chunk.length))
    incoming.pipe(forward)
  })
  await new Promise(done => proxy.listen(0, '127.0.0.1', done))
  const proxyUrl = `http://127.0.0.1:${proxy.address().port}`
  const first = await exec(node24, [entry], actionEnv('repeat', proxyUrl))
  if (first.code !== 0) throw new Error(first.stdout)
  const firstBytes = requests.reduce((sum, r) => sum + r.bytes, 0)
  const firstRequests = requests.length
  requests.length = 0
  const repeat = await exec(node24, [entry], actionEnv('repeat', proxyUrl))
  if (repeat.code !== 0) throw new Error(repeat.stdout)
  const repeatBytes = requests.reduce((sum, r) => sum + r.bytes, 0)
  console.log(`first upload: ${firstBytes} body bytes in ${firstRequests} requests`)
  console.log(
    `repeated unchanged upload: ${repeatBytes} body bytes, requests: ${requests.map(r => r.method).join(', ')} (target: 0 bytes, one HEAD)`,
  )
  proxy.closeAllConnections()
  proxy.close()
} finally {
  await server.close()
  rmSync(work, { recursive: true, force: true })
}
