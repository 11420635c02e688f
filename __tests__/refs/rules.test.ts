import { describe, expect, it } from '@jest/globals'
import { ConfigurationError, memoryLogger } from '../../packages/kit/src/index.js'
import { parseRef, parseRules, resolveEnvironment } from '../../packages/refs/src/index.js'

/** The seed systems' mappings, as the README shows them. */
const SEED_RULES = `
# S000: master deploys the develop box
master => develop
develop => develop
qa => qa
staging => staging
main2 => main2
feature/* => dev      # every feature branch
release/* => staging
main => prod
tag:v*.*.* => prod
`

const resolve = (ref: string, extra: Partial<Parameters<typeof resolveEnvironment>[0]> = {}) =>
  resolveEnvironment({
    rules: SEED_RULES,
    ref,
    production: ['prod', 'production'],
    onNoMatch: 'skip',
    ...extra,
  })

describe('parseRef', () => {
  it('splits branches and tags and keeps everything else as other', () => {
    expect(parseRef('refs/heads/release/1.2')).toEqual({
      type: 'branch',
      name: 'release/1.2',
      ref: 'refs/heads/release/1.2',
    })
    expect(parseRef('refs/tags/v1.2.0')).toMatchObject({ type: 'tag', name: 'v1.2.0' })
    expect(parseRef('refs/pull/1/merge')).toMatchObject({
      type: 'other',
      name: 'refs/pull/1/merge',
    })
    expect(parseRef('refs/heads/')).toMatchObject({ type: 'other' })
    expect(parseRef('')).toMatchObject({ type: 'other' })
  })
})

describe('resolveEnvironment with the seeds mappings', () => {
  it.each([
    ['refs/heads/master', 'develop', false, 'master => develop'],
    ['refs/heads/develop', 'develop', false, 'develop => develop'],
    ['refs/heads/qa', 'qa', false, 'qa => qa'],
    ['refs/heads/staging', 'staging', false, 'staging => staging'],
    ['refs/heads/main2', 'main2', false, 'main2 => main2'],
    ['refs/heads/feature/login', 'dev', false, 'feature/* => dev'],
    ['refs/heads/release/2026.11', 'staging', false, 'release/* => staging'],
    ['refs/heads/main', 'prod', true, 'main => prod'],
    ['refs/tags/v1.2.0', 'prod', true, 'tag:v*.*.* => prod'],
  ])('%s → %s', (ref, environment, isProduction, matchedRule) => {
    expect(resolve(ref)).toMatchObject({ environment, deploy: true, isProduction, matchedRule })
  })

  it('does not let * cross a slash', () => {
    expect(resolve('refs/heads/feature/a/b')).toMatchObject({ deploy: false, environment: '' })
  })

  it('keeps branch rules away from tags and tag rules away from branches', () => {
    expect(resolve('refs/tags/master')).toMatchObject({ deploy: false })
    expect(resolve('refs/heads/v1.2.3')).toMatchObject({ deploy: false })
    expect(resolve('refs/tags/v1.2')).toMatchObject({
      deploy: false,
      refType: 'tag',
      refName: 'v1.2',
    })
  })

  it('lets the first matching rule win', () => {
    const rules = 'release/hotfix => hotfix\nrelease/* => staging\nrelease/hotfix => never'
    expect(resolve('refs/heads/release/hotfix', { rules }).environment).toBe('hotfix')
  })

  it("reads the 'branch:' and 'tag:' prefixes", () => {
    expect(parseRules('branch:main => prod\ntag: v* => prod')).toMatchObject([
      { refType: 'branch', glob: 'main' },
      { refType: 'tag', glob: 'v*' },
    ])
  })

  it('supports ** across slashes', () => {
    expect(resolve('refs/heads/team/a/b', { rules: 'team/** => dev' }).environment).toBe('dev')
  })

  it('reports pull request refs as no match, not a crash', () => {
    const logger = memoryLogger()
    const result = resolveEnvironment(
      { rules: SEED_RULES, ref: 'refs/pull/1/merge', production: ['prod'], onNoMatch: 'skip' },
      logger,
    )
    expect(result).toMatchObject({
      environment: '',
      refName: 'refs/pull/1/merge',
      refType: 'other',
      deploy: false,
      isProduction: false,
      matchedRule: '',
    })
    expect(logger.lines.join('\n')).toContain('neither a branch')
  })

  it('fails on no match with on-no-match: fail, naming the ref', () => {
    expect(() => resolve('refs/heads/wip', { onNoMatch: 'fail' })).toThrow(
      /no rule matches branch "wip"/,
    )
    expect(() => resolve('refs/pull/7/merge', { onNoMatch: 'fail' })).toThrow(
      /"refs\/pull\/7\/merge"/,
    )
  })

  it('follows the production list, case-insensitively', () => {
    expect(resolve('refs/heads/qa', { production: ['QA'] }).isProduction).toBe(true)
    expect(resolve('refs/heads/main', { production: ['production'] }).isProduction).toBe(false)
  })

  it('accepts an environment override only when the rules name it', () => {
    expect(
      resolve('refs/heads/anything', { environment: 'staging', version: 'v1.0.0' }),
    ).toMatchObject({
      environment: 'staging',
      deploy: true,
      matchedRule: 'environment input',
    })
    expect(resolve('refs/heads/master', { environment: 'PROD', version: 'v1.0.0' })).toMatchObject({
      environment: 'prod',
      isProduction: true,
    })
    expect(() => resolve('refs/heads/master', { environment: 'prdo', version: 'v1' })).toThrow(
      `input 'environment': "prdo" is not an environment the rules name: use one of 'develop', 'qa', 'staging', 'main2', 'dev', 'prod'`,
    )
  })

  it('refuses an explicit environment that neither a version nor a rule allows', () => {
    // workflow_dispatch --ref feature/x -f environment=prod: building the branch for prod.
    const attempt = () => resolve('refs/heads/feature/x', { environment: 'prod' })
    expect(attempt).toThrow(ConfigurationError)
    expect(attempt).toThrow(
      `input 'environment': "prod" is not allowed for branch "feature/x": no rule for 'prod' matches it`,
    )
    expect(attempt).toThrow(`the rules are: master => develop; develop => develop; qa => qa;`)
    expect(() => resolve('refs/pull/3/merge', { environment: 'dev' })).toThrow(
      /"dev" is not allowed for ref "refs\/pull\/3\/merge", which is neither a branch/,
    )
  })

  it('honours an explicit environment that a rule for it allows, even a later rule', () => {
    expect(resolve('refs/heads/feature/x', { environment: 'dev' })).toMatchObject({
      environment: 'dev',
      deploy: true,
      matchedRule: 'environment input',
    })
    expect(resolve('refs/tags/v2.0.0', { environment: 'Prod' })).toMatchObject({
      environment: 'prod',
      isProduction: true,
    })
    const rules = 'release/* => staging\nrelease/hotfix-* => prod'
    expect(resolve('refs/heads/release/hotfix-1', { rules, environment: 'prod' }).environment).toBe(
      'prod',
    )
    expect(() => resolve('refs/heads/release/2', { rules, environment: 'prod' })).toThrow(
      /not allowed for branch "release\/2"/,
    )
  })

  it('lets a status run pick any environment the rules name, as a rollback may', () => {
    expect(resolve('refs/heads/master', { environment: 'prod', status: true })).toMatchObject({
      environment: 'prod',
      deploy: true,
      isProduction: true,
      matchedRule: 'environment input',
    })
    expect(() => resolve('refs/heads/master', { environment: 'prod', status: false })).toThrow(
      "without input 'version' (a rollback or redeploy) or 'status' may only pick",
    )
    expect(() => resolve('refs/heads/master', { environment: 'prdo', status: true })).toThrow(
      `"prdo" is not an environment the rules name`,
    )
  })

  it('checks the version that lets an environment be chosen', () => {
    expect(() =>
      resolve('refs/heads/master', { environment: 'prod', version: 'v1;reboot' }),
    ).toThrow(`input 'version' "v1;reboot" is not allowed`)
  })

  it('explains a skip in a message and a summary line that name the ref and the rules', () => {
    const result = resolve('refs/heads/mastr', { rules: 'master => develop\ntag:v* => prod' })
    expect(result).toMatchObject({ deploy: false, environment: '' })
    expect(result.noMatch?.message).toBe(
      'ref "mastr" matched no rule; nothing deployed. The rules: master => develop; tag:v* => prod',
    )
    expect(result.noMatch?.markdown).toBe(
      'ref &quot;mastr&quot; matched no rule; nothing deployed. The rules: master =&gt; develop; tag:v&#42; =&gt; prod',
    )
    const hostile = resolve('refs/heads/x[a](https://evil)<b>`@team', { rules: 'main => prod' })
    expect(hostile.noMatch?.markdown).not.toMatch(/[<>[\]`]/)
    expect(resolve('refs/heads/master').noMatch).toBeUndefined()
  })
})

describe('parseRules errors name the line', () => {
  it.each([
    [
      'master => develop\nmaster develop',
      /line 2: "master develop": write 'PATTERN => ENVIRONMENT'/,
    ],
    ['\n\n => prod', /line 3/],
    ['main =>', /line 1/],
    ['a => b => c', /line 1/],
    ['tag: => prod', /line 1/],
    ['main => pr od', /line 1: environment "pr od" is not allowed/],
    ['main => $(reboot)', /line 1: environment "\$\(reboot\)" is not allowed/],
    ['feature /x => dev', /line 1: pattern "feature \/x" contains white space/],
    ['# only comments\n\n', /has no rules/],
    [
      'tags:v*.*.* => prod',
      `input 'rules' line 1: pattern "tags:v*.*.*" has an unknown prefix "tags:": use 'tag:GLOB' for tags`,
    ],
    ['master => develop\nTag:v* => prod', /line 2: pattern "Tag:v\*" has an unknown prefix "Tag:"/],
    ['refs:heads => dev', /unknown prefix "refs:"/],
    ['feature/x:y => dev', `line 1: pattern "feature/x:y" contains ':': git allows no ':'`],
    ['branch:main:x => dev', /pattern "branch:main:x" contains ':'/],
    ['tag:v1:2 => prod', /pattern "tag:v1:2" contains ':'/],
    ['*:* => dev', /pattern "\*:\*" contains ':'/],
  ])('%j', (rules, message: string | RegExp) => {
    expect(() => parseRules(rules)).toThrow(ConfigurationError)
    expect(() => parseRules(rules)).toThrow(message)
  })
})
