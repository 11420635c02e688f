// Byte layouts of the zip records we write (APPNOTE 6.3.x): local headers, data
// descriptors, central directory headers, the Zip64 end records and the end record.
// Only fields that are a pure function of the entry are written: no extended timestamps,
// no uid/gid, nothing that differs between machines.

/** Compression methods. */
export const STORED = 0
export const DEFLATED = 8

/** Above these, a field no longer fits and the Zip64 form is used. */
export const MAX_UINT16 = 0xffff
export const MAX_UINT32 = 0xffffffff

/** "Version made by": upper byte 3 = UNIX (so readers honour the mode bits), 30 = 3.0. */
const MADE_BY_UNIX = (3 << 8) | 30

/** Flag bit 3: crc and sizes follow the data in a data descriptor. */
export const FLAG_DATA_DESCRIPTOR = 0x0008
/** Flag bit 11: the name is UTF-8. */
export const FLAG_UTF8 = 0x0800

/** Unix file type bits, as kept in the upper 16 bits of the external attributes. */
export const S_IFREG = 0o100000
export const S_IFDIR = 0o040000
export const S_IFLNK = 0o120000

/** What the central directory needs to know about a written entry. */
export interface CentralRecord {
  name: Buffer
  flags: number
  method: number
  crc: number
  compressedSize: number
  size: number
  offset: number
  /** st_mode with the type bits: S_IFREG | 0o755, … */
  unixMode: number
  dosTime: number
  dosDate: number
  /** The local header carried a Zip64 extra field. */
  zip64Local: boolean
}

/**
 * DOS date and time of a Unix time, read in UTC so the result does not depend on the
 * machine's time zone. DOS time counts from 1980 and has two-second steps: earlier
 * times become 1980-01-01 00:00:00, later than 2107 becomes the last representable time.
 */
export function dosDateTime(epochSeconds: number): { dosDate: number; dosTime: number } {
  const date = new Date(epochSeconds * 1000)
  const year = date.getUTCFullYear()
  if (!Number.isFinite(epochSeconds) || year < 1980) return { dosDate: (1 << 5) | 1, dosTime: 0 }
  if (year > 2107) {
    return { dosDate: (127 << 9) | (12 << 5) | 31, dosTime: (23 << 11) | (59 << 5) | 29 }
  }
  return {
    dosDate: ((year - 1980) << 9) | ((date.getUTCMonth() + 1) << 5) | date.getUTCDate(),
    dosTime: (date.getUTCHours() << 11) | (date.getUTCMinutes() << 5) | (date.getUTCSeconds() >> 1),
  }
}

function versionNeeded(method: number, zip64: boolean): number {
  if (zip64) return 45
  return method === DEFLATED ? 20 : 10
}

/**
 * A local file header. With `descriptor`, crc and sizes are zero here and follow the data;
 * with `zip64`, the sizes live in a Zip64 extra field (zero when a descriptor follows).
 */
export function localHeader(entry: {
  name: Buffer
  flags: number
  method: number
  crc: number
  compressedSize: number
  size: number
  dosTime: number
  dosDate: number
  zip64: boolean
}): Buffer {
  const descriptor = (entry.flags & FLAG_DATA_DESCRIPTOR) !== 0
  const extraLength = entry.zip64 ? 20 : 0
  const header = Buffer.alloc(30 + entry.name.length + extraLength)
  header.writeUInt32LE(0x04034b50, 0)
  header.writeUInt16LE(versionNeeded(entry.method, entry.zip64), 4)
  header.writeUInt16LE(entry.flags, 6)
  header.writeUInt16LE(entry.method, 8)
  header.writeUInt16LE(entry.dosTime, 10)
  header.writeUInt16LE(entry.dosDate, 12)
  header.writeUInt32LE(descriptor ? 0 : entry.crc, 14)
  header.writeUInt32LE(entry.zip64 ? MAX_UINT32 : descriptor ? 0 : entry.compressedSize, 18)
  header.writeUInt32LE(entry.zip64 ? MAX_UINT32 : descriptor ? 0 : entry.size, 22)
  header.writeUInt16LE(entry.name.length, 26)
  header.writeUInt16LE(extraLength, 28)
  entry.name.copy(header, 30)
  if (entry.zip64) {
    const extra = 30 + entry.name.length
    header.writeUInt16LE(0x0001, extra)
    header.writeUInt16LE(16, extra + 2)
    header.writeBigUInt64LE(BigInt(descriptor ? 0 : entry.size), extra + 4)
    header.writeBigUInt64LE(BigInt(descriptor ? 0 : entry.compressedSize), extra + 12)
  }
  return header
}

/** The data descriptor after an entry's data: 8-byte sizes when the entry is Zip64. */
export function dataDescriptor(
  crc: number,
  compressedSize: number,
  size: number,
  zip64: boolean,
): Buffer {
  const descriptor = Buffer.alloc(zip64 ? 24 : 16)
  descriptor.writeUInt32LE(0x08074b50, 0)
  descriptor.writeUInt32LE(crc, 4)
  if (zip64) {
    descriptor.writeBigUInt64LE(BigInt(compressedSize), 8)
    descriptor.writeBigUInt64LE(BigInt(size), 16)
  } else {
    descriptor.writeUInt32LE(compressedSize, 8)
    descriptor.writeUInt32LE(size, 12)
  }
  return descriptor
}

/** A central directory header; sizes and offset that do not fit go to a Zip64 extra. */
export function centralHeader(record: CentralRecord): Buffer {
  const wide = {
    size: record.size >= MAX_UINT32 || record.zip64Local,
    compressedSize: record.compressedSize >= MAX_UINT32 || record.zip64Local,
    offset: record.offset >= MAX_UINT32,
  }
  const wideCount = Number(wide.size) + Number(wide.compressedSize) + Number(wide.offset)
  const extraLength = wideCount === 0 ? 0 : 4 + 8 * wideCount
  const header = Buffer.alloc(46 + record.name.length + extraLength)
  header.writeUInt32LE(0x02014b50, 0)
  header.writeUInt16LE(MADE_BY_UNIX, 4)
  header.writeUInt16LE(versionNeeded(record.method, wideCount > 0), 6)
  header.writeUInt16LE(record.flags, 8)
  header.writeUInt16LE(record.method, 10)
  header.writeUInt16LE(record.dosTime, 12)
  header.writeUInt16LE(record.dosDate, 14)
  header.writeUInt32LE(record.crc, 16)
  header.writeUInt32LE(wide.compressedSize ? MAX_UINT32 : record.compressedSize, 20)
  header.writeUInt32LE(wide.size ? MAX_UINT32 : record.size, 24)
  header.writeUInt16LE(record.name.length, 28)
  header.writeUInt16LE(extraLength, 30)
  // comment length, disk number start and internal attributes stay 0.
  const dosDirectory = (record.unixMode & 0o170000) === S_IFDIR ? 0x10 : 0
  header.writeUInt32LE(((record.unixMode << 16) | dosDirectory) >>> 0, 38)
  header.writeUInt32LE(wide.offset ? MAX_UINT32 : record.offset, 42)
  record.name.copy(header, 46)
  if (extraLength > 0) {
    let at = 46 + record.name.length
    header.writeUInt16LE(0x0001, at)
    header.writeUInt16LE(extraLength - 4, at + 2)
    at += 4
    // APPNOTE order: original size, compressed size, local header offset.
    for (const [isWide, value] of [
      [wide.size, record.size],
      [wide.compressedSize, record.compressedSize],
      [wide.offset, record.offset],
    ] as const) {
      if (!isWide) continue
      header.writeBigUInt64LE(BigInt(value), at)
      at += 8
    }
  }
  return header
}

/**
 * The end of the archive: the Zip64 end record and locator when the entry count, the
 * central directory's size or its offset do not fit the classic record, then the classic
 * end of central directory record (with 0xFFFF… markers in the fields that did not fit).
 */
export function endRecords(entryCount: number, cdOffset: number, cdSize: number): Buffer {
  const zip64 = entryCount >= MAX_UINT16 || cdOffset >= MAX_UINT32 || cdSize >= MAX_UINT32
  const parts: Buffer[] = []
  if (zip64) {
    const record = Buffer.alloc(56)
    record.writeUInt32LE(0x06064b50, 0)
    record.writeBigUInt64LE(44n, 4) // size of the rest of this record
    record.writeUInt16LE(MADE_BY_UNIX, 12)
    record.writeUInt16LE(45, 14)
    // this disk and the central directory's disk stay 0.
    record.writeBigUInt64LE(BigInt(entryCount), 24)
    record.writeBigUInt64LE(BigInt(entryCount), 32)
    record.writeBigUInt64LE(BigInt(cdSize), 40)
    record.writeBigUInt64LE(BigInt(cdOffset), 48)
    const locator = Buffer.alloc(20)
    locator.writeUInt32LE(0x07064b50, 0)
    locator.writeBigUInt64LE(BigInt(cdOffset + cdSize), 8)
    locator.writeUInt32LE(1, 16)
    parts.push(record, locator)
  }
  const end = Buffer.alloc(22)
  end.writeUInt32LE(0x06054b50, 0)
  // Only the fields that overflow carry the marker; the others keep their value.
  const count = Math.min(entryCount, MAX_UINT16)
  end.writeUInt16LE(count, 8)
  end.writeUInt16LE(count, 10)
  end.writeUInt32LE(Math.min(cdSize, MAX_UINT32), 12)
  end.writeUInt32LE(Math.min(cdOffset, MAX_UINT32), 16)
  parts.push(end)
  return Buffer.concat(parts)
}
