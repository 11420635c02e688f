import { describe, expect, it } from '@jest/globals'
import { escapeMarkdown } from '../../packages/kit/src/index.js'
import {
  SUMMARY_LIMIT_BYTES,
  deploymentState,
  readableOutput,
  renderSummary,
  type InstanceResult,
  type SummaryInput,
} from '../../packages/report/src/index.js'
import { listItems, renderSummaryHtml, tableRows } from './render.js'

const HOSTILE = '<img src=x onerror=alert(1)>'
const OLD = 'v0.0.6-master-1111111'
const NEW = 'v0.0.7-master-abc1234'
const deployed: InstanceResult = {
  instanceId: 'i-0123456789abcdef0',
  name: 'web-1',
  status: 'success',
  exitCode: 0,
  previousVersion: OLD,
  version: NEW,
  rolledBack: false,
  durationMs: 12_345,
  reason: '',
}
const rolledBack: InstanceResult = {
  instanceId: 'i-0123456789abcdef1',
  name: 'web-2',
  status: 'rolled-back',
  exitCode: 20,
  previousVersion: OLD,
  version: NEW,
  rolledBack: true,
  durationMs: 30_000,
  reason: 'health check failed after 5 attempts: \'aws\' said "no"',
}
const page = (input: SummaryInput) => renderSummaryHtml(renderSummary(input))
/** A deploy of NEW over OLD to develop. */
const toDevelop = { environment: 'develop', version: NEW, previousVersion: OLD }

describe('renderSummary, as a reader sees it rendered', () => {
  it('shows status, what is live, artifact, every instance, health, links and the rollback line', () => {
    const markdown = renderSummary({
      status: 'partial',
      ...toDevelop,
      artifactUri: `s3://my-artifacts/webrtc/develop/${NEW}.zip`,
      artifactSha256: 'a'.repeat(64),
      artifactSize: 5 * 1024 * 1024,
      deployResults: [deployed, rolledBack],
      healthResults: [
        {
          target: 'https://dev.example.com/health',
          healthy: true,
          status: 200,
          attempts: 2,
          durationMs: 800,
        },
      ],
      commandId: '0b9c1e2a-1111-2222-3333-444455556666',
      region: 'eu-central-1',
      rollbackWorkflow: 'acme/app/.github/workflows/deploy-web.yml@refs/heads/master',
    })
    const { html, text } = renderSummaryHtml(markdown)
    expect(html).toContain(`<h2>⚠️ Deploy of ${NEW} to develop partly failed</h2>`)
    expect(text).toContain(`Live now: ${NEW} on 1 instance, ${OLD} on 1 instance (before: ${OLD})`)
    expect(text).toContain(
      `Artifact: s3://my-artifacts/webrtc/develop/${NEW}.zip (5.0 MiB), sha256`,
    )
    expect(tableRows(html)).toEqual([
      ['Instance', 'Result', 'Before → after', 'Took'],
      ['web-1 i-0123456789abcdef0', '✅ deployed', `${OLD} → ${NEW}`, '12.3 s'],
      ['web-2 i-0123456789abcdef1', '↩️ rolled back', `${OLD} → ${OLD}`, '30.0 s'],
    ])
    // The reason reads as written: no entity shows (the old '&#39;aws&#39;').
    expect(text).toContain(
      `web-2 i-0123456789abcdef1 (exit 20): health check failed after 5 attempts: 'aws' said "no"`,
    )
    expect(text).not.toMatch(/&#?\w+;/)
    expect(html).toContain(
      'https://eu-central-1.console.aws.amazon.com/systems-manager/run-command/0b9c1e2a-1111-2222-3333-444455556666?region=eu-central-1',
    )
    expect(html).toContain(
      `https://s3.console.aws.amazon.com/s3/object/my-artifacts?region=eu-central-1&amp;prefix=webrtc%2Fdevelop%2F${NEW}.zip`,
    )
    expect(markdown).toContain(
      '```sh\ngh workflow run deploy-web.yml --repo acme/app --ref master -f environment=develop ' +
        `-f version=${OLD}\n\`\`\``,
    )
    expect(text).toContain(`To put ${OLD} back on develop:`)
  })

  it('says a rolled-back deploy in a sentence, shows the previous version live, and offers no rollback to it', () => {
    const { html, text } = page({
      status: 'rolled-back',
      ...toDevelop,
      deployResults: [rolledBack],
      rollbackWorkflow: 'acme/app/.github/workflows/deploy.yml@refs/heads/master',
    })
    expect(html).toContain(`<h2>↩️ Deploy of ${NEW} to develop rolled back</h2>`)
    expect(text).toContain(`Live now: ${OLD} (${NEW} was rolled back)`)
    expect(text).not.toContain('gh workflow run')
    expect(text).not.toContain('Roll back')
  })

  it('never shows "no" for an instance that verify-health rolled back after it deployed', () => {
    const { html, text } = page({
      status: 'rolled-back',
      ...toDevelop,
      deployResults: [deployed],
    })
    expect(tableRows(html)[1]).toEqual([
      'web-1 i-0123456789abcdef0',
      '↩️ rolled back',
      `${OLD} → ${OLD}`,
      '12.3 s',
    ])
    expect(text).not.toMatch(/\bno\b/)
  })

  it('shows the old version live after a failure before the switch, with the reason below', () => {
    const { html, text } = page({
      status: 'failed',
      environment: 'prod',
      version: NEW,
      previousVersion: OLD,
      deployResults: [
        {
          ...deployed,
          status: 'failed',
          exitCode: 10,
          version: '',
          reason: 'artifact sha256 mismatch',
        },
      ],
      rollbackWorkflow: 'acme/app/.github/workflows/deploy.yml@refs/heads/main',
    })
    expect(html).toContain(`<h2>❌ Deploy of ${NEW} to prod failed</h2>`)
    expect(text).toContain(`Live now: ${OLD} (${NEW} was not deployed)`)
    expect(tableRows(html)[1]).toEqual([
      'web-1 i-0123456789abcdef0',
      '❌ failed',
      `${OLD} → ${OLD}`,
      '12.3 s',
    ])
    expect(text).toContain('web-1 i-0123456789abcdef0 (exit 10): artifact sha256 mismatch')
    expect(text).not.toContain('gh workflow run')
  })

  it('names the fleet statuses of hosts that failed before the switch or were never started', () => {
    const { html, text } = page({
      status: 'rolled-back',
      ...toDevelop,
      deployResults: [
        rolledBack,
        { ...deployed, status: 'failed-before-switch', exitCode: 10, version: '', reason: 'x' },
        { ...deployed, name: 'web-3', status: 'untouched', exitCode: null, version: '' },
      ],
    })
    const rows = tableRows(html)
    expect(rows[2]).toEqual([
      'web-1 i-0123456789abcdef0',
      '❌ failed before the switch',
      `${OLD} → ${OLD}`,
      '12.3 s',
    ])
    expect(rows[3]).toEqual([
      'web-3 i-0123456789abcdef0',
      '⏸️ was not started',
      `${OLD} → ${OLD}`,
      '12.3 s',
    ])
    expect(text).toContain(`Live now: ${OLD} (${NEW} was rolled back)`)
  })

  it('names a rollback run as one', () => {
    expect(
      page({ status: 'success', mode: 'rollback', environment: 'prod', version: OLD }).html,
    ).toContain(`<h2>✅ Rollback of prod to ${OLD} succeeded</h2>`)
    expect(page({ status: 'rolled-back', mode: 'rollback', environment: 'prod' }).html).toContain(
      '<h2>↩️ Rollback of prod failed and was undone</h2>',
    )
  })

  it('keeps the instance table to a normal width, with long reasons below it', () => {
    const long = {
      ...rolledBack,
      reason: `health check failed: ${'connection refused; '.repeat(20)}`,
    }
    const { html, text } = page({ status: 'rolled-back', deployResults: [deployed, long] })
    // Two versions of the default format ({base}-{branch}-{sha7}) fit; a reason would not.
    const widths = tableRows(html).map(row => row.join(' | ').length)
    expect(Math.max(...widths)).toBeLessThanOrEqual(100)
    expect(text).toContain(`(exit 20): ${long.reason?.trim()}`)
  })

  it('lists the engine warnings under the table, escaped', () => {
    const { html, text } = page({
      status: 'success',
      version: NEW,
      deployResults: [
        {
          ...deployed,
          warnings: ["hooks run as root: set 'run-as' to the app user", `${HOSTILE} @admins`],
        },
        { ...deployed, instanceId: 'i-2', name: '', warnings: 'not a list' },
      ],
    })
    expect(text).toContain('Warnings')
    expect(listItems(html)).toEqual([
      "web-1 i-0123456789abcdef0: hooks run as root: set 'run-as' to the app user",
      `web-1 i-0123456789abcdef0: ${HOSTILE} @admins`,
    ])
    expect(html).not.toContain('<img')
    expect(text.match(/i-2:/g)).toBeNull()
  })

  it('shows remote output without the engine machine lines', () => {
    const output = [
      '::deploy-phase:: lock',
      'took the lock',
      '::deploy-phase:: health',
      'health check passed',
      'DEPLOY_RESULT {"status":"failed"}',
    ].join('\n')
    expect(readableOutput(output)).toBe('took the lock\nhealth check passed')
    const { text } = page({ status: 'failed', deployResults: [{ ...rolledBack, output }] })
    expect(text).toContain('Output of web-2 i-0123456789abcdef1')
    expect(text).toContain('took the lock\nhealth check passed')
    expect(text).not.toMatch(/deploy-phase|DEPLOY_RESULT/)
  })

  it('works with almost nothing, as after an early failure', () => {
    const { html, text } = page({ status: 'failed' })
    expect(html).toContain('<h2>❌ Deploy failed</h2>')
    expect(text).toContain('Live now: unknown')
    expect(text).toContain('did not reach the instances')
    expect(page({}).html).toContain('<h2>ℹ️ Deploy: status unknown</h2>')
    // Without results and with a status that does not say, what is live is not guessed.
    expect(page({ status: 'partial', ...toDevelop }).text).toContain(
      `Live now: unknown (this run: ${NEW})`,
    )
  })

  it('shows hostile values as text', () => {
    const markdown = renderSummary({
      status: HOSTILE,
      environment: `${HOSTILE} | [x](javascript:alert(1))`,
      version: HOSTILE,
      previousVersion: HOSTILE,
      deployResults: [
        {
          instanceId: HOSTILE,
          name: `a|b\n## heading`,
          status: HOSTILE,
          reason: `${HOSTILE}\n\`code\``,
          output: `</pre>${HOSTILE}`,
        },
      ],
      healthResults: [{ target: HOSTILE, detail: HOSTILE }],
      rollbackWorkflow: 'deploy.yml; rm -rf /',
      commandId: '"><script>',
      region: 'eu-central-1',
    })
    const { html, text, links } = renderSummaryHtml(markdown)
    expect(html).not.toMatch(/<img|<script|<h2>heading/)
    expect(links).toEqual([])
    expect(text).toContain(HOSTILE)
    expect(text).not.toContain('gh workflow run')
    // A pipe or newline in a name cannot break the table.
    expect(tableRows(html)[1]?.[0]).toBe(`a|b ## heading ${HOSTILE}`)
  })

  it('turns no @mention or bare URL of untrusted text into a mention or a link', () => {
    const mentionsAndUrls =
      'cc @octocat @acme/admins: see https://evil.example/x, www.evil.example or a@evil.example'
    const { text, links, mentions } = page({
      status: 'failed',
      environment: 'develop',
      version: NEW,
      deployResults: [
        {
          ...rolledBack,
          name: '@octocat',
          reason: mentionsAndUrls,
          warnings: [mentionsAndUrls],
          output: mentionsAndUrls,
        },
      ],
      healthResults: [{ target: 'https://evil.example/health', detail: mentionsAndUrls }],
    })
    expect(mentions).toEqual([])
    expect(links).toEqual([])
    // The reader still sees the text as it was written.
    expect(text).toContain(`(exit 20): ${mentionsAndUrls}`)
    expect(text).toContain(`@octocat i-0123456789abcdef1: ${mentionsAndUrls}`)
  })

  it('cuts remote output and stays under the 1 MiB limit', () => {
    const many: InstanceResult[] = Array.from({ length: 400 }, (_, i) => ({
      instanceId: `i-${String(i).padStart(17, '0')}`,
      status: 'failed',
      reason: 'x'.repeat(200),
      output: `${'line of output\n'.repeat(3000)}DEPLOY_RESULT {}`,
    }))
    const markdown = renderSummary({ status: 'failed', deployResults: many })
    expect(Buffer.byteLength(markdown)).toBeLessThan(SUMMARY_LIMIT_BYTES)
    expect(markdown).toContain(`i-${'0'.repeat(17)}`)
    expect(markdown).toMatch(
      /Cut to the last \d+ of 44999 characters|left out to stay under the 1 MiB/,
    )
  })

  it('cuts one long output to its end, where the result is', () => {
    const markdown = renderSummary({
      status: 'failed',
      deployResults: [
        { instanceId: 'i-1', status: 'failed', output: `${'x'.repeat(20_000)}THE END` },
      ],
    })
    expect(markdown).toContain('THE END</pre>')
    expect(markdown).toContain('Cut to the last 8000 of 20007 characters.')
  })
})

describe('escapeMarkdown', () => {
  it('neutralises markup, links, code, tables and line breaks in one pass', () => {
    expect(escapeMarkdown('[a](b) `c` *d* _e_ |f| \\g ~h~ #i !j\nk')).toBe(
      '&#91;a&#93;(b) &#96;c&#96; &#42;d&#42; &#95;e&#95; &#124;f&#124; &#92;g &#126;h&#126; &#35;i &#33;j k',
    )
    expect(escapeMarkdown(`'a' & <b>`)).toBe('&#39;a&#39; &amp; &lt;b&gt;')
  })
  it('breaks mentions and autolinks with a zero-width space', () => {
    expect(escapeMarkdown('@a https://b HTTP://c ftp://d www.e f@g.h s3://i/j')).toBe(
      '@&#8203;a https:&#8203;//b HTTP:&#8203;//c ftp:&#8203;//d www&#8203;.e f@&#8203;g.h s3://i/j',
    )
  })
})

describe('deploymentState', () => {
  it.each([
    ['success', 'success'],
    ['noop', 'success'],
    ['failed', 'failure'],
    ['rolled-back', 'failure'],
    ['partial', 'failure'],
    [undefined, 'error'],
    ['weird', 'error'],
  ] as const)('%s → %s', (status, state) => {
    expect(deploymentState(status)).toBe(state)
  })
})

describe("each host's before → after", () => {
  it('shows ∅ before a first deploy, — for a previous version not given, unknown after', () => {
    const rows = tableRows(
      page({
        status: 'partial',
        ...toDevelop,
        deployResults: [
          { ...deployed, previousVersion: '' },
          { ...deployed, previousVersion: undefined },
          { ...deployed, status: 'failed', exitCode: 21, reason: 'rollback failed' },
          { ...deployed, previousVersion: HOSTILE, version: `${HOSTILE}|x` },
        ],
      }).html,
    ).map(row => row[2])
    expect(rows).toEqual([
      'Before → after',
      `∅ → ${NEW}`,
      `— → ${NEW}`,
      `${OLD} → unknown`,
      `${HOSTILE} → ${HOSTILE}|x`,
    ])
    expect(renderSummary({ deployResults: [{ ...deployed, version: HOSTILE }] })).not.toContain(
      '<img',
    )
  })
})

describe('the rollout in waves', () => {
  const ids = (from: number, n: number) =>
    Array.from({ length: n }, (_, i) => `i-${String(from + i).padStart(17, '0')}`)
  const failedRollout = {
    status: 'rolled-back',
    ...toDevelop,
    deployResults: [rolledBack],
    waves: [
      {
        wave: 1,
        instanceIds: ids(1, 1),
        succeeded: 1,
        failed: 0,
        durationMs: 812,
        outcome: 'reverted',
      },
      {
        wave: 2,
        instanceIds: ids(2, 4),
        succeeded: 3,
        failed: 1,
        durationMs: 3100,
        outcome: 'failed',
      },
      { wave: 3, instanceIds: ids(6, 5), outcome: 'not-started' },
      {
        wave: 0,
        instanceIds: ids(1, 4),
        succeeded: 4,
        failed: 0,
        durationMs: 1500,
        outcome: 'passed',
      },
    ],
  }

  it('shows each wave, its hosts (ids only when few), result and time, and the switch back', () => {
    const { html, text } = page(failedRollout)
    expect(html.indexOf('<h3>Waves</h3>')).toBeLessThan(html.indexOf('<h3>Instances</h3>'))
    expect(tableRows(html)).toEqual([
      ['Wave', 'Hosts', 'Result', 'Took'],
      ['1', `1: ${ids(1, 1)[0]}`, '↩️ deployed, then switched back: 1 succeeded', '812 ms'],
      ['2', '4', '❌ failed: 3 succeeded, 1 failed', '3.1 s'],
      ['3', '5', '⏸️ not started', '—'],
    ])
    expect(text).toContain(
      '↩️ The run switched back 4 hosts to their previous release after wave 2 failed (1.5 s).',
    )
  })

  it('says when hosts could not be switched back', () => {
    const waves = failedRollout.waves.map(w =>
      w.wave === 0 ? { ...w, succeeded: 3, failed: 1 } : w,
    )
    expect(page({ ...failedRollout, waves }).text).toContain(
      'switched back 3 hosts to their previous release after wave 2 failed (1.5 s). ' +
        '1 host could not be switched back: see the details below.',
    )
  })

  it('shows no waves section for a rollout in one wave', () => {
    const one = [{ wave: 1, instanceIds: ids(1, 2), succeeded: 2, failed: 0, outcome: 'passed' }]
    expect(renderSummary({ status: 'success', ...toDevelop, waves: one })).not.toContain('Waves')
    expect(renderSummary({ status: 'success', ...toDevelop, waves: [] })).not.toContain('Waves')
  })

  it('shows hostile values as text and leaves out entries without a whole wave number', () => {
    const { html, text, links, mentions } = page({
      status: 'failed',
      waves: [
        { wave: 1, instanceIds: [HOSTILE, 7, '@octocat'], outcome: HOSTILE, durationMs: 5 },
        { wave: 2, instanceIds: 'i-1', succeeded: '9' as unknown as number, outcome: 'passed' },
        { wave: '3' as unknown as number, instanceIds: ['i-x'], outcome: 'passed' },
        { wave: 1.5, outcome: 'passed' },
      ],
    })
    expect(html).not.toContain('<img')
    expect(links).toEqual([])
    expect(mentions).toEqual([])
    expect(tableRows(html)).toEqual([
      ['Wave', 'Hosts', 'Result', 'Took'],
      ['1', `2: ${HOSTILE}, @octocat`, HOSTILE, '5 ms'],
      ['2', '—', '✅ passed', '—'],
    ])
    expect(text).not.toContain('i-x')
  })

  it('keeps a rollout of many waves short: runs of waves that passed or never started share a row', () => {
    const waves = Array.from({ length: 500 }, (_, i) => ({
      wave: i + 1,
      instanceIds: ids(i, 1),
      succeeded: i === 299 ? 0 : 1,
      failed: i === 299 ? 1 : 0,
      durationMs: 1000,
      outcome: i < 299 ? 'passed' : i === 299 ? 'failed' : 'not-started',
    }))
    expect(tableRows(page({ status: 'rolled-back', waves }).html)).toEqual([
      ['Wave', 'Hosts', 'Result', 'Took'],
      ['1–299', '299', '✅ passed: 299 succeeded', '299.0 s'],
      ['300', `1: ${ids(299, 1)[0]}`, '❌ failed: 0 succeeded, 1 failed', '1.0 s'],
      ['301–500', '200', '⏸️ not started', '—'],
    ])
  })

  it('shows at most 200 rows of waves, however many the input holds', () => {
    const waves = Array.from({ length: 50_000 }, (_, i) => ({
      wave: i + 1,
      instances: [HOSTILE.repeat(20)],
      outcome: i % 2 ? 'failed' : 'passed',
    }))
    const markdown = renderSummary({ status: 'failed', waves })
    const { html, text } = renderSummaryHtml(markdown)
    expect(tableRows(html)).toHaveLength(201)
    expect(text).toContain('49800 more rows are not shown.')
    expect(Buffer.byteLength(markdown)).toBeLessThan(SUMMARY_LIMIT_BYTES)
  })
})

describe('the rollback picker', () => {
  const WORKFLOW = 'acme/app/.github/workflows/deploy.yml@refs/heads/main'
  const recorded = [
    { version: 'v1.2.0', deployedAt: '2026-11-30T10:50:03Z' },
    { version: 'v1.1.0', deployedAt: 'yesterday' },
    { version: 'v1.0.0' },
  ]

  it('lists each recorded version, newest first, with the line that puts it back', () => {
    const markdown = renderSummary({
      status: 'success',
      environment: 'prod',
      version: 'v1.3.0',
      rollbackWorkflow: WORKFLOW,
      rollbackVersions: recorded,
    })
    const { text } = renderSummaryHtml(markdown)
    expect(text).toContain('Roll back')
    expect(text).toContain('3 versions deployed to prod before, newest first')
    const blocks = [...markdown.matchAll(/<code>(.*?)<\/code>(.*)\n\n```sh\n(.*)\n```/g)]
    expect(blocks.map(m => [m[1], m[2], m[3]])).toEqual(
      recorded.map(({ version }, i) => [
        version,
        i === 0 ? ', deployed 2026-11-30 10:50:03 UTC' : '',
        `gh workflow run deploy.yml --repo acme/app --ref main -f environment=prod -f version=${version}`,
      ]),
    )
  })

  it('offers neither the version live everywhere nor one the page offers already', () => {
    const base = {
      environment: 'prod',
      version: 'v1.3.0',
      rollbackWorkflow: WORKFLOW,
      rollbackVersions: [{ version: 'v1.3.0' }, ...recorded],
    }
    const live = renderSummary({
      ...base,
      status: 'success',
      deployResults: [{ ...deployed, version: 'v1.3.0' }],
    })
    expect(live).not.toContain('version=v1.3.0')
    expect(live).toContain('-f version=v1.0.0')
    // After a success the previous version has its own line above; it is not repeated.
    const withPrevious = renderSummary({ ...base, status: 'success', previousVersion: 'v1.2.0' })
    expect(withPrevious.match(/version=v1\.2\.0/g)).toHaveLength(1)
    expect(withPrevious).toContain('2 other versions deployed to prod before')
    expect(withPrevious.match(/### Roll back/g)).toHaveLength(1)
    // After a failure the version that was tried serves nowhere: it may be listed.
    const failed = renderSummary({ ...base, status: 'failed', previousVersion: 'v1.2.0' })
    expect(failed).toContain('-f version=v1.3.0')
    expect(failed.match(/version=v1\.2\.0/g)).toBeNull()
  })

  it('leaves out versions the suite refuses, and shows at most ten', () => {
    const many = Array.from({ length: 15 }, (_, i) => ({ version: `v0.${i}` }))
    const markdown = renderSummary({
      status: 'success',
      environment: 'prod',
      rollbackWorkflow: WORKFLOW,
      rollbackVersions: [{ version: HOSTILE }, { version: 'v1;id' }, {}, ...many],
    })
    expect(markdown).not.toMatch(/<img|id'/)
    expect(markdown.match(/gh workflow run/g)).toHaveLength(10)
    expect(markdown).toContain('-f version=v0.9\n')
    expect(markdown).not.toContain('v0.10')
  })

  it('without a workflow to dispatch, lists the versions and how to run it by hand', () => {
    const { html, text } = page({
      status: 'success',
      environment: 'prod',
      version: 'v1.3.0',
      rollbackVersions: recorded,
    })
    expect(text).not.toContain('gh workflow run')
    expect(listItems(html)).toEqual([
      'v1.2.0, deployed 2026-11-30 10:50:03 UTC',
      'v1.1.0',
      'v1.0.0',
    ])
    expect(text).toContain(
      'Run this workflow from the Actions tab with version = one of these and environment = prod.',
    )
  })

  it('shows nothing without recorded versions', () => {
    const markdown = renderSummary({ status: 'success', environment: 'prod', rollbackVersions: [] })
    expect(markdown).not.toContain('Roll back')
  })
})
