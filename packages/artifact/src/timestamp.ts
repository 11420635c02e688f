// The one timestamp every entry of a zip gets, chosen so that rebuilding the same commit
// gives the same bytes.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { ConfigurationError, describeValue } from '../../kit/src/index.js'

/** 1980-01-01T00:00:00Z, the earliest time a zip can hold. */
export const ZIP_EPOCH_SECONDS = 315_532_800

export interface ResolvedTimestamp {
  epochSeconds: number
  /** Where it came from, for the log. */
  source: 'SOURCE_DATE_EPOCH' | 'commit' | 'default'
}

const SHA_PATTERN = /^[0-9a-f]{7,64}$/i

/**
 * SOURCE_DATE_EPOCH when set (the reproducible-builds convention); else the committer time
 * of `sha` read with git in `cwd` when git can read it; else 1980-01-01. A set but
 * malformed SOURCE_DATE_EPOCH is an error rather than a silent fallback.
 */
export async function resolveTimestamp(options: {
  sourceDateEpoch?: string | undefined
  sha?: string | undefined
  cwd: string
}): Promise<ResolvedTimestamp> {
  const fromEnv = options.sourceDateEpoch?.trim()
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!/^\d{1,12}$/.test(fromEnv)) {
      throw new ConfigurationError(
        `SOURCE_DATE_EPOCH ${describeValue(fromEnv)} is not valid: use whole seconds since 1970-01-01 UTC`,
      )
    }
    return { epochSeconds: Number(fromEnv), source: 'SOURCE_DATE_EPOCH' }
  }
  const sha = options.sha?.trim()
  if (sha && SHA_PATTERN.test(sha)) {
    try {
      const { stdout } = await promisify(execFile)(
        'git',
        ['-C', options.cwd, 'show', '-s', '--format=%ct', sha, '--'],
        { timeout: 30_000 },
      )
      const seconds = Number(stdout.trim())
      if (Number.isSafeInteger(seconds) && seconds > 0) {
        return { epochSeconds: seconds, source: 'commit' }
      }
    } catch {
      // Not a checkout, or the commit is not in it: fall through to the fixed default.
    }
  }
  return { epochSeconds: ZIP_EPOCH_SECONDS, source: 'default' }
}
