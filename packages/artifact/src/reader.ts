// Reads a zip's central directory back and checks it: the safety net after writing, and
// a reader independent of the writer's code paths for the tests.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs'
import { entryNameProblem } from './select.js'
import { MAX_UINT16, MAX_UINT32 } from './zip-format.js'

/** One central directory entry. */
export interface ZipEntryInfo {
  name: string
  method: number
  flags: number
  crc: number
  compressedSize: number
  size: number
  offset: number
  /** st_mode (type and permission bits) when the entry was made on Unix, else 0. */
  unixMode: number
  dosDate: number
  dosTime: number
  /** Extra field bytes in the central header (we only ever write Zip64's). */
  extraLength: number
}

export interface ZipDirectory {
  entries: ZipEntryInfo[]
  /** The archive used the Zip64 end records. */
  zip64: boolean
}

function readAt(fd: number, position: number, length: number): Buffer {
  const buffer = Buffer.alloc(length)
  let done = 0
  while (done < length) {
    const read = readSync(fd, buffer, done, length - done, position + done)
    if (read === 0) throw new Error(`unexpected end of file at ${position + done}`)
    done += read
  }
  return buffer
}

/** Reads the central directory of the zip at `path` (Zip64 aware). */
export function readZipDirectory(path: string): ZipDirectory {
  const fd = openSync(path, 'r')
  try {
    const fileSize = fstatSync(fd).size
    const tailLength = Math.min(fileSize, 22 + MAX_UINT16)
    const tail = readAt(fd, fileSize - tailLength, tailLength)
    let end = -1
    for (let i = tail.length - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === 0x06054b50) {
        end = i
        break
      }
    }
    if (end < 0) throw new Error(`${path}: no end of central directory record`)
    let count = tail.readUInt16LE(end + 10)
    let cdSize = tail.readUInt32LE(end + 12)
    let cdOffset = tail.readUInt32LE(end + 16)
    let zip64 = false
    if (end >= 20 && tail.readUInt32LE(end - 20) === 0x07064b50) {
      const recordOffset = Number(tail.readBigUInt64LE(end - 20 + 8))
      const record = readAt(fd, recordOffset, 56)
      if (record.readUInt32LE(0) !== 0x06064b50) throw new Error(`${path}: bad Zip64 end record`)
      count = Number(record.readBigUInt64LE(32))
      cdSize = Number(record.readBigUInt64LE(40))
      cdOffset = Number(record.readBigUInt64LE(48))
      zip64 = true
    }
    const directory = readAt(fd, cdOffset, cdSize)
    const entries: ZipEntryInfo[] = []
    let at = 0
    for (let i = 0; i < count; i++) {
      if (directory.readUInt32LE(at) !== 0x02014b50) {
        throw new Error(`${path}: bad central directory header #${i}`)
      }
      const nameLength = directory.readUInt16LE(at + 28)
      const extraLength = directory.readUInt16LE(at + 30)
      const commentLength = directory.readUInt16LE(at + 32)
      const entry: ZipEntryInfo = {
        name: directory.toString('utf8', at + 46, at + 46 + nameLength),
        method: directory.readUInt16LE(at + 10),
        flags: directory.readUInt16LE(at + 8),
        crc: directory.readUInt32LE(at + 16),
        compressedSize: directory.readUInt32LE(at + 20),
        size: directory.readUInt32LE(at + 24),
        offset: directory.readUInt32LE(at + 42),
        unixMode:
          directory.readUInt16LE(at + 4) >> 8 === 3 ? directory.readUInt32LE(at + 38) >>> 16 : 0,
        dosTime: directory.readUInt16LE(at + 12),
        dosDate: directory.readUInt16LE(at + 14),
        extraLength,
      }
      // Zip64 extra: the fields that overflowed, in the order size, compressed, offset.
      let extra = at + 46 + nameLength
      const extraEnd = extra + extraLength
      while (extra + 4 <= extraEnd) {
        const id = directory.readUInt16LE(extra)
        const length = directory.readUInt16LE(extra + 2)
        if (id === 0x0001) {
          let field = extra + 4
          for (const key of ['size', 'compressedSize', 'offset'] as const) {
            if (entry[key] !== MAX_UINT32) continue
            entry[key] = Number(directory.readBigUInt64LE(field))
            field += 8
          }
        }
        extra += 4 + length
      }
      entries.push(entry)
      at += 46 + nameLength + extraLength + commentLength
    }
    return { entries, zip64 }
  } finally {
    closeSync(fd)
  }
}

/**
 * Checks what any consumer of our zips relies on: every name is safe to extract
 * (see entryNameProblem), no name appears twice, and the names are in sorted order.
 * Returns the problems found, empty when the zip is good.
 */
export function checkZipDirectory(directory: ZipDirectory): string[] {
  const problems: string[] = []
  const seen = new Set<string>()
  let previous: string | undefined
  for (const entry of directory.entries) {
    const problem = entryNameProblem(
      entry.name.endsWith('/') ? entry.name.slice(0, -1) : entry.name,
    )
    if (problem !== undefined) problems.push(`${JSON.stringify(entry.name)}: ${problem}`)
    if (seen.has(entry.name)) problems.push(`${JSON.stringify(entry.name)} appears twice`)
    seen.add(entry.name)
    if (previous !== undefined && !(previous < entry.name)) {
      problems.push(
        `${JSON.stringify(entry.name)} is out of order after ${JSON.stringify(previous)}`,
      )
    }
    previous = entry.name
  }
  return problems
}
