import { describe, expect, it } from '@jest/globals'
import { escapeMarkdown } from '../../packages/kit/src/index.js'
import {
  SUMMARY_LIMIT_BYTES,
  deploymentState,
  renderSummary,
  workflowFileName,
  type InstanceResult,
} from '../../packages/report/src/index.js'

const HOSTILE = '<img src=x onerror=alert(1)>'
const results: InstanceResult[] = [
  {
    'instance-id': 'i-0123456789abcdef0',
    name: 'web-1',
    status: 'success',
    'exit-code': 0,
    'previous-version': 'v0.0.6-master-1111111',
    version: 'v0.0.7-master-abc1234',
    'rolled-back': false,
    'duration-ms': 12_345,
    reason: '',
  },
  {
    'instance-id': 'i-0123456789abcdef1',
    name: 'web-2',
    status: 'rolled-back',
    'exit-code': 20,
    'previous-version': 'v0.0.6-master-1111111',
    version: 'v0.0.6-master-1111111',
    'rolled-back': true,
    'duration-ms': 30_000,
    reason: 'health check failed after 5 attempts',
  },
]

describe('renderSummary', () => {
  it('shows status, versions, artifact, every instance, health, links and the rollback command', () => {
    const markdown = renderSummary({
      status: 'partial',
      environment: 'develop',
      version: 'v0.0.7-master-abc1234',
      previousVersion: 'v0.0.6-master-1111111',
      artifactUri: 's3://my-artifacts/webrtc/v0.0.7-master-abc1234.zip',
      artifactSha256: 'a'.repeat(64),
      artifactSize: 5 * 1024 * 1024,
      deployResults: results,
      healthResults: [
        {
          target: 'https://dev.example.com/health',
          healthy: true,
          status: 200,
          attempts: 2,
          'duration-ms': 800,
        },
      ],
      commandId: '0b9c1e2a-1111-2222-3333-444455556666',
      region: 'eu-central-1',
      rollbackWorkflow: 'deploy.yml',
    })
    expect(markdown).toContain('## ⚠️ Deploy partial to develop')
    expect(markdown).toContain(
      '<code>v0.0.6-master-1111111</code> → <code>v0.0.7-master-abc1234</code>',
    )
    expect(markdown).toContain('(5.0 MiB)')
    expect(markdown).toContain(`sha256 <code>${'a'.repeat(64)}</code>`)
    expect(markdown).toContain('| web-1 | <code>i-0123456789abcdef0</code> | ✅ success | 0 |')
    expect(markdown).toContain('| web-2 | <code>i-0123456789abcdef1</code> | ↩️ rolled-back | 20 |')
    expect(markdown).toContain('| yes | 30.0 s | health check failed after 5 attempts |')
    expect(markdown).toContain('| https://dev.example.com/health | ✅ yes | 200 | 2 | 800 ms |')
    expect(markdown).toContain(
      'https://eu-central-1.console.aws.amazon.com/systems-manager/run-command/0b9c1e2a-1111-2222-3333-444455556666?region=eu-central-1',
    )
    expect(markdown).toContain(
      'https://s3.console.aws.amazon.com/s3/object/my-artifacts?region=eu-central-1&prefix=webrtc%2Fv0.0.7-master-abc1234.zip',
    )
    expect(markdown).toContain(
      '```sh\ngh workflow run deploy.yml -f version=v0.0.6-master-1111111\n```',
    )
  })

  it('works with almost nothing, as after an early failure', () => {
    const markdown = renderSummary({ status: 'failed' })
    expect(markdown).toContain('## ❌ Deploy failed')
    expect(markdown).toContain('— → —')
    expect(markdown).toContain('did not reach the instances')
    expect(renderSummary({})).toContain('Deploy unknown')
  })

  it('shows hostile values as text', () => {
    const markdown = renderSummary({
      status: HOSTILE,
      environment: `${HOSTILE} | [x](javascript:alert(1))`,
      version: HOSTILE,
      previousVersion: HOSTILE,
      deployResults: [
        {
          'instance-id': HOSTILE,
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
    expect(markdown).not.toMatch(/<img|<script|<\/pre><img/)
    expect(markdown).not.toContain('[x](javascript')
    expect(markdown).toContain('&lt;img src=x onerror=alert(1)&gt;')
    expect(markdown).not.toContain('gh workflow run')
    expect(markdown).not.toContain('run-command/"')
    // A pipe or newline in a name cannot break the table.
    expect(markdown).toContain('a&#124;b &#35;&#35; heading')
  })

  it('takes the workflow from a workflow ref, as a reusable workflow sees it', () => {
    expect(
      renderSummary({
        previousVersion: 'v1.0.0',
        rollbackWorkflow: 'acme/app/.github/workflows/deploy-web.yml@refs/heads/main',
      }),
    ).toContain('gh workflow run deploy-web.yml -f version=v1.0.0')
    expect(workflowFileName('deploy.yml')).toBe('deploy.yml')
    expect(
      renderSummary({
        previousVersion: 'v1.0.0',
        rollbackWorkflow: 'a/b/.github/workflows/x;rm.yml@main',
      }),
    ).not.toContain('gh workflow run')
  })

  it('names the rollback action without a command when the workflow is not given', () => {
    expect(renderSummary({ previousVersion: 'v1.0.0' })).toContain(
      'from the Actions tab with `version` = <code>v1.0.0</code>',
    )
  })

  it('cuts remote output and stays under the 1 MiB limit', () => {
    const many: InstanceResult[] = Array.from({ length: 400 }, (_, i) => ({
      'instance-id': `i-${String(i).padStart(17, '0')}`,
      status: 'failed',
      reason: 'x'.repeat(200),
      output: `${'line of output\n'.repeat(3000)}DEPLOY_RESULT {}`,
    }))
    const markdown = renderSummary({ status: 'failed', deployResults: many })
    expect(Buffer.byteLength(markdown)).toBeLessThan(SUMMARY_LIMIT_BYTES)
    expect(markdown).toContain(`i-${'0'.repeat(17)}`)
    expect(markdown).toMatch(
      /Cut to the last \d+ of 45016 characters|left out to stay under the 1 MiB/,
    )
  })

  it('cuts one long output to its end, where the result is', () => {
    const markdown = renderSummary({
      status: 'failed',
      deployResults: [
        { 'instance-id': 'i-1', status: 'failed', output: `${'x'.repeat(20_000)}THE END` },
      ],
    })
    expect(markdown).toContain('THE END</pre>')
    expect(markdown).toContain('Cut to the last 8000 of 20007 characters.')
  })
})

describe('escapeMarkdown', () => {
  it('neutralises markup, links, code, tables and line breaks', () => {
    expect(escapeMarkdown('[a](b) `c` *d* _e_ |f| \\g ~h~ #i !j\nk')).toBe(
      '&#91;a&#93;(b) &#96;c&#96; &#42;d&#42; &#95;e&#95; &#124;f&#124; &#92;g &#126;h&#126; &#35;i &#33;j k',
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
