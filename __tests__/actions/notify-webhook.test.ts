// Which notify-webhook values the summary posts to, and what it masks; the posts themselves run
// against a local receiver in __tests__/e2e/summary-notify.test.ts.
import { describe, expect, it } from '@jest/globals'
import { ConfigurationError } from '../../packages/kit/src/index.js'
import { readNotifyWebhook, webhookSecrets } from '../../actions/summary/notify.js'
import { getInputs } from '../../actions/summary/inputs.js'

describe('notify-webhook', () => {
  it.each([
    'https://hooks.slack.com/services/T0/B0/x',
    'https://prod-01.westus.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?sig=x',
    'http://127.0.0.1:8080/hook',
    'http://127.9.9.9/hook',
    'http://localhost:9/hook',
    'http://[::1]:9/hook',
  ])('accepts %s', url => {
    expect(readNotifyWebhook(url).url).toBe(new URL(url).href)
  })

  it.each([
    'http://hooks.slack.com/services/T0/B0/zq9secret',
    'http://127.0.0.1.evil.example/zq9secret',
    'http://10.0.0.1/zq9secret',
    'file:///etc/passwd',
    'javascript:alert(1)',
    'https://u:p@hooks.example.com/x',
    'https://hooks.example.com/a b',
    'not a url',
  ])('refuses %s without showing it', url => {
    const refuse = () => readNotifyWebhook(url)
    expect(refuse).toThrow(ConfigurationError)
    expect(refuse).toThrow(/^input 'notify-webhook' is not valid: /)
    let message = ''
    try {
      refuse()
    } catch (error) {
      message = (error as Error).message
    }
    // The scheme may be named (it is no secret); no other part of the value may.
    const parts = url.split(/[/:@?\s]+/).slice(1)
    for (const part of [url, ...parts.filter(p => p.length > 3)]) {
      expect(message).not.toContain(part)
    }
  })

  it('masks the value as given and as parsed, and its path and query, but never a bare path', () => {
    expect(webhookSecrets('https://Hooks.Example.com/services/T0/B0/secret?x=1')).toEqual([
      'https://Hooks.Example.com/services/T0/B0/secret?x=1',
      'https://hooks.example.com/services/T0/B0/secret?x=1',
      '/services/T0/B0/secret?x=1',
    ])
    expect(webhookSecrets('https://hooks.example.com')).toEqual([
      'https://hooks.example.com',
      'https://hooks.example.com/',
    ])
    expect(webhookSecrets('not a url')).toEqual(['not a url'])
    expect(webhookSecrets(undefined)).toEqual([])
  })

  it('getInputs keeps a bad value as an error for after the summary, and masks it all the same', () => {
    const source = (values: Record<string, string>) => (name: string) => values[name] ?? ''
    const bad = getInputs(source({ 'notify-webhook': 'http://hooks.example.com/s' }), {})
    expect(bad.notify).toBeUndefined()
    expect(bad.notifyError).toBeInstanceOf(ConfigurationError)
    expect(bad.webhookSecrets).toContain('http://hooks.example.com/s')
    const good = getInputs(
      source({ 'notify-webhook': 'https://hooks.example.com/s', 'app-name': 'web' }),
      {},
    )
    expect(good.notify).toEqual({
      webhook: { url: 'https://hooks.example.com/s' },
      appName: 'web',
    })
    expect(getInputs(source({}), {})).toMatchObject({ webhookSecrets: [] })
  })
})
