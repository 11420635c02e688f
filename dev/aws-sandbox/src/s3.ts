// s3rver (npm), started in-process on a free loopback port, behind the gateway that adds IAM
// and conditional writes: the sandbox's S3. The SDK and the AWS CLI reach it through
// AWS_ENDPOINT_URL_S3; the IP endpoint makes them use path-style.
import { mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AccessControl } from './access.js'
import type { PolicyDocument } from './iam-policy.js'
import { startS3Gateway } from './s3-gateway.js'

const require = createRequire(import.meta.url)

interface S3rverInstance {
  run(): Promise<{ address: string; port: number }>
  close(): Promise<void>
}
type S3rverClass = new (options: Record<string, unknown>) => S3rverInstance
interface S3rverAccount {
  createKeyPair(accessKeyId: string, secretAccessKey: string): void
  revokeAccessKey(accessKeyId: string): void
}

/** The key pair s3rver always accepts. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const

/** Options of {@link startS3}. */
export interface S3SandboxOptions {
  /** Buckets to create (names of 3 or more characters). */
  buckets: string[]
  /** Where objects are stored; a fresh temp dir (removed on close) by default. */
  directory?: string
  /** Bucket name → bucket policy, enforced for credentials issued for a role with a policy. */
  bucketPolicies?: Record<string, PolicyDocument>
  /** Whose credentials are authorised (the sandbox shares one with SSM and EC2). */
  access?: AccessControl
}

/** A running s3rver. */
export interface S3Sandbox {
  /** Set as AWS_ENDPOINT_URL_S3 (the gateway). */
  url: string
  /** s3rver itself, behind no gateway: no IAM, no conditional writes. */
  upstreamUrl: string
  directory: string
  /**
   * Makes s3rver accept this access key (it checks that the key id is known; like every
   * local S3 it does not check SigV4 signatures). Used with the STS stand-in's onIssue.
   */
  allowAccessKey(accessKeyId: string, secretAccessKey: string): void
  close(): Promise<void>
}

/** Starts s3rver on 127.0.0.1 on a free port with `buckets` created. */
export async function startS3(options: S3SandboxOptions): Promise<S3Sandbox> {
  const S3rver = require('s3rver') as S3rverClass
  const account = (require('s3rver/lib/models/account') as { DUMMY_ACCOUNT: S3rverAccount })
    .DUMMY_ACCOUNT
  const ownDirectory = options.directory === undefined
  const directory = options.directory ?? mkdtempSync(join(tmpdir(), 's3rver-'))
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: options.buckets.map(name => ({ name, configs: [] })),
  })
  const { port } = await server.run()
  const upstreamUrl = `http://127.0.0.1:${port}`
  const access = options.access ?? new AccessControl()
  for (const [bucket, policy] of Object.entries(options.bucketPolicies ?? {}))
    access.bucketPolicies.set(bucket, policy)
  const gateway = await startS3Gateway({ upstream: upstreamUrl, access }).catch(
    async (error: unknown) => {
      await server.close()
      throw error
    },
  )
  const allowed: string[] = []
  return {
    url: gateway.url,
    upstreamUrl,
    directory,
    allowAccessKey(accessKeyId, secretAccessKey) {
      account.createKeyPair(accessKeyId, secretAccessKey)
      allowed.push(accessKeyId)
    },
    async close() {
      await gateway.close()
      await server.close()
      for (const key of allowed) account.revokeAccessKey(key)
      if (ownDirectory) rmSync(directory, { recursive: true, force: true })
    },
  }
}
