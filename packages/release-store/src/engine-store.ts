// The rendered host engine of a release, stored next to desired.json so that a host that was
// not there for the deploy (a new instance, a drifted one) runs it with the same settings:
// `{app}/{environment}/engine/<sha256>.sh`, content-addressed and immutable.
import { createHash } from 'node:crypto'
import type { S3Client } from '@aws-sdk/client-s3'
import {
  ConfigurationError,
  APP_NAME_RULE,
  ENVIRONMENT_RULE,
  assertSafeName,
  describeValue,
} from '../../kit/src/index.js'
import { translateS3Error } from '../../aws/src/index.js'
import { s3Uri } from './names.js'
import { isConditionalWriteConflict } from './objects.js'

/** Where a stored engine script is, and the sha256 of its bytes (the key's last part). */
export interface EngineScriptRef {
  key: string
  sha256: string
}

/** `{app}/{environment}/engine/`: the environment's stored engine scripts. */
export function engineScriptsPrefix(app: string, environment: string): string {
  assertSafeName('app', app, APP_NAME_RULE)
  assertSafeName('environment', environment, ENVIRONMENT_RULE)
  return `${app}/${environment}/engine/`
}

/** `{app}/{environment}/engine/<sha256>.sh`. */
export function engineScriptKey(app: string, environment: string, sha256: string): string {
  if (!/^[0-9a-f]{64}$/.test(sha256)) {
    throw new ConfigurationError(
      `engine sha256 ${describeValue(sha256)} is not valid: use 64 lower-case hex digits`,
    )
  }
  return `${engineScriptsPrefix(app, environment)}${sha256}.sh`
}

/** Options of {@link storeEngineScript}. */
export interface StoreEngineOptions {
  bucket: string
  app: string
  environment: string
  /** The rendered engine: `renderCommands(options).join('\n') + '\n'`. */
  script: string
}

/**
 * Stores the engine script create-only (`If-None-Match: *`) under its sha256. The same bytes
 * already there are fine (nothing is written); other bytes under that key can only have been
 * forged, and fail the step without overwriting them.
 */
export async function storeEngineScript(
  s3: S3Client,
  options: StoreEngineOptions,
): Promise<EngineScriptRef> {
  const { bucket, app, environment, script } = options
  const body = Buffer.from(script, 'utf8')
  const sha256 = createHash('sha256').update(body).digest('hex')
  const key = engineScriptKey(app, environment, sha256)
  const { GetObjectCommand, PutObjectCommand } = await import('@aws-sdk/client-s3')
  try {
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: body,
        ContentType: 'text/x-shellscript',
        IfNoneMatch: '*',
      }),
    )
    return { key, sha256 }
  } catch (error) {
    if (!isConditionalWriteConflict(error)) {
      throw translateS3Error(error, { operation: 'PutObject', bucket, key })
    }
  }
  let stored: Uint8Array
  try {
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
    stored = (await object.Body?.transformToByteArray()) ?? new Uint8Array()
  } catch (error) {
    throw translateS3Error(error, { operation: 'GetObject', bucket, key })
  }
  if (!body.equals(Buffer.from(stored))) {
    throw new ConfigurationError(
      `${s3Uri(bucket, key)} holds other bytes than the engine script whose sha256 names it: ` +
        'someone wrote it by other means. It was not overwritten; delete it after finding out who wrote it',
    )
  }
  return { key, sha256 }
}
