import { describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { readFileSync, truncateSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { memoryLogger } from '../../packages/kit/src/index.js'
import {
  DEFLATED,
  STORED,
  ZIP_EPOCH_SECONDS,
  checkZipDirectory,
  packageZip,
  readZipDirectory,
  selectEntries,
  writeZip,
} from '../../packages/artifact/src/index.js'
import {
  assertReadersAccept,
  describeTree,
  makeTree,
  tempDir,
  unzipTo,
  type TreeSpec,
} from './support.js'

const text = (n: number): string =>
  Array.from({ length: n }, (_, i) => `line ${i} of a text that compresses well\n`).join('')

/** A tree with everything the zip must carry faithfully. */
function richTree(): TreeSpec {
  return {
    'README.md': text(50),
    'bin/start': { content: '#!/bin/sh\necho started\n', mode: 0o755 },
    'config/secret.env': { content: 'TOKEN=abc\n', mode: 0o600 },
    'empty-file': '',
    'empty-dir': 'dir',
    'nested/empty/deeper': 'dir',
    'lib/app.js': text(2000),
    'lib/current': { link: 'app.js' },
    'lib/up': { link: '../README.md' },
    'dangling-inside': { link: 'not-there-yet' },
    'assets/logo.png': randomBytes(5000),
    'assets/font.woff2': randomBytes(3000),
    'data/ünïcødé name.txt': 'utf-8 names survive\n',
    'big/blob.txt': text(40_000), // ~1.6 MB: several pieces with a small piece size
  }
}

async function pack(root: string, extra: Partial<Parameters<typeof packageZip>[0]> = {}) {
  const out = tempDir('zip-out')
  return packageZip({
    root,
    outputFile: join(out, 'app.zip'),
    epochSeconds: ZIP_EPOCH_SECONDS,
    logger: memoryLogger(),
    ...extra,
  })
}

describe('packageZip: faithful', () => {
  it('is accepted by unzip -t, zipinfo and python zipfile, and round-trips through unzip', async () => {
    const root = tempDir('tree')
    makeTree(root, richTree())
    const result = await pack(root)
    const { zipinfo } = assertReadersAccept(result.file)

    // Modes, symlinks and the stored/deflated choice as an independent reader sees them.
    expect(zipinfo).toMatch(/^-rwxr-xr-x .* bin\/start$/m)
    expect(zipinfo).toMatch(/^-rw------- .* config\/secret\.env$/m)
    expect(zipinfo).toMatch(/^lrwxrwxrwx .* lib\/current$/m)
    expect(zipinfo).toMatch(/^drwx.* empty-dir\/$/m)
    expect(zipinfo).toMatch(/ stor .* assets\/logo\.png$/m)
    expect(zipinfo).toMatch(/ stor .* assets\/font\.woff2$/m)
    expect(zipinfo).toMatch(/ defN .* lib\/app\.js$/m)

    const extracted = unzipTo(result.file)
    expect(describeTree(extracted)).toEqual(describeTree(root))
    expect(result.sha256).toBe(createHash('sha256').update(readFileSync(result.file)).digest('hex'))
    expect(result.size).toBe(readFileSync(result.file).length)
    // 8 files and 4 symlinks; directories are entries but not "files".
    expect(result.files).toBe(12)
  })

  it('deflates large files in pieces that together form one valid stream', async () => {
    const root = tempDir('tree')
    makeTree(root, { 'big.txt': text(60_000), 'random.bin': randomBytes(700_000), small: 'x' })
    const entries = selectEntries({ root, logger: memoryLogger() })
    const zip = join(tempDir('zip-out'), 'pieces.zip')
    await writeZip(zip, entries, {
      level: 6,
      epochSeconds: ZIP_EPOCH_SECONDS,
      pieceSize: 64 * 1024,
      workers: 3,
    })
    assertReadersAccept(zip)
    const directory = readZipDirectory(zip)
    const big = directory.entries.find(entry => entry.name === 'big.txt')
    expect(big?.method).toBe(DEFLATED)
    expect(big?.compressedSize).toBeLessThan((big?.size ?? 0) / 4)
    expect(describeTree(unzipTo(zip))).toEqual(describeTree(root))
  })

  it('fails, naming the file, when it shrinks while it is packed', async () => {
    const root = tempDir('tree')
    makeTree(root, { 'a.txt': text(100), 'b.txt': text(100) })
    const entries = selectEntries({ root, logger: memoryLogger() })
    truncateSync(join(root, 'b.txt'), 10)
    const zip = join(tempDir('zip-out'), 'changed.zip')
    await expect(
      writeZip(zip, entries, { level: 6, epochSeconds: ZIP_EPOCH_SECONDS }),
    ).rejects.toThrow(/b\.txt became shorter while it was being packed/)
  })

  it('stores everything at level 0', async () => {
    const root = tempDir('tree')
    makeTree(root, richTree())
    const result = await pack(root, { level: 0 })
    assertReadersAccept(result.file)
    const methods = new Set(readZipDirectory(result.file).entries.map(entry => entry.method))
    expect([...methods]).toEqual([STORED])
  })
})

describe('packageZip: reproducible', () => {
  it('gives byte-identical zips for the same tree built in another order with other mtimes', async () => {
    const spec = richTree()
    const first = tempDir('tree-a')
    makeTree(first, spec)
    const second = tempDir('tree-b')
    makeTree(second, Object.fromEntries(Object.entries(spec).reverse()))
    utimesSync(join(second, 'README.md'), new Date('2001-02-03'), new Date('2001-02-03'))
    utimesSync(join(second, 'lib/app.js'), new Date(), new Date())

    const a = await pack(first, { epochSeconds: 1_700_000_000 })
    const b = await pack(second, { epochSeconds: 1_700_000_000, workers: 1 })
    expect(b.sha256).toBe(a.sha256)
    expect(readFileSync(b.file).equals(readFileSync(a.file))).toBe(true)

    const other = await pack(first, { epochSeconds: 1_700_000_002 })
    expect(other.sha256).not.toBe(a.sha256)
  })

  it('writes the given timestamp on every entry and no extra fields', async () => {
    const root = tempDir('tree')
    makeTree(root, richTree())
    // 2023-11-14 22:13:20 UTC
    const result = await pack(root, { epochSeconds: 1_700_000_000 })
    const listing = execFileSync('zipinfo', ['-T', result.file], {
      encoding: 'utf8',
      env: { ...process.env, TZ: 'UTC' },
    })
    const stamps = new Set(
      listing
        .split('\n')
        .filter(line => /^[-dl]/.test(line))
        .map(line => line.split(/\s+/)[6]),
    )
    expect([...stamps]).toEqual(['20231114.221320'])
    expect(readZipDirectory(result.file).entries.every(entry => entry.extraLength === 0)).toBe(true)
  })
})

describe('packageZip: selection', () => {
  it('applies include and exclude globs relative to path, excluding whole directories', async () => {
    const root = tempDir('tree')
    makeTree(root, {
      '.git/HEAD': 'ref',
      'dist/app.js': 'a',
      'dist/app.js.map': 'm',
      'dist/sub/x.js': 'x',
      'node_modules/dep/index.js': 'd',
      'src/app.ts': 's',
      '.env': 'E=1',
    })
    const result = await pack(root, {
      include: ['./dist/**', '.env'],
      exclude: ['.git/**', '**/*.map', 'dist/sub'],
    })
    expect(readZipDirectory(result.file).entries.map(entry => entry.name)).toEqual([
      '.env',
      'dist/',
      'dist/app.js',
    ])
  })

  it('never packs its own output when the output directory is inside path', async () => {
    const root = tempDir('tree')
    makeTree(root, { 'a.txt': 'a' })
    const options = {
      root,
      outputFile: join(root, 'app.zip'),
      epochSeconds: 0,
      logger: memoryLogger(),
    }
    const first = await packageZip(options)
    const second = await packageZip(options)
    expect(second.sha256).toBe(first.sha256)
    expect(readZipDirectory(second.file).entries.map(entry => entry.name)).toEqual(['a.txt'])
  })

  it('fails on an empty selection, naming the globs', async () => {
    const root = tempDir('tree')
    makeTree(root, { 'a.txt': 'a' })
    await expect(pack(root, { include: ['dist/**'] })).rejects.toThrow(
      /input 'include': nothing under input 'path' .* matches include "dist\/\*\*" minus exclude "\.git\/\*\*"/,
    )
  })

  it('fails naming output-dir when the zip cannot be written there', async () => {
    const root = tempDir('tree')
    makeTree(root, { 'a.txt': 'a', 'not-a-dir': 'x' })
    await expect(
      packageZip({
        root,
        outputFile: join(root, 'not-a-dir', 'app.zip'),
        epochSeconds: 0,
        logger: memoryLogger(),
      }),
    ).rejects.toThrow(
      /input 'output-dir': cannot write ".*not-a-dir\/app\.zip" \(.*\): use a directory/,
    )
  })

  it('fails on a path that is not a directory', async () => {
    await expect(pack('/nonexistent/dir')).rejects.toThrow(
      /input 'path': "\/nonexistent\/dir" cannot be read/,
    )
  })
})

describe('packageZip: safe', () => {
  it('names the symlink and the rule when it points outside path (symlinks: error)', async () => {
    const root = tempDir('tree')
    makeTree(root, { 'a.txt': 'a', 'lib/passwd': { link: '/etc/passwd' } })
    await expect(pack(root)).rejects.toThrow(
      /input 'symlinks': symlink "lib\/passwd" \(-> "\/etc\/passwd"\) points outside input 'path' .*: with 'symlinks: error' a symlink must be relative and stay inside/,
    )
    const sneaky = tempDir('tree')
    makeTree(sneaky, { 'a/b': 'x', 'a/up': { link: '../../outside' } })
    await expect(pack(sneaky)).rejects.toThrow(
      /symlink "a\/up" \(-> "\.\.\/\.\.\/outside"\) points outside/,
    )
  })

  it('leaves outside symlinks out with a warning (symlinks: skip)', async () => {
    const root = tempDir('tree')
    makeTree(root, { 'a.txt': 'a', in: { link: 'a.txt' }, out: { link: '/etc/hostname' } })
    const logger = memoryLogger()
    const result = await pack(root, { symlinks: 'skip', logger })
    expect(readZipDirectory(result.file).entries.map(entry => entry.name)).toEqual(['a.txt', 'in'])
    expect(logger.lines.join('\n')).toMatch(/warning: symlink "out" .* left out \(symlinks: skip\)/)
  })

  it('packs what outside symlinks point to (symlinks: follow), and refuses loops', async () => {
    const outside = tempDir('outside')
    makeTree(outside, {
      'shared.txt': 'shared',
      'dir/inner.txt': 'inner',
      'dir/run': { content: 'x', mode: 0o755 },
    })
    const root = tempDir('tree')
    makeTree(root, {
      'a.txt': 'a',
      in: { link: 'a.txt' },
      'file-link': { link: join(outside, 'shared.txt') },
      'dir-link': { link: join(outside, 'dir') },
    })
    const result = await pack(root, { symlinks: 'follow' })
    assertReadersAccept(result.file)
    const extracted = describeTree(unzipTo(result.file))
    expect(extracted['file-link']).toMatchObject({
      type: 'file',
      content: Buffer.from('shared').toString('base64'),
    })
    expect(extracted['dir-link']).toMatchObject({ type: 'dir' })
    expect(extracted['dir-link/run']).toMatchObject({ type: 'file', mode: 0o755 })
    expect(extracted['in']).toEqual({ type: 'link', mode: 0o777, content: 'a.txt' })

    const loop = tempDir('outside-loop')
    makeTree(loop, { 'x.txt': 'x' })
    makeTree(loop, { back: { link: loop } })
    const looping = tempDir('tree')
    makeTree(looping, { l: { link: loop } })
    await expect(pack(looping, { symlinks: 'follow' })).rejects.toThrow(/makes a loop/)
    const dangling = tempDir('tree')
    makeTree(dangling, { gone: { link: '/nonexistent/target' } })
    await expect(pack(dangling, { symlinks: 'follow' })).rejects.toThrow(
      /symlink "gone" .* cannot be followed .* must point to a file or directory that exists/,
    )
  })

  it.each([
    ['a backslash', 'dir\\file.txt', /it contains a backslash/],
    ['a newline', 'bad\nname.txt', /it contains a control character/],
    ['an escape', 'esc\u001b[31m.txt', /it contains a control character/],
  ])(
    'refuses an entry name with %s, naming the path and the rule',
    async (_what, name, problem) => {
      const root = tempDir('tree')
      makeTree(root, { 'ok.txt': 'ok' })
      writeFileSync(join(root, name), 'x')
      const error = pack(root)
      await expect(error).rejects.toThrow(problem)
      await expect(error).rejects.toThrow(
        /cannot pack ".*": the entry name ".*" is not allowed .*: an entry name must be relative/,
      )
    },
  )

  it('refuses special files such as a FIFO', async () => {
    const root = tempDir('tree')
    makeTree(root, { 'ok.txt': 'ok' })
    execFileSync('mkfifo', [join(root, 'pipe')])
    await expect(pack(root)).rejects.toThrow(
      /only regular files, directories and symlinks can be packed/,
    )
  })

  it('checks names read back from a zip', () => {
    const problems = checkZipDirectory({
      zip64: false,
      entries: ['b', 'a', '../x', '/abs', 'a\\b', 'b'].map(name => ({
        name,
        method: 0,
        flags: 0,
        crc: 0,
        compressedSize: 0,
        size: 0,
        offset: 0,
        unixMode: 0,
        dosDate: 0,
        dosTime: 0,
        extraLength: 0,
      })),
    })
    expect(problems.join('\n')).toMatch(/"a" is out of order/)
    expect(problems.join('\n')).toMatch(/"\.\.\/x": it has a '\.\.' part/)
    expect(problems.join('\n')).toMatch(/"\/abs": it is absolute/)
    expect(problems.join('\n')).toMatch(/"a\\\\b": it contains a backslash/)
    expect(problems.join('\n')).toMatch(/"b" appears twice/)
  })
})
