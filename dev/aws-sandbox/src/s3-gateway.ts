/**
 * A small HTTP gateway in front of s3rver that adds what s3rver lacks: IAM (the signer's role
 * policy and the bucket policy, for requests signed with credentials the STS stand-in issued
 * for a role with a policy) and conditional writes (`If-None-Match: *` answers 412 when the
 * key exists, `If-Match` answers 412 on an ETag mismatch; s3rver ignores both headers).
 */
import { randomBytes, randomUUID } from 'node:crypto'
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http'
import type { AddressInfo } from 'node:net'
import type { AccessControl } from './access.js'
import type { AuthorizationRequest } from './iam-policy.js'

/** A request as S3 sees it: the operation's IAM action, resource and condition keys. */
export interface S3Request extends AuthorizationRequest {
  bucket: string
  key: string
  /** PutObject or CompleteMultipartUpload: the writes that take If-None-Match / If-Match. */
  createsObject: boolean
}

const header = (request: IncomingMessage, name: string): string | undefined => {
  const value = request.headers[name]
  return Array.isArray(value) ? value[0] : value
}

/** The IAM action of an object-level request. */
function objectAction(method: string, query: URLSearchParams): string {
  if (method === 'DELETE')
    return query.has('uploadId') ? 's3:AbortMultipartUpload' : 's3:DeleteObject'
  if (query.has('tagging')) return method === 'PUT' ? 's3:PutObjectTagging' : 's3:GetObjectTagging'
  if (query.has('acl')) return method === 'PUT' ? 's3:PutObjectAcl' : 's3:GetObjectAcl'
  if (method === 'GET' && query.has('uploadId')) return 's3:ListMultipartUploadParts'
  if (method === 'GET' || method === 'HEAD') return 's3:GetObject'
  // PutObject, CopyObject, and the multipart create/part/complete calls.
  return 's3:PutObject'
}

/** The IAM action of a bucket-level request. */
function bucketAction(method: string, query: URLSearchParams): string {
  if (method === 'PUT') return 's3:CreateBucket'
  if (method === 'DELETE') return 's3:DeleteBucket'
  if (method === 'POST' && query.has('delete')) return 's3:DeleteObject'
  if (query.has('location')) return 's3:GetBucketLocation'
  if (query.has('versions')) return 's3:ListBucketVersions'
  if (query.has('uploads')) return 's3:ListBucketMultipartUploads'
  return 's3:ListBucket'
}

/** Reads a path-style request (`/bucket/key`) into its IAM terms. */
export function s3RequestOf(request: IncomingMessage): S3Request {
  const url = new URL(request.url ?? '/', 'http://sandbox')
  const [bucketPart = '', ...keyParts] = url.pathname.slice(1).split('/')
  const bucket = decodeURIComponent(bucketPart)
  const key = keyParts.map(decodeURIComponent).join('/')
  const onBucket = key === '' // `/bucket` and `/bucket/` (ListObjectsV2) name the bucket
  const method = request.method ?? 'GET'
  const query = url.searchParams
  if (bucket === '') {
    return { action: 's3:ListAllMyBuckets', resource: '*', bucket, key, createsObject: false }
  }
  if (onBucket) {
    const prefix = query.get('prefix')
    return {
      action: bucketAction(method, query),
      resource: `arn:aws:s3:::${bucket}`,
      bucket,
      key,
      createsObject: false,
      context: prefix === null ? {} : { 's3:prefix': prefix },
    }
  }
  const action = objectAction(method, query)
  const isPutObject = method === 'PUT' && action === 's3:PutObject' && !query.has('uploadId')
  const isComplete = method === 'POST' && query.has('uploadId')
  const createsObject = isPutObject || isComplete
  const writes = action === 's3:PutObject'
  return {
    action,
    resource: `arn:aws:s3:::${bucket}/${key}`,
    bucket,
    key,
    createsObject,
    context: {
      's3:if-none-match': header(request, 'if-none-match'),
      's3:if-match': header(request, 'if-match'),
      ...(writes ? { 's3:ObjectCreationOperation': createsObject } : {}),
    },
  }
}

const escapeXml = (text: string): string => text.replace(/[<>&'"]/g, c => `&#${c.charCodeAt(0)};`)

function sendError(
  request: IncomingMessage,
  response: ServerResponse,
  status: number,
  code: string,
  message: string,
  extra = '',
): void {
  const requestId = randomBytes(8).toString('hex').toUpperCase()
  // HEAD answers carry no body, as S3's do: the SDK names the error from the status.
  const body =
    request.method === 'HEAD'
      ? ''
      : `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code>` +
        `<Message>${escapeXml(message)}</Message>${extra}<RequestId>${requestId}</RequestId>` +
        `<HostId>${randomUUID()}</HostId></Error>`
  request.resume()
  response.writeHead(status, {
    'content-type': 'application/xml',
    'content-length': Buffer.byteLength(body),
    'x-amz-request-id': requestId,
  })
  response.end(body)
}

/** A running gateway. */
export interface S3Gateway {
  url: string
  close(): Promise<void>
}

/** Starts the gateway on 127.0.0.1 on a free port, forwarding to s3rver at `upstream`. */
export async function startS3Gateway(options: {
  upstream: string
  access: AccessControl
}): Promise<S3Gateway> {
  const upstream = new URL(options.upstream)
  // Conditional writes to one key run one at a time, so check-then-write cannot interleave.
  const keyLocks = new Map<string, Promise<void>>()

  const forward = (request: IncomingMessage, response: ServerResponse): Promise<void> =>
    new Promise(resolve => {
      const outgoing = httpRequest(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: request.method,
          path: request.url,
          headers: request.headers,
        },
        answer => {
          response.writeHead(answer.statusCode ?? 502, answer.headers)
          answer.pipe(response)
          answer.on('end', resolve)
          answer.on('error', () => resolve())
        },
      )
      outgoing.on('error', error => {
        if (!response.headersSent) sendError(request, response, 502, 'InternalError', error.message)
        else response.destroy()
        resolve()
      })
      request.pipe(outgoing)
    })

  /** The stored object's ETag, or undefined when the key does not exist. */
  const currentEtag = (bucket: string, key: string): Promise<string | undefined> =>
    new Promise((resolve, reject) => {
      const path = `/${[bucket, ...key.split('/')].map(encodeURIComponent).join('/')}`
      const head = httpRequest(
        { host: upstream.hostname, port: upstream.port, method: 'HEAD', path },
        answer => {
          answer.resume()
          const etag = answer.headers.etag
          resolve(answer.statusCode === 200 ? (etag ?? '') : undefined)
        },
      )
      head.on('error', reject)
      head.end()
    })

  const conditionalWrite = async (
    s3: S3Request,
    request: IncomingMessage,
    response: ServerResponse,
  ): Promise<void> => {
    const ifNoneMatch = header(request, 'if-none-match')
    const ifMatch = header(request, 'if-match')
    const etag = await currentEtag(s3.bucket, s3.key)
    const failed = (condition: string) =>
      sendError(
        request,
        response,
        412,
        'PreconditionFailed',
        'At least one of the pre-conditions you specified did not hold',
        `<Condition>${condition}</Condition>`,
      )
    if (ifNoneMatch !== undefined && ifNoneMatch.trim() === '*' && etag !== undefined)
      return failed('If-None-Match')
    if (ifMatch !== undefined) {
      if (etag === undefined)
        return sendError(request, response, 404, 'NoSuchKey', 'The specified key does not exist.')
      const unquote = (value: string) => value.trim().replace(/^"|"$/g, '')
      if (unquote(ifMatch) !== unquote(etag)) return failed('If-Match')
    }
    await forward(request, response)
  }

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const s3 = s3RequestOf(request)
    const principal = options.access.principalOf(request)
    if (principal) {
      const denial = options.access.firstDenial(principal, [s3], s3.bucket)
      if (denial) return sendError(request, response, 403, 'AccessDenied', denial.message)
    }
    const conditional =
      s3.createsObject &&
      (header(request, 'if-none-match') !== undefined || header(request, 'if-match') !== undefined)
    if (!conditional) return forward(request, response)
    const lockKey = `${s3.bucket}/${s3.key}`
    const previous = keyLocks.get(lockKey) ?? Promise.resolve()
    const done = previous.then(() => conditionalWrite(s3, request, response))
    const settled = done.catch(() => undefined)
    keyLocks.set(lockKey, settled)
    await done.finally(() => {
      if (keyLocks.get(lockKey) === settled) keyLocks.delete(lockKey)
    })
  }

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) sendError(request, response, 500, 'InternalError', String(error))
      else response.destroy()
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>(resolve => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
