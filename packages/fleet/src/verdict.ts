/**
 * How one instance's SSM command invocation is judged. SSM's own overall command status is
 * never used: it reports Success when some targets were Undeliverable.
 */
export type Verdict = 'pending' | 'success' | 'failed'

export interface Judgement {
  verdict: Verdict
  /** Why, for a person: empty for success and pending. */
  reason: string
}

/** What SSM says about one invocation (ListCommandInvocations / GetCommandInvocation). */
export interface InvocationState {
  status?: string | undefined
  statusDetails?: string | undefined
  responseCode?: number | undefined
}

const PENDING_STATUSES = new Set(['Pending', 'InProgress', 'Delayed', 'Cancelling'])

/**
 * Reasons by StatusDetails, which is more precise than Status for failures. SSM spells these
 * with spaces ("Delivery Timed Out"); keys here have the spaces removed.
 */
const FAILURE_REASONS: Record<string, string> = {
  DeliveryTimedOut:
    'the SSM agent did not pick the command up before the delivery timeout (is the agent running and online?)',
  ExecutionTimedOut: 'the command ran past its execution timeout and was stopped',
  Undeliverable:
    'the command could not be delivered: the instance is not managed by SSM, is stopped, or lacks the instance profile',
  Terminated: 'the instance was terminated while the command ran',
  Cancelled: 'the command was cancelled before it finished on this instance',
  Canceled: 'the command was cancelled before it finished on this instance',
  InvalidPlatform: 'the document does not run on this platform (AWS-RunShellScript needs Linux)',
  AccessDenied:
    'the instance could not run the command: access denied (check the instance profile)',
  'Access Denied':
    'the instance could not run the command: access denied (check the instance profile)',
}

/**
 * Judges one invocation. Anything SSM may add in future that is not known to be pending
 * counts as a failure: a deploy must end, never wait forever on a status it cannot read.
 */
export function judgeInvocation(state: InvocationState): Judgement {
  const { status, statusDetails, responseCode } = state
  if (status !== undefined && PENDING_STATUSES.has(status))
    return { verdict: 'pending', reason: '' }
  if (status === 'Success') {
    // A Success with a non-zero code does not happen in SSM; if it ever did, trust the code.
    if (responseCode !== undefined && responseCode !== 0) {
      return {
        verdict: 'failed',
        reason: `SSM reported Success but the exit code was ${responseCode}`,
      }
    }
    return { verdict: 'success', reason: '' }
  }
  const known =
    statusDetails !== undefined ? FAILURE_REASONS[statusDetails.replace(/\s+/g, '')] : undefined
  if (known) return { verdict: 'failed', reason: known }
  switch (status) {
    case 'Failed':
      return {
        verdict: 'failed',
        reason:
          responseCode !== undefined && responseCode >= 0
            ? `the command exited with code ${responseCode}`
            : 'the command failed',
      }
    case 'TimedOut':
      return { verdict: 'failed', reason: 'the command timed out' }
    case 'Cancelled':
      return { verdict: 'failed', reason: FAILURE_REASONS.Cancelled as string }
    case undefined:
      return { verdict: 'failed', reason: 'SSM reported no status for this instance' }
    default:
      return {
        verdict: 'failed',
        reason: `SSM reported the unknown status ${JSON.stringify(status)}${
          statusDetails ? ` (${JSON.stringify(statusDetails)})` : ''
        }, which counts as a failure`,
      }
  }
}

/** The reason used when an instance never appears among a command's invocations. */
export const NO_INVOCATION_REASON =
  'SSM never created an invocation for this instance (it was not targeted, or the command was cancelled before reaching it)'
