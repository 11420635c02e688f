// readRelease reads a release into memory while hashing it (overlapped chunks); past the
// buffer limit, hashFile hashes it as a stream. Both must give the file's own sha256 at every size,
// including sizes around the 4 MiB chunk boundary.
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from '@jest/globals'
import { hashFile, readRelease } from '../../packages/release-store/src/index.js'

const MiB = 1024 * 1024
const work = mkdtempSync(join(tmpdir(), 'read-release-'))
afterAll(() => rmSync(work, { recursive: true, force: true }))

describe('readRelease', () => {
  it.each([0, 1, 4 * MiB - 1, 4 * MiB, 4 * MiB + 1, 9 * MiB + 123])(
    'gives the sha256, size and bytes of a %i-byte file, in memory and streamed',
    async size => {
      const content = randomBytes(size)
      const file = join(work, `release-${size}.zip`)
      writeFileSync(file, content)
      const expected = createHash('sha256').update(content).digest('hex')

      const inMemory = await readRelease(file)
      expect(inMemory.sha256).toBe(expected)
      expect(inMemory.size).toBe(size)
      expect(inMemory.bytes?.equals(content)).toBe(true)

      expect(await hashFile(file)).toEqual({ sha256: expected, size })
    },
  )
})
