import { describe, expect, it } from '@jest/globals'
import { closeSync, ftruncateSync, mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { memoryLogger } from '../../packages/kit/src/index.js'
import {
  ZIP_EPOCH_SECONDS,
  packageZip,
  readZipDirectory,
} from '../../packages/artifact/src/index.js'
import { assertReadersAccept, reader, tempDir } from './support.js'

describe('Zip64', () => {
  it('is used past 65,535 entries, and every reader still accepts the zip', async () => {
    const root = tempDir('many')
    const perDirectory = 1000
    let files = 0
    for (let d = 0; files < 66_000; d++) {
      const directory = join(root, `d${String(d).padStart(3, '0')}`)
      mkdirSync(directory)
      for (let f = 0; f < perDirectory; f++, files++) {
        writeFileSync(join(directory, `f${f}`), `${files}`)
      }
    }
    const result = await packageZip({
      root,
      outputFile: join(tempDir('zip-out'), 'many.zip'),
      epochSeconds: ZIP_EPOCH_SECONDS,
      logger: memoryLogger(),
    })
    expect(result.files).toBe(66_000)
    const directory = readZipDirectory(result.file)
    expect(directory.zip64).toBe(true)
    expect(directory.entries).toHaveLength(66_066)

    const { zipinfo } = assertReadersAccept(result.file)
    expect(zipinfo).toMatch(/number of entries: 66066/)
    // Python reads the entry count from the Zip64 end record; check it independently.
    const count = reader('python3', [
      '-c',
      'import sys, zipfile; print(len(zipfile.ZipFile(sys.argv[1]).infolist()))',
      result.file,
    ])
    expect(count.trim()).toBe('66066')
  }, 300_000)
})

describe('Zip64 past 4 GiB', () => {
  it('carries a 4 GiB + 100 MiB file and offsets past 4 GiB, and every reader still accepts the zip', async () => {
    const root = tempDir('huge')
    const out = tempDir('zip-out')
    try {
      // A sparse file: 4 GiB + 100 MiB of zeros that take no disk space to make or read.
      const hugeSize = 2 ** 32 + 100 * 2 ** 20
      const handle = openSync(join(root, 'huge.bin'), 'w')
      ftruncateSync(handle, hugeSize)
      closeSync(handle)
      writeFileSync(join(root, 'tail.txt'), 'the entry after the large one\n')
      // Level 0 stores the bytes, so the second entry and the central directory start
      // past 4 GiB too.
      const result = await packageZip({
        root,
        outputFile: join(out, 'huge.zip'),
        epochSeconds: ZIP_EPOCH_SECONDS,
        level: 0,
        logger: memoryLogger(),
      })
      expect(result.size).toBeGreaterThan(hugeSize)
      const directory = readZipDirectory(result.file)
      expect(directory.zip64).toBe(true)
      expect(directory.entries.map(e => [e.name, e.size])).toEqual([
        ['huge.bin', hugeSize],
        ['tail.txt', 30],
      ])
      const { zipinfo } = assertReadersAccept(result.file)
      expect(zipinfo).toMatch(new RegExp(`${hugeSize} .* huge\\.bin$`, 'm'))
      // Python reads sizes and offsets from the Zip64 fields, and checks the CRCs.
      const listed = reader('python3', [
        '-c',
        'import sys, zipfile\n' +
          'z = zipfile.ZipFile(sys.argv[1])\n' +
          'print(" ".join(f"{i.filename}:{i.file_size}:{i.header_offset > 2**32}" for i in z.infolist()))\n' +
          'print(z.read("tail.txt").decode().strip())',
        result.file,
      ])
      expect(listed.trim().split('\n')).toEqual([
        `huge.bin:${hugeSize}:False tail.txt:30:True`,
        'the entry after the large one',
      ])
    } finally {
      rmSync(root, { recursive: true, force: true })
      rmSync(out, { recursive: true, force: true })
    }
  }, 600_000)
})
