import { describe, expect, it } from '@jest/globals'
import fc from 'fast-check'
import {
  DEFAULT_KEY_TEMPLATE,
  renderObjectKey,
  validateBucketName,
  validateObjectKey,
  validateStorageClass,
  versionPrefix,
} from '../../packages/release-store/src/index.js'
import { HOSTILE_CORPUS } from '../support/hostile.js'

describe('validateBucketName', () => {
  it('accepts names S3 accepts', () => {
    for (const name of [
      'abc',
      'my-artifacts',
      'releases.example.com',
      'a1-b2.c3',
      'x'.repeat(63),
    ]) {
      expect(validateBucketName('bucket', name)).toBe(name)
    }
  })

  it.each([
    ['ab', 'is 3 to 63 characters long'],
    ['x'.repeat(64), 'is 3 to 63 characters long'],
    ['My-Bucket', "uses only lowercase letters, digits, '.' and '-'"],
    ['my_bucket', "uses only lowercase letters, digits, '.' and '-'"],
    ['bucket;rm -rf', "uses only lowercase letters, digits, '.' and '-'"],
    ['-bucket', 'starts and ends with a lowercase letter or a digit'],
    ['bucket.', 'starts and ends with a lowercase letter or a digit'],
    ['my..bucket', "has no two adjacent '.'"],
    ['192.168.5.4', 'is not an IP address'],
    ['xn--bucket', "does not start with 'xn--'"],
    ['sthree-bucket', "does not start with 'xn--', 'sthree-'"],
    ['bucket-s3alias', "does not end with '-s3alias'"],
    ['bucket--ol-s3', "does not end with '-s3alias', '--ol-s3'"],
  ])('refuses %j: a bucket name %s', (name, rule) => {
    expect(() => validateBucketName('bucket', name)).toThrow(
      `input 'bucket': ${JSON.stringify(name)} is not valid: a bucket name ${rule}`,
    )
  })

  it('never lets a hostile string through', () => {
    for (const value of HOSTILE_CORPUS)
      expect(() => validateBucketName('bucket', value)).toThrow(/is not valid/)
  })
})

describe('validateObjectKey', () => {
  it('accepts ordinary keys', () => {
    for (const key of [
      'web/v1.0.0.zip',
      'a',
      'prod/web/v0.0.7-master-abc1234.zip',
      'dots...ok/x..y',
    ]) {
      expect(validateObjectKey('key', key)).toBe(key)
    }
  })

  it.each([
    ['', 'cannot be empty'],
    ['/web/v1.zip', "does not start with '/'"],
    ['web/../v1.zip', "has no '.' or '..' segments"],
    ['..', "has no '.' or '..' segments"],
    ['web/./v1.zip', "has no '.' or '..' segments"],
    ['web/v1\n.zip', 'has no control characters'],
    ['web/v1\u0000.zip', 'has no control characters'],
    ['web/\u007f', 'has no control characters'],
    ['k'.repeat(1025), 'is at most 1024 bytes'],
  ])('refuses %j: an object key %s', (key, rule) => {
    expect(() => validateObjectKey('key', key)).toThrow(`an object key ${rule}`)
    expect(() => validateObjectKey('key', key)).toThrow(/^input 'key': /)
  })

  it('escapes the value in the message', () => {
    expect(() => validateObjectKey('key', 'a\nb')).toThrow(`input 'key': "a\\nb" is not valid`)
  })

  it('accepts no key with a control character or a dot segment, whatever it is', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), key => {
        let valid: boolean
        try {
          validateObjectKey('key', key)
          valid = true
        } catch {
          valid = false
        }
        if (valid) {
          // eslint-disable-next-line no-control-regex
          expect(key).not.toMatch(/[\u0000-\u001f\u007f]/)
          expect(key.split('/')).not.toContain('..')
          expect(key.startsWith('/')).toBe(false)
          expect(key.length).toBeGreaterThan(0)
        }
      }),
    )
  })
})

describe('key templates', () => {
  const values = {
    app: 'web',
    version: 'v1.2.0',
    environment: 'prod',
    repository: 'octo-org/octo-repo',
    sha: 'abc',
  }

  it('renders every placeholder', () => {
    expect(
      renderObjectKey('key', '{repository}/{environment}/{app}-{version}-{sha}.zip', values),
    ).toBe('octo-org/octo-repo/prod/web-v1.2.0-abc.zip')
  })

  it('fails on unknown or empty placeholders', () => {
    expect(() => renderObjectKey('key', '{nope}.zip', values)).toThrow(
      /unknown placeholder \{nope\}/,
    )
    expect(() =>
      renderObjectKey('key', '{app}/{version}.zip', { ...values, version: undefined }),
    ).toThrow(
      /uses \{version\}, but input 'version' is empty: set it, or set a 'key' without \{version\}/,
    )
  })

  it('puts each environment under its own prefix by default, and names the input it needs', () => {
    expect(renderObjectKey('key', DEFAULT_KEY_TEMPLATE, values)).toBe('web/prod/v1.2.0.zip')
    expect(() =>
      renderObjectKey('key', DEFAULT_KEY_TEMPLATE, { ...values, environment: '' }),
    ).toThrow(
      `input 'key': "{app}/{environment}/{version}.zip" uses {environment}, but input ` +
        "'environment' (resolve-environment's 'environment' output) is empty",
    )
  })

  it('finds the prefix the versions live under', () => {
    expect(versionPrefix('key', '{app}/{version}.zip', values)).toBe('web/')
    expect(versionPrefix('key', '{environment}/{app}-{version}.zip', values)).toBe('prod/web-')
    expect(versionPrefix('key', '{version}.zip', values)).toBe('')
    expect(versionPrefix('key', 'fixed/{app}.zip', values)).toBe('fixed/')
  })
})

describe('validateStorageClass', () => {
  it('accepts downloadable classes and explains why archive classes are refused', () => {
    expect(validateStorageClass('storage-class', 'STANDARD_IA')).toBe('STANDARD_IA')
    expect(() => validateStorageClass('storage-class', 'DEEP_ARCHIVE')).toThrow(/need a restore/)
    expect(() => validateStorageClass('storage-class', 'standard')).toThrow(/use one of STANDARD,/)
  })
})
