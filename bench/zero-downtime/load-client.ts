/**
 * The client side of the zero-downtime benchmark: GET requests on an open-loop schedule, each on
 * a connection of its own (no keep-alive: every request connects, so a refused connect, a reset
 * or a proxy's error page shows up as the next user would see it, and no reused socket hides or
 * adds a failure). `startLoadProcess` runs it in a child process, away from the event loop of
 * the sandbox and its load balancer, so neither slows the other's timing.
 */
import { fork } from 'node:child_process'
import { request } from 'node:http'
import { performance } from 'node:perf_hooks'
import { judge, OpenLoopSchedule, type Answer, type Sample } from './load.js'

/** What to send. */
export interface LoadOptions {
  /** An http:// URL on loopback. */
  url: string
  ratePerSecond: number
  /** The load never runs longer than this, stopped or not. */
  maxDurationMs: number
  /** A request with no complete answer by then counts as a timeout. */
  timeoutMs: number
  /** The bodies the app sends (a regular expression's source, anchored by the caller). */
  bodyPattern: string
}

const BODY_LIMIT = 64 * 1024

/** One GET on a new connection; never rejects. */
function get(url: string, timeoutMs: number): Promise<Answer> {
  return new Promise(resolve => {
    const call = request(url, { agent: false, signal: AbortSignal.timeout(timeoutMs) }, answer => {
      let body = ''
      answer.setEncoding('utf8')
      answer.on('data', (chunk: string) => {
        if (body.length < BODY_LIMIT) body += chunk
      })
      answer.on('end', () => resolve({ status: answer.statusCode ?? 0, body }))
      answer.on('error', error => resolve(failure(error)))
    })
    call.on('error', error => resolve(failure(error)))
    call.end()
  })
}

function failure(error: Error): Answer {
  const timedOut = error.name === 'AbortError' || error.name === 'TimeoutError'
  return { error: timedOut ? 'timeout' : 'connection', detail: error.message }
}

/**
 * Sends the load until `stopped` resolves or the schedule ends, then waits for the requests
 * under way. Latency runs from the moment a request was due, not from when it left, so a
 * client that falls behind its schedule shows up in the numbers instead of hiding there.
 */
export async function runOpenLoop(options: LoadOptions, stopped: Promise<void>): Promise<Sample[]> {
  if (!/^http:\/\/(127\.0\.0\.1|localhost|\[::1\])[:/]/.test(options.url))
    throw new Error(`url ${JSON.stringify(options.url)} is not allowed: the load stays on loopback`)
  const schedule = new OpenLoopSchedule(options.ratePerSecond, options.maxDurationMs)
  const expected = new RegExp(options.bodyPattern)
  const samples: Sample[] = []
  const underWay: Promise<void>[] = []
  let stop = false
  void stopped.then(() => (stop = true))
  const start = performance.now()
  let started = 0
  while (!stop && started < schedule.total) {
    const due = schedule.dueBy(performance.now() - start)
    for (; started < due; started++) {
      const dueAt = start + schedule.dueAt(started)
      underWay.push(
        get(options.url, options.timeoutMs).then(answer => {
          samples.push({
            outcome: judge(answer, body => expected.test(body)),
            latencyMs: performance.now() - dueAt,
          })
        }),
      )
    }
    const wait = start + schedule.dueAt(started) - performance.now()
    await new Promise(resolve => setTimeout(resolve, Math.max(1, wait)))
  }
  await Promise.all(underWay)
  return samples
}

/** Messages between the parent and the load process. */
type ToLoad = { start: LoadOptions } | { stop: true }
type FromLoad = { started: true } | { samples: Sample[] } | { failed: string }

/** The load, running in a child process until stopped. */
export interface RunningLoad {
  /** Stops sending and resolves with every request's sample once the last one has finished. */
  stop(): Promise<Sample[]>
}

/** Starts the load in a child process (this file, run by the same Node with the same flags). */
export async function startLoadProcess(options: LoadOptions): Promise<RunningLoad> {
  const child = fork(import.meta.filename, ['--load-process'], {
    execArgv: process.execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const messages: FromLoad[] = []
  const waiters: (() => void)[] = []
  child.on('message', message => {
    messages.push(message as FromLoad)
    waiters.splice(0).forEach(wake => wake())
  })
  child.on('exit', () => waiters.splice(0).forEach(wake => wake()))
  const next = async <T extends FromLoad>(is: (m: FromLoad) => m is T): Promise<T> => {
    for (;;) {
      const found = messages.find(is)
      if (found) return found
      const failed = messages.find(m => 'failed' in m)
      if (failed && 'failed' in failed) throw new Error(`load process: ${failed.failed}`)
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`load process exited (${child.exitCode ?? child.signalCode})`)
      await new Promise<void>(wake => waiters.push(wake))
    }
  }
  child.send({ start: options } satisfies ToLoad)
  await next((m): m is { started: true } => 'started' in m)
  return {
    async stop() {
      child.send({ stop: true } satisfies ToLoad)
      const { samples } = await next((m): m is { samples: Sample[] } => 'samples' in m)
      child.disconnect()
      return samples
    },
  }
}

/** The child's side: one load per process, started and stopped by the parent's messages. */
function serveParent(): void {
  let stop: () => void = () => {}
  const stopped = new Promise<void>(resolve => (stop = resolve))
  process.on('message', (message: ToLoad) => {
    if ('stop' in message) return stop()
    process.send?.({ started: true } satisfies FromLoad)
    runOpenLoop(message.start, stopped).then(
      samples => process.send?.({ samples } satisfies FromLoad),
      (error: Error) => process.send?.({ failed: error.message } satisfies FromLoad),
    )
  })
}

if (process.argv.includes('--load-process') && process.send) serveParent()
