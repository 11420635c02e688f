import { describe, expect, it } from '@jest/globals'
import { renderStatus, type StatusRow } from '../../packages/report/src/index.js'
import { renderSummaryHtml, tableRows } from './render.js'

const HOSTILE = '<img src=x onerror=alert(1)> | [x](https://evil.example) @octo-org/team `code`'
const host = (overrides: Partial<StatusRow>): StatusRow => ({
  instanceId: 'i-0123456789abcdef0',
  name: 'web-1',
  state: 'ok',
  reason: '',
  liveVersion: 'v2.0.0',
  rollbackVersions: ['v1.0.0'],
  lastDeploy: { time: '2026-12-01T18:00:00Z', version: 'v2.0.0', status: 'good', mode: 'deploy' },
  lock: undefined,
  ...overrides,
})

describe('renderStatus', () => {
  it('shows every hostile value as text: no markup, no link, no mention, no broken table', () => {
    const page = renderSummaryHtml(
      renderStatus({
        environment: 'prod',
        desiredVersion: 'v2.0.0',
        hosts: [
          host({
            name: HOSTILE,
            state: 'locked',
            reason: HOSTILE,
            lock: { holder: HOSTILE, since: '' },
          }),
          host({ state: HOSTILE, liveSlot: HOSTILE }),
        ],
      }),
    )
    expect(page.html).not.toContain('<img')
    expect([page.links, page.mentions]).toEqual([[], []])
    const rows = tableRows(page.html)
    expect(rows.map(r => r.length)).toEqual([6, 6, 6])
    expect(rows[1]).toEqual([
      `i-0123456789abcdef0 (${HOSTILE})`,
      `🔒 locked: ${HOSTILE}`,
      'v2.0.0',
      'v1.0.0',
      'v2.0.0 good at 2026-12-01T18:00:00Z',
      HOSTILE,
    ])
    expect(rows[2]?.[1]).toBe(`❓ ${HOSTILE}`)
    expect(rows[2]?.[2]).toBe(`v2.0.0 on ${HOSTILE}`)
  })

  it('counts the flagged hosts in the heading, and says when drift is not judged', () => {
    const markdown = renderStatus({
      environment: 'dev',
      desiredNote: "input 'bucket' is empty",
      hosts: [
        host({ state: 'drifted' }),
        host({ state: 'offline', liveVersion: '', rollbackVersions: [], lastDeploy: undefined }),
        host({ state: 'no-release' }),
        host({ rollbackVersions: ['v7', 'v6', 'v5', 'v4', 'v3', 'v2', 'v1'] }),
      ],
    })
    const { text, html } = renderSummaryHtml(markdown)
    expect(text).toContain(
      'Status of dev: 4 instance(s), 1 drifted, 1 offline, 1 without a release',
    )
    expect(text).toContain("No desired version (input 'bucket' is empty): drift is not judged.")
    expect(tableRows(html)[2]?.slice(2)).toEqual(['—', '—', '—', '—'])
    expect(tableRows(html)[4]?.[3]).toBe('v7, v6, v5, v4, v3 and 2 more')
    expect(renderStatus({ hosts: [host({})] })).toContain('## Status: 1 instance(s), all ok')
  })
})
