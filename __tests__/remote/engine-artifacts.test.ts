// Fetching and checking artifacts: the instance role (the real AWS CLI against a local
// s3rver), presigned URLs with retries, and bad archives refused before `current` changes.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  truncateSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { EXIT_CODES } from '../../packages/remote/src/index.js'
import {
  Site,
  currentRelease,
  releaseDirs,
  sampleEntries,
  sha256,
  writeZip,
  type EngineRun,
  type ZipEntry,
} from './support/site.js'

let site: Site

interface LocalS3 {
  run(): Promise<{ port: number }>
  close(): Promise<void>
}

/** s3rver ships no types; this is the part of it the test uses. */
async function loadS3rver(): Promise<new (options: Record<string, unknown>) => LocalS3> {
  const name = 's3rver'
  return ((await import(name)) as { default: new (options: Record<string, unknown>) => LocalS3 })
    .default
}
let serving: string | undefined

beforeAll(async () => {
  site = await Site.create()
  const first = await site.deploy(site.options('v1.0.0'))
  expect(first.code).toBe(EXIT_CODES.ok)
  serving = currentRelease(site)
})

afterAll(async () => {
  await site?.close()
})

/** The host is exactly as before: same current, still serving v1.0.0, no new or partial release. */
async function expectUntouched(run: EngineRun, reason: RegExp): Promise<void> {
  expect({ code: run.code, status: run.result?.status }).toEqual({
    code: EXIT_CODES.failed,
    status: 'failed',
  })
  expect(run.result?.reason).toMatch(reason)
  expect(currentRelease(site)).toBe(serving)
  expect(releaseDirs(site)).toEqual([serving])
  expect(await site.servingVersion()).toBe('v1.0.0')
  expect(existsSync(join(site.deployDir, '.deploy', 'tmp'))).toBe(false)
  expect(run.phases).not.toContain('switch')
}

/** Deploy options for an archive of these entries, optionally corrupted after hashing. */
function artifactOptions(version: string, entries: ZipEntry[], corrupt?: (file: string) => void) {
  const options = site.options(version)
  const name = `custom-${version}.zip`
  const file = join(site.artifacts, name)
  let sha = writeZip(file, entries)
  if (corrupt) {
    corrupt(file)
    sha = sha256(readFileSync(file))
  }
  return { ...options, artifactUri: site.fileServer.url(name), artifactSha256: sha }
}

describe('bad artifacts are refused before current changes', () => {
  it('a flipped byte: sha256 mismatch', async () => {
    const options = site.options('v1.1.0')
    const file = join(site.artifacts, /\/([^/?]+)\?/.exec(options.artifactUri ?? '')?.[1] ?? '?')
    const bytes = readFileSync(file)
    const middle = bytes.length >> 1
    bytes.writeUInt8(bytes.readUInt8(middle) ^ 0x01, middle)
    writeFileSync(file, bytes)
    const run = await site.deploy(options)
    await expectUntouched(run, /sha256 mismatch: expected [0-9a-f]{64}, got [0-9a-f]{64}/)
    expect(run.phases).not.toContain('extract')
  })

  it('a zip-slip entry (../../evil)', async () => {
    const entries = [...sampleEntries('v1.2.0'), { name: '../../evil', content: 'pwned' }]
    const run = await site.deploy(artifactOptions('v1.2.0', entries))
    await expectUntouched(run, /entry "\.\.\/\.\.\/evil" is absolute or leaves the release/)
    for (const dir of [site.deployDir, join(site.deployDir, 'releases'), site.root]) {
      expect(existsSync(join(dir, 'evil'))).toBe(false)
    }
  })

  it('an absolute entry', async () => {
    const target = join(site.root, 'absolute-evil')
    const entries = [...sampleEntries('v1.2.1'), { name: target, content: 'pwned' }]
    const run = await site.deploy(artifactOptions('v1.2.1', entries))
    await expectUntouched(run, /is absolute or leaves the release/)
    expect(existsSync(target)).toBe(false)
  })

  it('a symlink entry pointing to /etc/passwd', async () => {
    const entries = [...sampleEntries('v1.3.0'), { name: 'config', link: '/etc/passwd' }]
    const run = await site.deploy(artifactOptions('v1.3.0', entries))
    await expectUntouched(run, /symlink "config" points to an absolute path/)
  })

  it('a symlink entry climbing out of the release', async () => {
    const entries = [
      ...sampleEntries('v1.3.1'),
      { name: 'public/up', link: '../../../../etc/passwd' },
    ]
    const run = await site.deploy(artifactOptions('v1.3.1', entries))
    await expectUntouched(run, /symlink "public\/up" points outside the release/)
  })

  it('a corrupted entry (CRC error): any non-zero unzip exit fails', async () => {
    const entries = [...sampleEntries('v1.4.0'), { name: 'big.txt', content: 'x'.repeat(5000) }]
    const run = await site.deploy(
      artifactOptions('v1.4.0', entries, file => {
        const bytes = readFileSync(file)
        // Inside big.txt's deflated data: its local header ends just after the name.
        const at = bytes.indexOf(Buffer.from('big.txt')) + 'big.txt'.length + 2
        bytes.writeUInt8(bytes.readUInt8(at) ^ 0xff, at)
        writeFileSync(file, bytes)
      }),
    )
    await expectUntouched(run, /unzip failed|archive unreadable/)
  })

  it('a truncated archive', async () => {
    const run = await site.deploy(
      artifactOptions('v1.4.1', sampleEntries('v1.4.1'), file => truncateSync(file, 100)),
    )
    await expectUntouched(run, /archive unreadable/)
  })

  it('accepts symlinks that stay inside the release', async () => {
    const entries = [...sampleEntries('v1.5.0'), { name: 'home.html', link: 'public/index.html' }]
    const run = await site.deploy(artifactOptions('v1.5.0', entries))
    expect(run.result?.status).toBe('deployed')
    expect(readFileSync(join(site.deployDir, 'current', 'home.html'), 'utf8')).toBe(
      '<h1>v1.5.0</h1>\n',
    )
    serving = currentRelease(site)
  })
})

describe('downloads', () => {
  it('presigned: curl retries transient 503s', async () => {
    const options = site.options('v2.0.0')
    site.fileServer.failNext(2)
    const before = site.fileServer.requests
    const run = await site.deploy(options)
    expect(run.result?.status).toBe('deployed')
    expect(site.fileServer.requests - before).toBe(3)
    expect(run.stdout).not.toContain('X-Amz-Signature')
    expect(await site.servingVersion()).toBe('v2.0.0')
  })

  it('instance-role: aws s3 cp through the real AWS CLI against a local S3', async () => {
    const directory = join(site.root, 's3')
    mkdirSync(directory)
    const s3 = new (await loadS3rver())({
      port: 0,
      address: '127.0.0.1',
      silent: true,
      directory,
      configureBuckets: [{ name: 'artifacts' }],
    })
    const { port } = await s3.run()
    try {
      const endpoint = `http://127.0.0.1:${port}`
      const zip = join(site.root, 'upload.zip')
      const sha = writeZip(zip, sampleEntries('v2.1.0'))
      const client = new S3Client({
        endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      })
      await client.send(
        new PutObjectCommand({
          Bucket: 'artifacts',
          Key: 'sample/v2.1.0.zip',
          Body: readFileSync(zip),
        }),
      )
      client.destroy()
      const env = {
        AWS_ACCESS_KEY_ID: 'S3RVER',
        AWS_SECRET_ACCESS_KEY: 'S3RVER',
        AWS_DEFAULT_REGION: 'us-east-1',
        AWS_ENDPOINT_URL_S3: endpoint,
      }
      const options = {
        ...site.options('v2.1.0'),
        download: 'instance-role' as const,
        artifactUri: 's3://artifacts/sample/v2.1.0.zip',
        artifactSha256: sha,
      }
      const run = await site.deploy(options, { env })
      expect(run.result?.status).toBe('deployed')
      expect(await site.servingVersion()).toBe('v2.1.0')

      const missing = await site.deploy(
        { ...options, version: 'v2.2.0', artifactUri: 's3://artifacts/sample/nope.zip' },
        { env },
      )
      expect(missing.code).toBe(EXIT_CODES.failed)
      expect(missing.result?.reason).toMatch(/download of the artifact failed/)
      expect(await site.servingVersion()).toBe('v2.1.0')
      expect(readdirSync(join(site.deployDir, 'releases')).some(n => n.endsWith('.partial'))).toBe(
        false,
      )
    } finally {
      await s3.close()
    }
  })
})
