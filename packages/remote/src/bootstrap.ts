// The host bootstrap: a short POSIX sh script that makes a host run its environment's desired
// release (desired.json and the engine script it names, read with the host's own credentials).
// One text for EC2 user data, a State Manager association and a by-hand SSM run.
import {
  APP_NAME_RULE,
  ENVIRONMENT_RULE,
  assertSafeName,
  invalidInput,
  shellQuote,
} from '../../kit/src/index.js'
import { BOOTSTRAP_SCRIPT } from './bootstrap-script.generated.js'

/** Where the bootstrap finds desired.json: `s3://<bucket>/<app>/<environment>/desired.json`. */
export interface BootstrapOptions {
  /** `bucket`: the artifact bucket. */
  bucket: string
  /** `app-name`: the app, as the deploy names it. */
  app: string
  /** `environment`: the environment whose desired release the host runs. */
  environment: string
}

/** Exit code of a bootstrap that refused to run the engine (nothing on the host was touched). */
export const BOOTSTRAP_EXIT_REFUSED = 12

// S3's general purpose bucket names (the dotted ones too; never an IP address).
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/

/**
 * The bootstrap script for one environment: `#!/bin/bash`, its three settings single-quoted,
 * then the embedded bootstrap. Each value is checked first; errors name the input.
 */
export function renderBootstrap(options: BootstrapOptions): string {
  const { bucket, app, environment } = options
  if (!BUCKET_NAME.test(bucket) || bucket.includes('..') || /^\d+\.\d+\.\d+\.\d+$/.test(bucket)) {
    throw invalidInput(
      'bucket',
      bucket,
      "use an S3 bucket name: 3 to 63 lower-case letters, digits, '.' and '-', starting and ending with a letter or digit",
    )
  }
  assertSafeName("input 'app-name'", app, APP_NAME_RULE)
  assertSafeName("input 'environment'", environment, ENVIRONMENT_RULE)
  const body = BOOTSTRAP_SCRIPT.replace(/^#!.*\n/, '')
  return [
    '#!/bin/bash',
    `EC2D_BUCKET=${shellQuote(bucket)}`,
    `EC2D_APP=${shellQuote(app)}`,
    `EC2D_ENVIRONMENT=${shellQuote(environment)}`,
    body,
  ].join('\n')
}

/** The bootstrap as the `commands` of `AWS-RunShellScript`: one line each. */
export function bootstrapCommands(options: BootstrapOptions): string[] {
  return renderBootstrap(options).replace(/\n$/, '').split('\n')
}
