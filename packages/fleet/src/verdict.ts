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
 * How an instance's invocation ended, for code to branch on (the reason says it for a person):
 * - `finished`: SSM ended it on the instance: the script exited, or SSM stopped it at its
 *   execution timeout; the verdict says whether it succeeded;
 * - `cancelled`: SSM reports it cancelled: by CancelCommand, or by SSM itself once the command
 *   passed MaxErrors (StatusDetails `Terminated`);
 * - `undeliverable`: the command never ran there: not delivered in time, not deliverable,
 *   refused, or never listed at all;
 * - `timed-out`: still pending or running when the wait's deadline passed; SSM may still run it.
 */
export type OutcomeKind = 'finished' | 'cancelled' | 'undeliverable' | 'timed-out'

const CANCELLED = {
  kind: 'cancelled',
  reason: 'the command was cancelled before it finished on this instance',
} as const
const ACCESS_DENIED = {
  kind: 'undeliverable',
  reason: 'the instance could not run the command: access denied (check the instance profile)',
} as const

/**
 * Failures by StatusDetails, which is more precise than Status. SSM spells these with spaces
 * ("Delivery Timed Out"); keys here have the spaces removed.
 */
const FAILURES: Record<string, { kind: Exclude<OutcomeKind, 'timed-out'>; reason: string }> = {
  DeliveryTimedOut: {
    kind: 'undeliverable',
    reason:
      'the SSM agent did not pick the command up before the delivery timeout (is the agent running and online?)',
  },
  ExecutionTimedOut: {
    kind: 'finished',
    reason: 'the command ran past its execution timeout and was stopped',
  },
  Undeliverable: {
    kind: 'undeliverable',
    reason:
      'the command could not be delivered: the instance is not managed by SSM, is stopped, or lacks the instance profile',
  },
  // SSM's word for invocations it cancelled once the command passed MaxErrors.
  Terminated: { kind: 'cancelled', reason: 'the instance was terminated while the command ran' },
  Cancelled: CANCELLED,
  Canceled: CANCELLED,
  InvalidPlatform: {
    kind: 'undeliverable',
    reason: 'the document does not run on this platform (AWS-RunShellScript needs Linux)',
  },
  AccessDenied: ACCESS_DENIED,
  'Access Denied': ACCESS_DENIED,
}

const failureOf = (statusDetails: string | undefined) =>
  statusDetails !== undefined ? FAILURES[statusDetails.replace(/\s+/g, '')] : undefined

/** The kind of an invocation that {@link judgeInvocation} does not call pending. */
export function endedKind(state: InvocationState): Exclude<OutcomeKind, 'timed-out'> {
  if (state.status === 'Success') return 'finished'
  if (state.status === 'Cancelled') return 'cancelled'
  return failureOf(state.statusDetails)?.kind ?? 'finished'
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
  const known = failureOf(statusDetails)
  if (known) return { verdict: 'failed', reason: known.reason }
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
      return { verdict: 'failed', reason: CANCELLED.reason }
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
