// Worker threads that read, checksum and deflate pieces of files, so compression uses
// every core while the main thread only writes results in order.
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'

/** One piece of work: a byte range of a file. */
export interface DeflateItem {
  file: string
  start: number
  length: number
  /** 0 stores the bytes as they are; 1–9 deflates. */
  level: number
  /** End the deflate stream (last piece of a file); otherwise end with a sync flush. */
  finish: boolean
  /** Prime the compressor with the 32 KiB before `start` (pieces after the first). */
  dictionary: boolean
  /** Store instead when deflating does not make the range smaller (whole files only). */
  storeIfLarger: boolean
}

/**
 * Frees an ArrayBuffer's memory at once by detaching it (ArrayBuffer.prototype.transfer
 * to length 0), where the runtime has it; elsewhere the next collection frees it.
 * Only for buffers that nothing else views.
 */
export function freeArrayBuffer(buffer: ArrayBuffer): void {
  ;(buffer as { transfer?: (length: number) => ArrayBuffer }).transfer?.(0)
}

export interface DeflateResult {
  /** The bytes to write: deflated, or the range itself when stored. */
  data: Uint8Array
  /** CRC-32 of the range (combine the pieces of a file with crc32Combine). */
  crc: number
  stored: boolean
}

/** What a worker sends back: every result's bytes packed in one transferable buffer. */
interface PackedResults {
  seq: number
  buffer?: ArrayBuffer
  results?: { length: number; crc: number; stored: boolean }[]
  error?: string
}

interface WorkerDeps {
  fs: typeof import('node:fs')
  zlib: typeof import('node:zlib')
  port: import('node:worker_threads').MessagePort
}

/**
 * The worker's code. It runs from its source text (`toString()`), so the bundle needs no
 * separate worker file: it must not use anything from this module's scope.
 */
function deflateWorkerMain(deps: WorkerDeps): void {
  const { fs, zlib, port } = deps
  const freeNow = (buffer: ArrayBuffer): void => {
    try {
      ;(buffer as { transfer?: (length: number) => ArrayBuffer }).transfer?.(0)
    } catch {
      // Not detachable (a slice of Node's shared pool): the collector frees it later.
    }
  }
  const window = 32 * 1024
  /** Buffers this worker allocated for reading, which nothing else views. */
  const readBuffers: ArrayBuffer[] = []
  const readExactly = (fd: number, buffer: Buffer, position: number, file: string): void => {
    let done = 0
    while (done < buffer.length) {
      const read = fs.readSync(fd, buffer, done, buffer.length - done, position + done)
      if (read === 0) throw new Error(`${file} became shorter while it was being packed`)
      done += read
    }
  }
  const work = (item: DeflateItem): DeflateResult => {
    const fd = fs.openSync(item.file, 'r')
    try {
      const raw = Buffer.allocUnsafeSlow(item.length)
      readBuffers.push(raw.buffer)
      readExactly(fd, raw, item.start, item.file)
      const crc = zlib.crc32(raw)
      if (item.level === 0) return { data: raw, crc, stored: true }
      let dictionary: Buffer | undefined
      if (item.dictionary && item.start > 0) {
        const from = Math.max(0, item.start - window)
        dictionary = Buffer.allocUnsafeSlow(item.start - from)
        readExactly(fd, dictionary, from, item.file)
      }
      const data = zlib.deflateRawSync(raw, {
        level: item.level,
        // Output buffers about the size deflate usually yields: fewer, smaller allocations.
        chunkSize: Math.max(1024, Math.min(256 * 1024, item.length >> 1)),
        finishFlush: item.finish ? zlib.constants.Z_FINISH : zlib.constants.Z_SYNC_FLUSH,
        ...(dictionary ? { dictionary } : {}),
      })
      if (item.storeIfLarger && data.length >= raw.length) return { data: raw, crc, stored: true }
      return { data, crc, stored: false }
    } finally {
      fs.closeSync(fd)
    }
  }
  port.on('message', (message: { seq: number; items: DeflateItem[] }) => {
    try {
      const results = message.items.map(work)
      // One buffer moved (not copied) to the main thread, whatever the number of results.
      const packed = new Uint8Array(results.reduce((sum, r) => sum + r.data.length, 0))
      let at = 0
      for (const result of results) {
        packed.set(result.data, at)
        at += result.data.length
      }
      const meta = results.map(r => ({ length: r.data.length, crc: r.crc, stored: r.stored }))
      // Free what was read now rather than at the next collection: the garbage of a few
      // thousand files would otherwise pile up to hundreds of MB.
      for (const buffer of readBuffers) freeNow(buffer)
      readBuffers.length = 0
      for (const result of results) if (!result.stored) freeNow(result.data.buffer as ArrayBuffer)
      port.postMessage({ seq: message.seq, buffer: packed.buffer, results: meta }, [packed.buffer])
    } catch (error) {
      port.postMessage({ seq: message.seq, error: String((error as Error)?.message ?? error) })
    }
  })
}

const WORKER_SOURCE =
  "const { parentPort } = require('node:worker_threads');\n" +
  `(${deflateWorkerMain.toString()})({ fs: require('node:fs'), zlib: require('node:zlib'), port: parentPort });`

interface Pending {
  resolve: (results: DeflateResult[]) => void
  reject: (error: Error) => void
  slot: WorkerSlot
  bytes: number
}

interface WorkerSlot {
  worker: Worker
  /** Input bytes sent and not answered yet: the next job goes to the least loaded. */
  load: number
}

/** A fixed set of deflate workers; `close()` when done. */
export class DeflatePool {
  private readonly slots: WorkerSlot[] = []
  private readonly pending = new Map<number, Pending>()
  private nextSeq = 0
  private failure: Error | undefined

  constructor(size = availableParallelism()) {
    for (let i = 0; i < Math.max(1, size); i++) {
      // A small young generation makes the worker collect its garbage buffers early,
      // which keeps the peak memory low (it allocates one buffer per file it reads).
      const worker = new Worker(WORKER_SOURCE, {
        eval: true,
        resourceLimits: { maxYoungGenerationSizeMb: 4 },
      })
      const slot: WorkerSlot = { worker, load: 0 }
      worker.on('message', (message: PackedResults) => this.settle(message))
      worker.on('error', error => this.fail(error))
      worker.on('exit', code => {
        if (this.pending.size > 0) this.fail(new Error(`a deflate worker exited (code ${code})`))
      })
      this.slots.push(slot)
    }
  }

  /** Runs the items on the least loaded worker; results come back in the items' order. */
  run(items: DeflateItem[]): Promise<DeflateResult[]> {
    if (this.failure) return Promise.reject(this.failure)
    const bytes = items.reduce((sum, item) => sum + item.length, 0)
    const slot = this.slots.reduce((a, b) => (b.load < a.load ? b : a))
    const seq = this.nextSeq++
    slot.load += bytes
    return new Promise((resolve, reject) => {
      this.pending.set(seq, { resolve, reject, slot, bytes })
      slot.worker.postMessage({ seq, items })
    })
  }

  async close(): Promise<void> {
    await Promise.all(this.slots.map(slot => slot.worker.terminate()))
  }

  private settle(message: PackedResults): void {
    const pending = this.pending.get(message.seq)
    if (!pending) return
    this.pending.delete(message.seq)
    pending.slot.load -= pending.bytes
    if (!message.results || !message.buffer) {
      pending.reject(new Error(message.error ?? 'a deflate worker failed'))
      return
    }
    let at = 0
    const buffer = message.buffer
    pending.resolve(
      message.results.map(result => {
        const data = new Uint8Array(buffer, at, result.length)
        at += result.length
        return { data, crc: result.crc, stored: result.stored }
      }),
    )
  }

  private fail(error: Error): void {
    this.failure = error
    for (const pending of this.pending.values()) pending.reject(error)
    this.pending.clear()
  }
}
