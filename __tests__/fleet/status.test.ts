import { describe, expect, it } from '@jest/globals'
import { fleetStatus, type FleetStatus, type HostStatus } from '../../packages/fleet/src/index.js'

// The table in docs/actions/ssm-deploy.md, row by row.
const TABLE: [HostStatus[], FleetStatus][] = [
  [['success'], 'success'],
  [['success', 'success', 'success'], 'success'],
  [['success', 'rolled-back'], 'partial'],
  [['success', 'failed-before-switch'], 'partial'],
  [['success', 'untouched'], 'partial'],
  [['success', 'cancelled'], 'partial'],
  [['success', 'failed'], 'partial'],
  [['rolled-back'], 'rolled-back'],
  // max-errors 0: the first host failed its health gate, SSM never ran the others.
  [['rolled-back', 'untouched', 'untouched'], 'rolled-back'],
  [['rolled-back', 'failed-before-switch'], 'rolled-back'],
  [['rolled-back', 'failed-before-switch', 'untouched'], 'rolled-back'],
  [['rolled-back', 'failed'], 'failed'],
  [['rolled-back', 'cancelled'], 'failed'],
  [['failed-before-switch'], 'failed'],
  [['failed-before-switch', 'untouched'], 'failed'],
  [['untouched'], 'failed'],
  [['cancelled'], 'failed'],
  [['cancelled', 'untouched'], 'failed'],
  [['failed'], 'failed'],
  [['failed', 'untouched'], 'failed'],
  [[], 'failed'],
]

describe('fleetStatus', () => {
  it.each(TABLE)('hosts %j → %s', (hosts, expected) => {
    expect(fleetStatus(hosts)).toBe(expected)
    // The order of the hosts never matters.
    expect(fleetStatus([...hosts].reverse())).toBe(expected)
  })
})
