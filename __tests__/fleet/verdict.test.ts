import { describe, expect, it } from '@jest/globals'
import { judgeInvocation } from '../../packages/fleet/src/index.js'

describe('judgeInvocation: the status-to-verdict table', () => {
  it.each([
    ['Pending', 'Pending', undefined, 'pending'],
    ['InProgress', 'InProgress', -1, 'pending'],
    ['Delayed', 'Delayed', undefined, 'pending'],
    ['Cancelling', 'Cancelling', undefined, 'pending'],
    ['Success', 'Success', 0, 'success'],
    ['Failed', 'Failed', 11, 'failed'],
    ['Failed', 'Undeliverable', -1, 'failed'],
    ['TimedOut', 'Delivery Timed Out', -1, 'failed'],
    ['TimedOut', 'Execution Timed Out', -1, 'failed'],
    ['Failed', 'Access Denied', -1, 'failed'],
    ['Cancelled', 'Cancelled', -1, 'failed'],
    ['Failed', 'Terminated', -1, 'failed'],
    ['Success', 'Success', 3, 'failed'],
  ] as const)('%s / %s / %s → %s', (status, statusDetails, responseCode, verdict) => {
    expect(judgeInvocation({ status, statusDetails, responseCode }).verdict).toBe(verdict)
  })

  it('explains each failure', () => {
    expect(
      judgeInvocation({ status: 'Failed', statusDetails: 'Failed', responseCode: 11 }).reason,
    ).toBe('the command exited with code 11')
    expect(judgeInvocation({ status: 'Failed', statusDetails: 'Undeliverable' }).reason).toMatch(
      /could not be delivered/,
    )
    expect(
      judgeInvocation({ status: 'TimedOut', statusDetails: 'DeliveryTimedOut' }).reason,
    ).toMatch(/agent did not pick/)
    expect(
      judgeInvocation({ status: 'TimedOut', statusDetails: 'ExecutionTimedOut' }).reason,
    ).toMatch(/execution timeout/)
    expect(judgeInvocation({ status: 'TimedOut' }).reason).toBe('the command timed out')
  })

  it('counts unknown or missing statuses as failures, never as an endless wait', () => {
    expect(judgeInvocation({ status: 'Hibernating', statusDetails: 'Zzz' })).toEqual({
      verdict: 'failed',
      reason: 'SSM reported the unknown status "Hibernating" ("Zzz"), which counts as a failure',
    })
    expect(judgeInvocation({}).verdict).toBe('failed')
  })
})
