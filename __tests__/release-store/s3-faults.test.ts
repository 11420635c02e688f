// Faults in the middle of an upload. Throttling bursts go through the real SDK (its standard
// retry mode only runs there) via a fault-injecting proxy in front of s3rver;
// aws-sdk-client-mock covers a 500 on one part, which no local server produces on demand.
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, request as httpRequest, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3'
import { mockClient } from 'aws-sdk-client-mock'
import { AwsClientFactory } from '../../packages/aws/src/index.js'
import { putArtifact, publishArtifact } from '../../packages/release-store/src/index.js'
import { offlineS3Client, preconditionFailed } from './s3-support.js'
import { startS3, type S3Sandbox } from '../../dev/aws-sandbox/src/index.js'

const MiB = 1024 * 1024
const BUCKET = 'releases'
let work: string

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 's3-faults-'))
})
afterAll(() => rmSync(work, { recursive: true, force: true }))

function release(bytes: number): { path: string; sha256: string } {
  const path = join(work, `r-${bytes}-${Date.now()}.zip`)
  const content = randomBytes(bytes)
  writeFileSync(path, content)
  return { path, sha256: createHash('sha256').update(content).digest('hex') }
}

describe('a burst of SlowDown answers', () => {
  let s3rver: S3Sandbox
  let proxy: Server
  let throttleBudget = 0
  const answered: string[] = []
  const savedEnv = { ...process.env }

  beforeAll(async () => {
    s3rver = await startS3({ buckets: [BUCKET] })
    const target = new URL(s3rver.url)
    proxy = createServer((incoming, outgoing) => {
      const isPart = incoming.method === 'PUT' && /[?&]partNumber=/.test(incoming.url ?? '')
      if (isPart && throttleBudget > 0) {
        throttleBudget--
        answered.push('SlowDown')
        incoming.resume()
        incoming.on('end', () => {
          outgoing.writeHead(503, { 'content-type': 'application/xml' })
          outgoing.end(
            '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>' +
              '<Message>Please reduce your request rate.</Message><RequestId>1</RequestId></Error>',
          )
        })
        return
      }
      if (isPart) answered.push('part')
      const forward = httpRequest(
        {
          host: target.hostname,
          port: target.port,
          method: incoming.method,
          path: incoming.url,
          headers: incoming.headers,
        },
        response => {
          outgoing.writeHead(response.statusCode ?? 502, response.headers)
          response.pipe(outgoing)
        },
      )
      incoming.pipe(forward)
    })
    await new Promise<void>(resolve => proxy.listen(0, '127.0.0.1', resolve))
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
    })
  })

  afterAll(async () => {
    process.env = savedEnv
    proxy.closeAllConnections()
    await new Promise<void>(resolve => proxy.close(() => resolve()))
    await s3rver.close()
  })

  it('is retried by the SDK and the upload completes with the right bytes', async () => {
    const factory = new AwsClientFactory({ region: 'us-east-1', maxAttempts: 5 })
    const s3 = factory.client(S3Client)
    const zip = release(16 * MiB)
    throttleBudget = 3
    const result = await publishArtifact(s3, {
      bucket: BUCKET,
      key: 'web/throttled.zip',
      file: zip.path,
      ifExists: 'skip-same',
      partSize: 5 * MiB,
      concurrency: 4,
      metadata: {},
    })
    expect(result).toMatchObject({ uploaded: true, sha256: zip.sha256 })
    expect(answered.filter(a => a === 'SlowDown')).toHaveLength(3)
    // 4 parts, each sent until accepted.
    expect(answered.filter(a => a === 'part')).toHaveLength(4)
    const object = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'web/throttled.zip' }))
    const body = Buffer.from(await object.Body!.transformToByteArray())
    expect(body.equals(readFileSync(zip.path))).toBe(true)
    factory.destroy()
  }, 120_000)
})

describe('a 500 on part 3', () => {
  it('aborts the multipart upload and reports the server error, not a permission problem', async () => {
    const s3 = offlineS3Client()
    const mock = mockClient(s3)
    mock.on(CreateMultipartUploadCommand).resolves({ UploadId: 'upload-1' })
    mock.on(UploadPartCommand).callsFake((input: { PartNumber?: number }) => {
      if (input.PartNumber === 3) {
        throw new S3ServiceException({
          name: 'InternalError',
          $fault: 'server',
          $metadata: { httpStatusCode: 500 },
          message: 'We encountered an internal error. Please try again.',
        })
      }
      return { ETag: `"etag-${input.PartNumber}"` }
    })
    mock.on(AbortMultipartUploadCommand).resolves({})
    mock.on(CompleteMultipartUploadCommand).resolves({ ETag: '"never"' })
    const zip = release(22 * MiB)
    await expect(
      putArtifact(s3, {
        bucket: BUCKET,
        key: 'web/part3.zip',
        file: zip.path,
        sha256: zip.sha256,
        size: 22 * MiB,
        partSize: 5 * MiB,
        concurrency: 1,
        metadata: {},
      }),
    ).rejects.toThrow('We encountered an internal error. Please try again.')
    expect(mock.commandCalls(AbortMultipartUploadCommand)).toHaveLength(1)
    expect(mock.commandCalls(AbortMultipartUploadCommand)[0]?.args[0].input).toMatchObject({
      Bucket: BUCKET,
      Key: 'web/part3.zip',
      UploadId: 'upload-1',
    })
    expect(mock.commandCalls(CompleteMultipartUploadCommand)).toHaveLength(0)
    mock.restore()
  })
})

describe('two runs racing to publish one version', () => {
  it('writes create-only, so the loser is told and nothing is overwritten', async () => {
    const s3 = offlineS3Client()
    const mock = mockClient(s3)
    // The HEAD saw nothing; another run completed the same key before this one did.
    mock.on(HeadObjectCommand).rejects(
      new S3ServiceException({
        name: 'NotFound',
        $fault: 'client',
        $metadata: { httpStatusCode: 404 },
      }),
    )
    mock.on(CreateMultipartUploadCommand).resolves({ UploadId: 'u' })
    mock.on(UploadPartCommand).resolves({ ETag: '"p"' })
    mock.on(CompleteMultipartUploadCommand).rejects(preconditionFailed())
    mock.on(AbortMultipartUploadCommand).resolves({})
    const zip = release(11 * MiB)
    await expect(
      publishArtifact(s3, {
        bucket: BUCKET,
        key: 'web/race.zip',
        file: zip.path,
        ifExists: 'skip-same',
        partSize: 5 * MiB,
        concurrency: 2,
        metadata: {},
      }),
    ).rejects.toThrow(
      /s3:\/\/releases\/web\/race\.zip was created by another writer while this run uploaded it \(PreconditionFailed\); nothing was overwritten/,
    )
    expect(mock.commandCalls(CompleteMultipartUploadCommand)[0]?.args[0].input.IfNoneMatch).toBe(
      '*',
    )
    mock.restore()
  })

  it("sends no condition with if-exists 'overwrite'", async () => {
    const s3 = offlineS3Client()
    const mock = mockClient(s3)
    mock.on(HeadObjectCommand).resolves({ ContentLength: 1, Metadata: { sha256: 'f'.repeat(64) } })
    mock.on(PutObjectCommand).resolves({ ETag: '"e"' })
    const zip = release(1000)
    const result = await publishArtifact(s3, {
      bucket: BUCKET,
      key: 'web/over.zip',
      file: zip.path,
      ifExists: 'overwrite',
      partSize: 5 * MiB,
      concurrency: 1,
      metadata: {},
    })
    expect(result).toMatchObject({ uploaded: true, etag: '"e"', sha256: zip.sha256 })
    const put = mock.commandCalls(PutObjectCommand)[0]?.args[0].input
    expect(put?.IfNoneMatch).toBeUndefined()
    expect(put?.Metadata).toEqual({ sha256: zip.sha256 })
    mock.restore()
  })
})
