import { describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import fc from 'fast-check'
import {
  ZIP_EPOCH_SECONDS,
  crc32Combine,
  isPrecompressed,
  resolveTimestamp,
} from '../../packages/artifact/src/index.js'
import { dosDateTime } from '../../packages/artifact/src/zip-format.js'
import { tempDir } from './support.js'

describe('crc32Combine', () => {
  it('equals the CRC-32 of the concatenation', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 3000 }),
        fc.uint8Array({ maxLength: 70_000 }),
        (a, b) => {
          const whole = crc32(Buffer.concat([a, b]))
          expect(crc32Combine(crc32(a), crc32(b), b.length)).toBe(whole)
        },
      ),
      { numRuns: 200 },
    )
  })
})

describe('dosDateTime', () => {
  it('reads the time in UTC and clamps to what DOS time can hold', () => {
    // 2023-11-14 22:13:20 UTC
    expect(dosDateTime(1_700_000_000)).toEqual({
      dosDate: ((2023 - 1980) << 9) | (11 << 5) | 14,
      dosTime: (22 << 11) | (13 << 5) | 10,
    })
    expect(dosDateTime(0)).toEqual(dosDateTime(ZIP_EPOCH_SECONDS))
    expect(dosDateTime(ZIP_EPOCH_SECONDS)).toEqual({ dosDate: (1 << 5) | 1, dosTime: 0 })
    expect(dosDateTime(5_000_000_000).dosDate >> 9).toBe(127)
  })
})

describe('isPrecompressed', () => {
  it.each([
    ['logo.PNG', true],
    ['photo.jpeg', true],
    ['bundle.tar.gz', true],
    ['font.woff2', true],
    ['inner.zip', true],
    ['app.js', false],
    ['Makefile', false],
  ])('%s → %s', (name, stored) => {
    expect(isPrecompressed(name)).toBe(stored)
  })
})

describe('resolveTimestamp', () => {
  it('prefers SOURCE_DATE_EPOCH, then the commit time of sha, then 1980-01-01', async () => {
    const repo = tempDir('repo')
    const git = (...args: string[]): string =>
      execFileSync('git', ['-C', repo, ...args], {
        encoding: 'utf8',
        env: {
          ...process.env,
          GIT_AUTHOR_NAME: 't',
          GIT_AUTHOR_EMAIL: 't@example.invalid',
          GIT_COMMITTER_NAME: 't',
          GIT_COMMITTER_EMAIL: 't@example.invalid',
          GIT_COMMITTER_DATE: '@1600000000 +0000',
          GIT_AUTHOR_DATE: '@1500000000 +0000',
        },
      }).trim()
    git('init', '-q')
    writeFileSync(join(repo, 'a'), 'a')
    git('add', 'a')
    git('commit', '-q', '-m', 'one')
    const sha = git('rev-parse', 'HEAD')

    await expect(
      resolveTimestamp({ sourceDateEpoch: '1234567890', sha, cwd: repo }),
    ).resolves.toEqual({
      epochSeconds: 1_234_567_890,
      source: 'SOURCE_DATE_EPOCH',
    })
    await expect(resolveTimestamp({ sha, cwd: repo })).resolves.toEqual({
      epochSeconds: 1_600_000_000,
      source: 'commit',
    })
    await expect(resolveTimestamp({ sha: 'f'.repeat(40), cwd: repo })).resolves.toEqual({
      epochSeconds: ZIP_EPOCH_SECONDS,
      source: 'default',
    })
    await expect(resolveTimestamp({ sha, cwd: tempDir('not-a-repo') })).resolves.toMatchObject({
      source: 'default',
    })
    // A sha that looks like an option never reaches git.
    await expect(resolveTimestamp({ sha: '--output=/tmp/x', cwd: repo })).resolves.toMatchObject({
      source: 'default',
    })
    await expect(resolveTimestamp({ sourceDateEpoch: 'yesterday', cwd: repo })).rejects.toThrow(
      /SOURCE_DATE_EPOCH "yesterday" is not valid: use whole seconds since 1970-01-01 UTC/,
    )
  })
})
