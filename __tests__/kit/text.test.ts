import { describe, expect, it } from '@jest/globals'
import {
  ConfigurationError,
  ENVIRONMENT_RULE,
  VERSION_RULE,
  assertSafeName,
  describeValue,
  errorMessage,
  escapeHtml,
  renderTemplate,
} from '../../packages/kit/src/index.js'

describe('renderTemplate', () => {
  it('fills placeholders', () => {
    expect(renderTemplate('name', '{app}-{version}.zip', { app: 'web', version: 'v1.0.0' })).toBe(
      'web-v1.0.0.zip',
    )
  })
  it('rejects unknown placeholders, naming the input and the known ones', () => {
    expect(() => renderTemplate('name', '{app}-{verison}.zip', { app: 'a', version: 'v' })).toThrow(
      'input \'name\': "{app}-{verison}.zip" uses the unknown placeholder {verison}: use {app}, {version}',
    )
  })
  it('rejects placeholders without a value', () => {
    expect(() =>
      renderTemplate('key', '{app}/{environment}.zip', { app: 'a', environment: '' }),
    ).toThrow(/\{environment\}, which has no value here/)
  })
  it('rejects stray braces', () => {
    expect(() => renderTemplate('name', '{app}-{version.zip', { app: 'a', version: 'v' })).toThrow(
      /unmatched '\{' or '\}'/,
    )
    expect(() => renderTemplate('name', 'app}', { app: 'a' })).toThrow(ConfigurationError)
  })
  it('does not re-expand placeholders found in values', () => {
    expect(renderTemplate('name', '{a}', { a: '{b}', b: 'x' })).toBe('{b}')
  })
})

describe('escapeHtml', () => {
  it('makes markup show as text', () => {
    expect(escapeHtml(`<img src=x onerror=alert(1)> & "q" 'a'`)).toBe(
      '&lt;img src=x onerror=alert(1)&gt; &amp; &quot;q&quot; &#39;a&#39;',
    )
  })
})

describe('assertSafeName', () => {
  it('passes allowed values through', () => {
    expect(assertSafeName("input 'version'", 'v1.2.3-rc.1+b5', VERSION_RULE)).toBe('v1.2.3-rc.1+b5')
    expect(assertSafeName('environment', 'prod', ENVIRONMENT_RULE)).toBe('prod')
  })
  it('names the value and the rule', () => {
    expect(() => assertSafeName("input 'version'", 'v1.0;rm -rf /', VERSION_RULE)).toThrow(
      `input 'version' "v1.0;rm -rf /" is not allowed: start with a letter or digit, then use letters, digits, '.', '_', '-' and '+'`,
    )
  })
  it('rejects empty and overlong values', () => {
    expect(() => assertSafeName('env', '', ENVIRONMENT_RULE)).toThrow('env is empty')
    expect(() => assertSafeName('env', 'a'.repeat(65), ENVIRONMENT_RULE)).toThrow(
      /too long \(65 characters, at most 64\)/,
    )
  })
})

describe('describeValue and errorMessage', () => {
  it('quotes, escapes and shortens', () => {
    expect(describeValue('a"b\n\u0000')).toBe('"a\\"b\\n\\u0000"')
    expect(describeValue('x'.repeat(500))).toBe(`"${'x'.repeat(120)}…"`)
    expect(describeValue('\u2028')).toBe('"\\u2028"')
  })
  it('gets a message out of anything thrown', () => {
    expect(errorMessage(new Error('boom'))).toBe('boom')
    expect(errorMessage('plain')).toBe('plain')
    expect(errorMessage({ code: 7 })).toBe('{"code":7}')
    expect(errorMessage(undefined)).toBe('undefined')
  })
})
