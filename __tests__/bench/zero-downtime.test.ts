// The parts of bench/zero-downtime that decide its numbers: the open-loop schedule, how an
// answer is judged, the percentile, the table and the last line, and the client against a real
// loopback server. (The benchmark itself runs on demand: npm run bench:zero-downtime.)
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { freePort } from '../../dev/aws-sandbox/src/index.js'
import {
  judge,
  lastLine,
  OpenLoopSchedule,
  percentile,
  resultTable,
  summarize,
  type ModeResult,
  type Sample,
} from '../../bench/zero-downtime/load.js'
import { runOpenLoop } from '../../bench/zero-downtime/load-client.js'

describe('the open-loop schedule', () => {
  it('starts 200 requests in every second at 200 per second, 5 ms apart, whatever happened before', () => {
    const schedule = new OpenLoopSchedule(200, 10_000)
    expect(schedule.total).toBe(2000)
    expect(schedule.dueAt(1)).toBe(5)
    expect([0, 4.9, 5, 9.9, 10].map(t => schedule.dueBy(t))).toEqual([1, 1, 2, 2, 3])
    // Stepped by a clock that is late and uneven, as a busy event loop is.
    const perSecond = new Array<number>(10).fill(0)
    let started = 0
    for (let now = 0; started < schedule.total; now += 1 + ((now * 7) % 23)) {
      const due = schedule.dueBy(now)
      for (; started < due; started++) {
        perSecond[Math.floor(schedule.dueAt(started) / 1000)]! += 1
      }
    }
    expect(perSecond).toEqual(new Array(10).fill(200))
    expect(schedule.dueBy(60_000)).toBe(2000)
    expect(schedule.dueBy(-1)).toBe(0)
  })

  it('refuses a rate or duration that is not a positive number', () => {
    expect(() => new OpenLoopSchedule(0, 1000)).toThrow('rate 0 is not allowed')
    expect(() => new OpenLoopSchedule(Number.NaN, 1000)).toThrow('rate NaN is not allowed')
    expect(() => new OpenLoopSchedule(200, -5)).toThrow('duration -5 ms is not allowed')
  })
})

describe('judging answers and summing them up', () => {
  const greeting = (body: string) => /^Hello from v1\.[01]\.0\n$/.test(body)

  it('fails connection errors, timeouts, non-2xx statuses and bodies the app would not send', () => {
    expect(judge({ status: 200, body: 'Hello from v1.1.0\n' }, greeting)).toBe('ok')
    expect(judge({ status: 200, body: 'Hello from v9.9.9\n' }, greeting)).toBe('body')
    expect(judge({ status: 200, body: '' }, greeting)).toBe('body')
    expect(judge({ status: 502, body: 'Hello from v1.0.0\n' }, greeting)).toBe('status')
    expect(judge({ status: 302, body: 'Hello from v1.0.0\n' }, greeting)).toBe('status')
    expect(judge({ error: 'connection', detail: 'ECONNREFUSED' }, greeting)).toBe('connection')
    expect(judge({ error: 'timeout' }, greeting)).toBe('timeout')
  })

  it('takes the nearest-rank percentile', () => {
    const hundred = Array.from({ length: 100 }, (_, i) => 100 - i)
    expect(percentile(hundred, 99)).toBe(99)
    expect(percentile(hundred, 50)).toBe(50)
    expect(percentile(hundred, 100)).toBe(100)
    expect(percentile([3, 1, 2], 99)).toBe(3)
    expect(percentile([7], 1)).toBe(7)
    expect(percentile([], 99)).toBeNaN()
    expect(() => percentile([1], 0)).toThrow('percentile 0 is not in (0, 100]')
  })

  it('counts failures by kind, and the latencies of every request', () => {
    const samples: Sample[] = [
      ...Array.from({ length: 97 }, (_, i) => ({ outcome: 'ok' as const, latencyMs: i + 1 })),
      { outcome: 'status', latencyMs: 500 },
      { outcome: 'status', latencyMs: 2 },
      { outcome: 'connection', latencyMs: 1 },
    ]
    expect(summarize(samples)).toEqual({
      requests: 100,
      failed: 3,
      failures: { status: 2, connection: 1 },
      // Sorted: 1, 1, 2, 2, 3, 4 … 97, 500: the 50th is 48, the 99th 97.
      p50Ms: 48,
      p99Ms: 97,
      maxMs: 500,
    })
  })
})

describe('the table and the last line', () => {
  const load = (requests: number, failed: number) => ({
    ...summarize([]),
    requests,
    failed,
    failures: failed ? { status: failed } : {},
    p50Ms: 3,
    p99Ms: 12.34,
    maxMs: 40,
  })
  const modes: ModeResult[] = [
    {
      name: '1. in-place',
      zeroDowntime: false,
      deploy: 'success',
      deploySeconds: 26.31,
      load: load(5000, 160),
      note: '0 of 3 hosts drained',
    },
    {
      name: '2. load balancer',
      zeroDowntime: true,
      deploy: 'success',
      deploySeconds: 30,
      load: load(6000, 0),
      note: '3 of 3 hosts drained',
    },
    { name: '3. in-place | nginx', zeroDowntime: false, deploy: 'success', load: load(2500, 300) },
    { name: '4. blue-green', zeroDowntime: true, deploy: 'success', load: load(2400, 2) },
  ]

  it('puts the modes side by side, one column each', () => {
    expect(resultTable(modes).split('\n')).toEqual([
      '| | 1. in-place | 2. load balancer | 3. in-place \\| nginx | 4. blue-green |',
      '| --- | ---: | ---: | ---: | ---: |',
      '| deploy | success | success | success | success |',
      '| deploy time (s) | 26.3 | 30.0 | - | - |',
      '| requests | 5000 | 6000 | 2500 | 2400 |',
      '| failed requests | 160 (160 status) | 0 | 300 (300 status) | 2 (2 status) |',
      '| p50 latency (ms) | 3.0 | 3.0 | 3.0 | 3.0 |',
      '| p99 latency (ms) | 12.3 | 12.3 | 12.3 | 12.3 |',
      '| max latency (ms) | 40.0 | 40.0 | 40.0 | 40.0 |',
      '| seen | 0 of 3 hosts drained | 3 of 3 hosts drained | - | - |',
    ])
  })

  it('ends with the worst zero-downtime mode, never an in-place one', () => {
    expect(lastLine(modes)).toBe('failed requests: 2 of 2400')
    const clean = modes.map(mode => (mode.zeroDowntime ? { ...mode, load: load(3000, 0) } : mode))
    expect(lastLine(clean)).toBe('failed requests: 0 of 3000')
    const lbWorse = [
      modes[1]!,
      { ...modes[3]!, load: load(2400, 0) },
      { ...modes[1]!, load: load(10, 1) },
    ]
    expect(lastLine(lbWorse)).toBe('failed requests: 1 of 10')
  })

  it('says a mode did not run, and gives no number when no zero-downtime mode ran', () => {
    const notRun: ModeResult[] = [
      modes[0]!,
      {
        name: '2. load balancer',
        zeroDowntime: true,
        deploy: 'not run: ssm-deploy has no input target-group-arns',
      },
    ]
    expect(resultTable(notRun)).toContain(
      '| deploy | success | not run: ssm-deploy has no input target-group-arns |',
    )
    expect(resultTable(notRun)).toContain('| failed requests | 160 (160 status) | not run |')
    expect(lastLine(notRun)).toBe('failed requests: not measured (no zero-downtime mode ran)')
  })
})

describe('the load client against a real server', () => {
  let server: Server
  let url: string
  let received = 0
  let connections = 0

  beforeAll(async () => {
    // Every 10th request answers 503, every 25th a body the app never sends.
    server = createServer((_request, response) => {
      received += 1
      if (received % 10 === 0) return void response.writeHead(503).end('busy')
      response
        .writeHead(200)
        .end(received % 25 === 0 ? 'Hello from nowhere\n' : 'Hello from v1.0.0\n')
    })
    server.on('connection', () => (connections += 1))
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
  })
  afterAll(() => new Promise<void>(resolve => server.close(() => resolve())))

  const options = (overrides: { url?: string; maxDurationMs?: number } = {}) => ({
    url,
    ratePerSecond: 100,
    maxDurationMs: 1000,
    timeoutMs: 2000,
    bodyPattern: '^Hello from v1\\.0\\.0\\n$',
    ...overrides,
  })

  it('sends the whole schedule, one connection per request, and counts each kind of failure', async () => {
    received = 0
    connections = 0
    const samples = await runOpenLoop(options(), new Promise(() => {}))
    expect(samples).toHaveLength(100)
    expect(received).toBe(100)
    expect(connections).toBe(100)
    // 10 answers of 503 (every 10th), and 2 wrong bodies (the 25th and 75th; the 50th is a 503).
    expect(summarize(samples).failures).toEqual({ status: 10, body: 2 })
  })

  it('stops scheduling when told, and waits for the requests under way', async () => {
    received = 0
    let stop: () => void = () => {}
    const stopped = new Promise<void>(resolve => (stop = resolve))
    setTimeout(stop, 300)
    const samples = await runOpenLoop(options({ maxDurationMs: 60_000 }), stopped)
    expect(samples.length).toBeGreaterThan(10)
    expect(samples.length).toBeLessThan(200)
    expect(received).toBe(samples.length)
  })

  it('counts refused connections as failed requests', async () => {
    const closed = `http://127.0.0.1:${await freePort()}/`
    const samples = await runOpenLoop(
      options({ url: closed, maxDurationMs: 200 }),
      new Promise(() => {}),
    )
    expect(samples).toHaveLength(20)
    expect(summarize(samples).failures).toEqual({ connection: 20 })
  })

  it('stays on loopback', async () => {
    await expect(
      runOpenLoop(options({ url: 'http://example.com/' }), new Promise(() => {})),
    ).rejects.toThrow('url "http://example.com/" is not allowed: the load stays on loopback')
  })
})
