// The walls ESLint keeps (eslint.config.js), tried on files that break them: what ships
// (actions/, packages/) never imports the dev-only stand-ins in dev/, reaches another package
// only through its index, and packages/ never import actions/; the domain packages never
// import @actions/*; the two stand-ins import nothing of each other, and everything else
// reaches a stand-in only through its index.
import { describe, expect, it } from '@jest/globals'
import { ESLint } from 'eslint'
import { repoRoot } from '../support/bundled-action.js'

const eslint = new ESLint({ cwd: repoRoot })

/** The no-restricted-imports messages ESLint gives `source` as if it were the file at `path`. */
async function restrictedImports(path: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(source, { filePath: `${repoRoot}/${path}` })
  return (result?.messages ?? [])
    .filter(message => message.ruleId === 'no-restricted-imports' || message.fatal)
    .map(message => message.message)
}

const importing = (specifier: string) =>
  `import * as imported from '${specifier}'\nexport const probe = imported\n`

/** A test that `path` importing `specifier` is refused with exactly one message, holding `why`. */
const refused = (why: string) => async (path: string, specifier: string) => {
  expect(await restrictedImports(path, importing(specifier))).toEqual([
    expect.stringContaining(why),
  ])
}

describe('what ships (actions/, packages/)', () => {
  it.each([
    ['packages/fleet/src/probe.ts', '../../../dev/aws-sandbox/src/index.js'],
    ['packages/kit/src/probe.ts', '../../../dev/github-runner/src/index.js'],
    ['packages/github/src/probe.ts', '../../../dev/github-runner/src/oidc.js'],
    ['actions/ssm-deploy/probe.ts', '../../dev/aws-sandbox/src/index.js'],
  ])('%s may not import %s', refused('never import the dev-only stand-ins in dev/'))

  it('keeps @actions/* out of the domain packages, and allows it at the edge', async () => {
    expect(
      await restrictedImports('packages/fleet/src/probe.ts', importing('@actions/core')),
    ).toEqual([expect.stringContaining('only actions/ and packages/github import @actions/*')])
    expect(
      await restrictedImports('packages/github/src/probe.ts', importing('@actions/core')),
    ).toEqual([])
    expect(
      await restrictedImports('actions/ssm-deploy/probe.ts', importing('@actions/core')),
    ).toEqual([])
  })

  it('may import other packages through their index, and their own files', async () => {
    for (const [path, specifier] of [
      ['packages/fleet/src/probe.ts', '../../aws/src/index.js'],
      ['packages/github/src/probe.ts', '../../kit/src/index.js'],
      ['packages/fleet/src/probe.ts', './command.js'],
      ['actions/ssm-deploy/probe.ts', '../../packages/fleet/src/index.js'],
      ['actions/version-tag/probe.ts', './github-tags.js'],
    ] as const) {
      expect({
        path,
        specifier,
        messages: await restrictedImports(path, importing(specifier)),
      }).toEqual({ path, specifier, messages: [] })
    }
  })

  const behindIndex = 'import another package through its index, packages/<name>/src/index.js'
  it.each([
    ['packages/health/src/probe.ts', '../../fleet/src/command.js'],
    ['packages/kit/src/probe.ts', '../../github/src/aws.js'],
    ['packages/github/src/probe.ts', '../../kit/src/errors.js'],
    ['packages/report/src/probe.ts', '../../remote/engine.sh'],
    ['actions/ssm-deploy/probe.ts', '../../packages/fleet/src/deploy.js'],
    ['actions/summary/probe.ts', '../../packages/report/src/summary.ts'],
  ])('%s may not import %s (behind the index)', refused(behindIndex))

  it('catches a deep import in every import and export form', async () => {
    const deep = '../../aws/src/errors.js'
    for (const source of [
      `import type { S3Operation } from '${deep}'\nexport type Probe = S3Operation\n`,
      `export { awsErrorCode } from '${deep}'\n`,
      `export * from '${deep}'\n`,
    ]) {
      expect(await restrictedImports('packages/fleet/src/probe.ts', source)).toEqual([
        expect.stringContaining(behindIndex),
      ])
    }
  })

  it.each([
    ['packages/fleet/src/probe.ts', '../../../actions/ssm-deploy/main.js'],
    ['packages/github/src/probe.ts', '../../../actions/version-tag/github-tags.js'],
  ])('%s may not import %s (up to actions/)', refused('packages/ never import actions/'))
})

describe('the tests, scripts and benchmarks', () => {
  it('use a stand-in through its index', async () => {
    for (const path of [
      '__tests__/e2e/probe.test.ts',
      'scripts/probe.ts',
      'bench/fleet/probe.ts',
    ]) {
      const up = path.split('/').length - 1
      const dev = `${'../'.repeat(up)}dev`
      expect(await restrictedImports(path, importing(`${dev}/aws-sandbox/src/index.js`))).toEqual(
        [],
      )
      expect(await restrictedImports(path, importing(`${dev}/github-runner/src/index.js`))).toEqual(
        [],
      )
      expect(await restrictedImports(path, importing(`${dev}/aws-sandbox/src/ssm.js`))).toEqual([
        expect.stringContaining('import a stand-in through its index'),
      ])
    }
  })

  it('leave a stand-in free to import its own files, and @actions/*', async () => {
    expect(
      await restrictedImports('dev/github-runner/src/probe.ts', importing('./workflow.js')),
    ).toEqual([])
    expect(
      await restrictedImports('dev/github-runner/src/probe.ts', importing('@actions/expressions')),
    ).toEqual([])
  })
})

describe('the two stand-ins', () => {
  it.each([
    ['dev/aws-sandbox/src/probe.ts', '../../github-runner/src/index.js'],
    ['dev/github-runner/src/probe.ts', '../../aws-sandbox/src/index.js'],
  ])('%s may not import %s', refused('import nothing of each other'))
})
