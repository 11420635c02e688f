// packages/aws's S3 module against s3rver in-process, through the real SDK and real HTTP.
import { execFile } from 'node:child_process'
import {
  appendFileSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { createHash, randomBytes } from 'node:crypto'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals'
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { AwsClientFactory } from '../../packages/aws/src/index.js'
import {
  findArtifact,
  hashFile,
  presignDownload,
  publishArtifact,
  readRelease,
  type PublishOptions,
} from '../../packages/release-store/src/index.js'
import { ConfigurationError, memoryLogger } from '../../packages/kit/src/index.js'
import { startS3, type S3Sandbox } from '../../dev/aws-sandbox/src/index.js'
import { recordRequests } from './s3-support.js'

const run = promisify(execFile)
const MiB = 1024 * 1024
const BUCKET = 'releases'

let s3rver: S3Sandbox
let work: string
const savedEnv = { ...process.env }

beforeAll(async () => {
  s3rver = await startS3({ buckets: [BUCKET] })
  work = mkdtempSync(join(tmpdir(), 's3-int-'))
  // The SDK's own variables: the factory has no endpoint setting at all.
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_S3: s3rver.url,
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_REGION: 'us-east-1',
  })
})

afterAll(async () => {
  process.env = savedEnv
  await s3rver.close()
  rmSync(work, { recursive: true, force: true })
})

let factory: AwsClientFactory
let s3: S3Client
beforeEach(() => {
  factory?.destroy()
  factory = new AwsClientFactory({ region: 'us-east-1', maxAttempts: 3, component: 'test' })
  s3 = factory.client(S3Client)
})
afterAll(() => factory.destroy())

let counter = 0
function fileOf(bytes: number | Buffer): string {
  const path = join(work, `file-${counter++}.zip`)
  writeFileSync(path, typeof bytes === 'number' ? randomBytes(bytes) : bytes)
  return path
}
const sha256Of = (path: string): string =>
  createHash('sha256').update(readFileSync(path)).digest('hex')

function options(file: string, key: string, extra: Partial<PublishOptions> = {}): PublishOptions {
  return {
    bucket: BUCKET,
    key,
    file,
    ifExists: 'skip-same',
    partSize: 5 * MiB,
    concurrency: 4,
    metadata: { version: 'v1.0.0', 'git-sha': 'a'.repeat(40) },
    contentType: 'application/zip',
    ...extra,
  }
}

describe('publishArtifact', () => {
  it.each([
    ['read into memory', undefined],
    ['streamed from disk', 0],
  ])(
    'uploads a multipart file %s whose bytes, sha256 and metadata read back',
    async (_how, bufferLimit) => {
      const file = fileOf(13 * MiB + 17)
      const sent = recordRequests(s3)
      const result = await publishArtifact(s3, {
        ...options(file, 'web/v1.0.0.zip'),
        bufferLimit,
        ifExists: 'overwrite',
      })
      expect(result).toMatchObject({
        bucket: BUCKET,
        key: 'web/v1.0.0.zip',
        uri: 's3://releases/web/v1.0.0.zip',
        sha256: sha256Of(file),
        size: 13 * MiB + 17,
        uploaded: true,
      })
      expect(result.etag).not.toBe('')
      // 13 MiB in 5 MiB parts: three UploadPart calls between create and complete.
      expect(sent.commands.filter(c => c === 'UploadPart')).toHaveLength(3)
      expect(sent.commands).toContain('CompleteMultipartUpload')
      const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'web/v1.0.0.zip' }))
      expect(head.Metadata).toEqual({
        sha256: sha256Of(file),
        version: 'v1.0.0',
        'git-sha': 'a'.repeat(40),
      })
      expect(head.ContentType).toBe('application/zip')
      const object = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'web/v1.0.0.zip' }))
      const body = Buffer.from(await object.Body!.transformToByteArray())
      expect(body.equals(readFileSync(file))).toBe(true)
    },
  )

  it('uploads a small file in one PutObject', async () => {
    const file = fileOf(1000)
    const sent = recordRequests(s3)
    const result = await publishArtifact(s3, options(file, 'web/small.zip'))
    expect(result.uploaded).toBe(true)
    expect(sent.commands).toEqual(['HeadObject', 'PutObject'])
    expect(sent.bodyBytes).toBe(1000)
  })

  it('sends one HEAD and no body for the same bytes again (skip-same)', async () => {
    const file = fileOf(6 * MiB)
    const first = await publishArtifact(s3, options(file, 'web/v2.zip'))
    const sent = recordRequests(s3)
    const logger = memoryLogger()
    const second = await publishArtifact(s3, { ...options(file, 'web/v2.zip'), logger })
    expect(sent.commands).toEqual(['HeadObject'])
    expect(sent.bodyBytes).toBe(0)
    expect(second).toEqual({ ...first, uploaded: false })
    expect(logger.lines.join('\n')).toContain('already holds these bytes')
  })

  it('refuses different bytes under an existing version and says how to make a new one', async () => {
    await publishArtifact(s3, options(fileOf(2000), 'web/v3.zip'))
    const other = fileOf(2000)
    const sent = recordRequests(s3)
    const attempt = publishArtifact(s3, options(other, 'web/v3.zip'))
    await expect(attempt).rejects.toThrow(ConfigurationError)
    await expect(publishArtifact(s3, options(other, 'web/v3.zip'))).rejects.toThrow(
      /s3:\/\/releases\/web\/v3\.zip already exists with different content \(sha256 [0-9a-f]{64}, this file has [0-9a-f]{64}\)\. Versions are immutable: build a new version/,
    )
    expect(sent.commands).toEqual(['HeadObject', 'HeadObject'])
  })

  it("fails on any existing key with if-exists 'fail', replaces it with 'overwrite'", async () => {
    const file = fileOf(3000)
    await publishArtifact(s3, options(file, 'web/v4.zip'))
    await expect(
      publishArtifact(s3, options(file, 'web/v4.zip', { ifExists: 'fail' })),
    ).rejects.toThrow(/already exists and input 'if-exists' is 'fail'/)
    const replacement = fileOf(4000)
    const result = await publishArtifact(
      s3,
      options(replacement, 'web/v4.zip', { ifExists: 'overwrite' }),
    )
    expect(result).toMatchObject({ uploaded: true, size: 4000, sha256: sha256Of(replacement) })
  })

  it('names a missing file', async () => {
    await expect(publishArtifact(s3, options(join(work, 'nope.zip'), 'web/x.zip'))).rejects.toThrow(
      /input 'file': ".*nope\.zip" is not valid: the file does not exist/,
    )
  })

  it.each([
    ['a single part', 4000, (path: string) => appendFileSync(path, 'x')],
    [
      'a multipart upload',
      11 * MiB,
      (path: string) => {
        // Same size, different last byte: only the hash of what is sent can tell.
        const bytes = readFileSync(path)
        bytes[bytes.length - 1] = (bytes[bytes.length - 1]! + 1) % 256
        writeFileSync(path, bytes)
      },
    ],
  ])(
    'aborts %s streamed from disk when the file changes between hashing and sending',
    async (_what, size, change) => {
      const file = fileOf(size)
      const key = `web/changing-${size}.zip`
      // Hashed (as a stream: buffer limit 0), then changed, then sent.
      const hashed = readRelease(file, 0)
      expect((await hashed).bytes).toBeUndefined()
      change(file)
      const sent = recordRequests(s3)
      await expect(
        publishArtifact(s3, { ...options(file, key), hashed, bufferLimit: 0 }),
      ).rejects.toThrow(/changed while it was being uploaded .*the upload was aborted/)
      expect(sent.commands).not.toContain('CompleteMultipartUpload')
      expect(sent.commands).not.toContain('PutObject')
      await expect(
        s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key })),
      ).rejects.toMatchObject({
        $metadata: { httpStatusCode: 404 },
      })
    },
  )

  it('sends exactly the bytes it hashed when the file is read into memory, even if it changes', async () => {
    const file = fileOf(11 * MiB)
    const snapshot = sha256Of(file)
    const hashed = readRelease(file)
    expect((await hashed).bytes?.length).toBe(11 * MiB)
    appendFileSync(file, 'late write')
    const result = await publishArtifact(s3, { ...options(file, 'web/snapshot.zip'), hashed })
    expect(result.sha256).toBe(snapshot)
    const object = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'web/snapshot.zip' }))
    const stored = Buffer.from(await object.Body!.transformToByteArray())
    expect(createHash('sha256').update(stored).digest('hex')).toBe(snapshot)
    expect(sha256Of(file)).not.toBe(snapshot)
  })

  it('stores SSE and storage-class requests as given', async () => {
    const file = fileOf(1500)
    const sent = recordRequests(s3)
    await publishArtifact(
      s3,
      options(file, 'web/sse.zip', { sse: 'AES256', storageClass: 'STANDARD_IA' }),
    )
    expect(sent.commands).toEqual(['HeadObject', 'PutObject'])
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'web/sse.zip' }))
    expect(head.Metadata?.sha256).toBe(sha256Of(file))
  })
})

describe('findArtifact (the rollback path)', () => {
  it('returns the uri and sha256 of an existing version without sending a body', async () => {
    const file = fileOf(2 * MiB)
    await publishArtifact(s3, options(file, 'api/v7.zip'))
    const sent = recordRequests(s3)
    const found = await findArtifact(s3, { bucket: BUCKET, key: 'api/v7.zip', prefix: 'api/' })
    expect(found).toMatchObject({
      uri: 's3://releases/api/v7.zip',
      sha256: sha256Of(file),
      uploaded: false,
    })
    expect(sent.commands).toEqual(['HeadObject'])
  })

  it('computes the sha256 of an object stored without our metadata', async () => {
    const bytes = randomBytes(3000)
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'legacy/v1.zip', Body: bytes }))
    const logger = memoryLogger()
    const found = await findArtifact(s3, {
      bucket: BUCKET,
      key: 'legacy/v1.zip',
      prefix: 'legacy/',
      logger,
    })
    expect(found.sha256).toBe(createHash('sha256').update(bytes).digest('hex'))
    expect(logger.lines.join('\n')).toMatch(/no sha256 metadata/)
  })

  it('lists the newest 10 versions under the prefix when the version is missing', async () => {
    for (let i = 0; i < 12; i++) {
      await s3.send(
        new PutObjectCommand({ Bucket: BUCKET, Key: `hist/v0.0.${i}.zip`, Body: `v${i}` }),
      )
    }
    // s3rver's LastModified is the stored file's mtime: space the versions a minute apart.
    const bucketDir = join(s3rver.directory, BUCKET, 'hist')
    const base = Date.now() / 1000 - 3600
    for (const name of readdirSync(bucketDir)) {
      const version = /^v0\.0\.(\d+)\.zip\._S3rver_object$/.exec(name)
      if (version)
        utimesSync(
          join(bucketDir, name),
          base + Number(version[1]) * 60,
          base + Number(version[1]) * 60,
        )
    }
    const attempt = findArtifact(s3, { bucket: BUCKET, key: 'hist/v9.9.9.zip', prefix: 'hist/' })
    await expect(attempt).rejects.toThrow(ConfigurationError)
    const message = await attempt.then(
      () => '',
      (error: Error) => error.message,
    )
    expect(message).toMatch(
      /^s3:\/\/releases\/hist\/v9\.9\.9\.zip does not exist, so this version cannot be deployed; the newest under s3:\/\/releases\/hist\/:/,
    )
    const listed = [...message.matchAll(/hist\/v0\.0\.(\d+)\.zip/g)].map(m => Number(m[1]))
    expect(listed).toEqual([11, 10, 9, 8, 7, 6, 5, 4, 3, 2])
  })

  it('says so when nothing exists under the prefix', async () => {
    await expect(
      findArtifact(s3, { bucket: BUCKET, key: 'void/v1.zip', prefix: 'void/' }),
    ).rejects.toThrow('nothing exists under s3://releases/void/')
  })
})

describe('read back by independent clients', () => {
  it('the AWS CLI sees the object, its metadata and its bytes', async () => {
    const file = fileOf(7 * MiB)
    await publishArtifact(s3, options(file, 'cli/v1.zip'))
    const env = { ...process.env, AWS_ENDPOINT_URL: s3rver.url, AWS_PAGER: '' }
    const { stdout } = await run(
      'aws',
      ['s3api', 'head-object', '--bucket', BUCKET, '--key', 'cli/v1.zip', '--output', 'json'],
      { env },
    )
    const head = JSON.parse(stdout) as { ContentLength: number; Metadata: Record<string, string> }
    expect(head.ContentLength).toBe(7 * MiB)
    expect(head.Metadata.sha256).toBe(sha256Of(file))
    const copy = join(work, 'cli-copy.zip')
    await run('aws', ['s3', 'cp', '--only-show-errors', 's3://releases/cli/v1.zip', copy], { env })
    expect((await hashFile(copy)).sha256).toBe(sha256Of(file))
  }, 120_000)

  it('a presigned URL downloads the object with plain HTTP', async () => {
    const file = fileOf(5000)
    await publishArtifact(s3, options(file, 'presign/v1.zip'))
    const url = await presignDownload(s3, BUCKET, 'presign/v1.zip', 300)
    expect(url).toMatch(/X-Amz-Expires=300/)
    const response = await fetch(url)
    expect(response.status).toBe(200)
    expect(Buffer.from(await response.arrayBuffer()).equals(readFileSync(file))).toBe(true)
    await expect(presignDownload(s3, BUCKET, 'presign/v1.zip', 12 * 3600 + 1)).rejects.toThrow(
      /use 1s to 12h/,
    )
  })
})

describe('access denied', () => {
  let denying: Server
  let url: string
  beforeAll(async () => {
    // Answers every request the way S3 does when IAM says no.
    denying = createServer((request, response) => {
      request.resume()
      request.on('end', () => {
        response.writeHead(403, { 'content-type': 'application/xml' })
        response.end(
          request.method === 'HEAD'
            ? undefined
            : '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>1</RequestId></Error>',
        )
      })
    })
    await new Promise<void>(resolve => denying.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(denying.address() as AddressInfo).port}`
  })
  afterAll(() => new Promise<void>(resolve => denying.close(() => resolve())))

  // The SDK reads AWS_ENDPOINT_URL_S3 when the first request resolves its endpoint.
  beforeEach(() => {
    process.env.AWS_ENDPOINT_URL_S3 = url
  })
  afterAll(() => {
    process.env.AWS_ENDPOINT_URL_S3 = s3rver.url
  })
  const deniedClient = (): S3Client =>
    new AwsClientFactory({ region: 'us-east-1', maxAttempts: 1 }).client(S3Client)

  it('on HEAD names the bucket, the key, s3:GetObject and s3:ListBucket', async () => {
    await expect(
      publishArtifact(deniedClient(), options(fileOf(10), 'web/denied.zip')),
    ).rejects.toThrow(
      /access denied: HeadObject on "s3:\/\/releases\/web\/denied\.zip" \(.*\)\. The role needs s3:GetObject on "arn:aws:s3:::releases\/web\/denied\.zip"; without s3:ListBucket on arn:aws:s3:::releases/,
    )
  })

  it('on upload names the bucket, the key, s3:PutObject and the KMS key', async () => {
    const client = deniedClient()
    const { putArtifact } = await import('../../packages/release-store/src/index.js')
    const file = fileOf(10)
    await expect(
      putArtifact(client, {
        ...options(file, 'web/denied.zip', { sse: 'aws:kms', kmsKeyId: 'alias/releases' }),
        sha256: sha256Of(file),
        size: 10,
      }),
    ).rejects.toThrow(
      /access denied: PutObject on "s3:\/\/releases\/web\/denied\.zip" \(AccessDenied\)\. The role needs s3:PutObject on "arn:aws:s3:::releases\/web\/denied\.zip"; with SSE-KMS it also needs kms:GenerateDataKey and kms:Decrypt on "alias\/releases"/,
    )
  })

  it('on listing names s3:ListBucket on the bucket', async () => {
    const { listNewestObjects } = await import('../../packages/release-store/src/index.js')
    await expect(listNewestObjects(deniedClient(), BUCKET, 'web/')).rejects.toThrow(
      /access denied: ListObjectsV2 on "bucket \\"releases\\"" .* s3:ListBucket on "arn:aws:s3:::releases"/,
    )
  })
})
