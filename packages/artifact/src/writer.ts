// The deterministic zip writer: entries in the given order, one fixed timestamp, Unix
// modes, symlinks as symlinks, Zip64 where needed. Files are read and deflated by a pool
// of worker threads a window ahead of the writer, which appends the results in order, so
// the output streams to disk with bounded memory and is byte-identical run after run.
import { createHash } from 'node:crypto'
import { closeSync, openSync, writeSync, writevSync } from 'node:fs'
import { extname } from 'node:path'
import { crc32 } from 'node:zlib'
import { crc32Combine } from './crc32-combine.js'
import {
  DeflatePool,
  freeArrayBuffer,
  type DeflateItem,
  type DeflateResult,
} from './deflate-pool.js'
import type { PlannedEntry } from './select.js'
import {
  DEFLATED,
  FLAG_DATA_DESCRIPTOR,
  FLAG_UTF8,
  S_IFDIR,
  S_IFLNK,
  S_IFREG,
  STORED,
  centralHeader,
  dataDescriptor,
  dosDateTime,
  endRecords,
  localHeader,
  type CentralRecord,
} from './zip-format.js'

/**
 * Extensions of formats that are compressed already: deflating them again costs time and
 * gains nothing, so they are stored.
 */
export const STORED_EXTENSIONS: ReadonlySet<string> = new Set(
  (
    'png jpg jpeg gif webp avif heic heif ico mp3 mp4 m4a m4v mov webm mkv ogg oga ogv opus ' +
    'flac aac zip gz tgz bz2 tbz2 xz txz zst tzst lz lz4 lzma 7z rar jar war ear whl apk ' +
    'aab ipa nupkg woff woff2 br docx xlsx pptx odt ods odp epub'
  ).split(' '),
)

/** Whether an entry of this name is stored rather than deflated. */
export function isPrecompressed(name: string): boolean {
  return STORED_EXTENSIONS.has(extname(name).slice(1).toLowerCase())
}

export interface WriteZipOptions {
  /** Deflate level 0–9; 0 stores everything. */
  level: number
  /** The one timestamp every entry gets, in Unix seconds. */
  epochSeconds: number
  /** Worker threads (default: the number of cores). */
  workers?: number
  /** Files larger than this are deflated in pieces of this size, in parallel (default 1 MiB). */
  pieceSize?: number
  /** Input bytes being read or deflated at once, at most (default 64 MiB): bounds memory. */
  maxInFlightBytes?: number
}

export interface WriteZipResult {
  /** Bytes written. */
  size: number
  /** Hex SHA-256 of the whole file. */
  sha256: string
  /** Entries written, directories included. */
  entries: number
}

/** Small files travel to a worker in batches of about this many bytes. */
const BATCH_BYTES = 512 * 1024
const BATCH_ENTRIES = 128
/** Above this size the sizes of a file go in Zip64 fields (deflate can grow data a little). */
const ZIP64_FILE_THRESHOLD = 0xf000_0000

/** A unit of work in archive order: whole entries, or one piece of a large file. */
type Slot =
  | { kind: 'entries'; entries: PlannedEntry[]; items: DeflateItem[]; bytes: number }
  | {
      kind: 'piece'
      entry: Extract<PlannedEntry, { kind: 'file' }>
      item: DeflateItem
      first: boolean
      last: boolean
      bytes: number
    }

/** Buffers output, hashes it, and writes it with few system calls. */
class OutputFile {
  private readonly fd: number
  private readonly hash = createHash('sha256')
  private buffers: Uint8Array[] = []
  private buffered = 0
  private releasable: ArrayBuffer[] = []
  /** Bytes appended so far: the offset of the next byte. */
  offset = 0

  constructor(path: string) {
    this.fd = openSync(path, 'w')
  }

  append(data: Uint8Array): void {
    if (data.length === 0) return
    this.hash.update(data)
    this.buffers.push(data)
    this.buffered += data.length
    this.offset += data.length
    if (this.buffered >= 4 * 1024 * 1024) this.flush()
  }

  flush(): void {
    if (this.buffered === 0) return
    const written = writevSync(this.fd, this.buffers)
    if (written < this.buffered) {
      // Rare short write: finish with plain writes of what is left.
      const rest = Buffer.concat(this.buffers).subarray(written)
      for (let done = 0; done < rest.length;) done += writeSync(this.fd, rest, done)
    }
    this.buffers = []
    this.buffered = 0
    for (const buffer of this.releasable) freeArrayBuffer(buffer)
    this.releasable = []
  }

  /** Frees `buffer` once everything appended so far is written (it must be ours alone). */
  releaseAfterWrite(buffer: ArrayBuffer): void {
    this.releasable.push(buffer)
  }

  /** Flushes and closes; returns the hex SHA-256 of everything appended. */
  finish(): string {
    try {
      this.flush()
    } finally {
      closeSync(this.fd)
    }
    return this.hash.digest('hex')
  }

  abort(): void {
    try {
      closeSync(this.fd)
    } catch {
      // already closed
    }
  }
}

/**
 * Writes `entries` (already sorted and checked, see selectEntries) as a zip at `path`.
 * The result is a pure function of the entries' names, modes, link targets and contents,
 * the level and the timestamp.
 */
export async function writeZip(
  path: string,
  entries: readonly PlannedEntry[],
  options: WriteZipOptions,
): Promise<WriteZipResult> {
  const level = options.level
  const pieceSize = options.pieceSize ?? 1024 * 1024
  const maxInFlight = options.maxInFlightBytes ?? 32 * 1024 * 1024
  const { dosDate, dosTime } = dosDateTime(options.epochSeconds)
  const levelFor = (name: string): number => (isPrecompressed(name) ? 0 : level)

  const pool = new DeflatePool(options.workers)
  const out = new OutputFile(path)
  const central: CentralRecord[] = []

  /** Whole entries and pieces of large files, in archive order; nothing started yet. */
  function* slots(): Generator<Slot> {
    let batch: Extract<Slot, { kind: 'entries' }> = {
      kind: 'entries',
      entries: [],
      items: [],
      bytes: 0,
    }
    for (const entry of entries) {
      if (entry.kind === 'file' && entry.size > pieceSize) {
        if (batch.entries.length > 0) yield batch
        batch = { kind: 'entries', entries: [], items: [], bytes: 0 }
        const entryLevel = levelFor(entry.name)
        for (let start = 0; start < entry.size; start += pieceSize) {
          const length = Math.min(pieceSize, entry.size - start)
          const last = start + length === entry.size
          const item: DeflateItem = {
            file: entry.source,
            start,
            length,
            level: entryLevel,
            finish: last,
            dictionary: start > 0,
            storeIfLarger: false,
          }
          yield { kind: 'piece', entry, item, first: start === 0, last, bytes: length }
        }
        continue
      }
      batch.entries.push(entry)
      if (entry.kind === 'file' && entry.size > 0) {
        batch.items.push({
          file: entry.source,
          start: 0,
          length: entry.size,
          level: levelFor(entry.name),
          finish: true,
          dictionary: false,
          storeIfLarger: true,
        })
        batch.bytes += entry.size
      }
      if (batch.bytes >= BATCH_BYTES || batch.entries.length >= BATCH_ENTRIES) {
        yield batch
        batch = { kind: 'entries', entries: [], items: [], bytes: 0 }
      }
    }
    if (batch.entries.length > 0) yield batch
  }

  const nameBytes = (name: string): { name: Buffer; flags: number } => {
    const bytes = Buffer.from(name, 'utf8')
    // Flag bit 11 only when needed, as Info-ZIP does: pure ASCII names look the same.
    return { name: bytes, flags: bytes.length !== name.length ? FLAG_UTF8 : 0 }
  }

  /** Writes an entry whose crc and sizes are known before its data. */
  const writeWhole = (
    zipName: string,
    unixMode: number,
    method: number,
    crc: number,
    size: number,
    data: Uint8Array,
  ): void => {
    const { name, flags } = nameBytes(zipName)
    const record: CentralRecord = {
      name,
      flags,
      method,
      crc,
      compressedSize: data.length,
      size,
      offset: out.offset,
      unixMode,
      dosDate,
      dosTime,
      zip64Local: false,
    }
    out.append(localHeader({ ...record, zip64: false }))
    out.append(data)
    central.push(record)
  }

  const writeEntries = (
    slot: Extract<Slot, { kind: 'entries' }>,
    results: DeflateResult[],
  ): void => {
    let next = 0
    for (const entry of slot.entries) {
      if (entry.kind === 'directory') {
        writeWhole(`${entry.name}/`, S_IFDIR | entry.mode, STORED, 0, 0, new Uint8Array(0))
      } else if (entry.kind === 'symlink') {
        const target = Buffer.from(entry.target, 'utf8')
        writeWhole(entry.name, S_IFLNK | 0o777, STORED, crc32(target), target.length, target)
      } else if (entry.size === 0) {
        writeWhole(entry.name, S_IFREG | entry.mode, STORED, 0, 0, new Uint8Array(0))
      } else {
        const result = results[next++] as DeflateResult
        const method = result.stored ? STORED : DEFLATED
        writeWhole(entry.name, S_IFREG | entry.mode, method, result.crc, entry.size, result.data)
      }
    }
  }

  /** The large file being written piece by piece. */
  let open: { record: CentralRecord } | undefined
  const writePiece = (slot: Extract<Slot, { kind: 'piece' }>, result: DeflateResult): void => {
    if (slot.first) {
      const { name, flags } = nameBytes(slot.entry.name)
      const zip64 = slot.entry.size >= ZIP64_FILE_THRESHOLD
      const record: CentralRecord = {
        name,
        flags: flags | FLAG_DATA_DESCRIPTOR,
        method: slot.item.level === 0 ? STORED : DEFLATED,
        crc: 0,
        compressedSize: 0,
        size: slot.entry.size,
        offset: out.offset,
        unixMode: S_IFREG | slot.entry.mode,
        dosDate,
        dosTime,
        zip64Local: zip64,
      }
      out.append(localHeader({ ...record, zip64 }))
      open = { record }
    }
    const record = (open as { record: CentralRecord }).record
    record.crc = slot.first ? result.crc : crc32Combine(record.crc, result.crc, slot.item.length)
    record.compressedSize += result.data.length
    out.append(result.data)
    if (slot.last) {
      out.append(dataDescriptor(record.crc, record.compressedSize, record.size, record.zip64Local))
      central.push(record)
      open = undefined
    }
  }

  try {
    // A window of started slots, bounded by input bytes; the writer takes them in order.
    const plan = slots()
    const window: { slot: Slot; results: Promise<DeflateResult[]> }[] = []
    let inFlight = 0
    let upcoming = plan.next()
    const fill = (): void => {
      while (
        !upcoming.done &&
        (window.length === 0 || inFlight + upcoming.value.bytes <= maxInFlight)
      ) {
        const slot = upcoming.value
        const items = slot.kind === 'piece' ? [slot.item] : slot.items
        const results = items.length > 0 ? pool.run(items) : Promise.resolve([])
        // Failures are read when the writer reaches the slot; don't report them twice.
        results.catch(() => undefined)
        window.push({ slot, results })
        inFlight += slot.bytes
        upcoming = plan.next()
      }
    }
    fill()
    while (window.length > 0) {
      const { slot, results } = window.shift() as (typeof window)[number]
      const done = await results
      inFlight -= slot.bytes
      fill()
      if (slot.kind === 'piece') writePiece(slot, done[0] as DeflateResult)
      else writeEntries(slot, done)
      // All results of one worker message share one buffer, which only they view.
      if (done[0]) out.releaseAfterWrite(done[0].data.buffer as ArrayBuffer)
    }

    const cdOffset = out.offset
    for (const record of central) out.append(centralHeader(record))
    const cdSize = out.offset - cdOffset
    out.append(endRecords(central.length, cdOffset, cdSize))
    const size = out.offset
    const sha256 = out.finish()
    return { size, sha256, entries: central.length }
  } catch (error) {
    out.abort()
    throw error
  } finally {
    await pool.close()
  }
}
