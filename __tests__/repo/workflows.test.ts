import { describe, expect, it } from '@jest/globals'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { lintWorkflow } from '../support/workflow-lint.js'
import { repoRoot } from '../support/bundled-action.js'

const workflowFiles = ['.github/workflows', 'examples']
  .map(dir => join(repoRoot, dir))
  .filter(dir => existsSync(dir))
  .flatMap(dir =>
    readdirSync(dir, { recursive: true, encoding: 'utf8' })
      // The example apps' own YAML (a compose file) is not a workflow.
      .filter(
        name => /\.ya?ml$/.test(name) && !name.includes('hello-app') && !name.startsWith('apps/'),
      )
      .map(name => join(dir, name)),
  )

describe('the repository workflows', () => {
  it('include ci.yml and check-dist.yml', () => {
    expect(workflowFiles.map(f => f.slice(repoRoot.length + 1))).toEqual(
      expect.arrayContaining(['.github/workflows/ci.yml', '.github/workflows/check-dist.yml']),
    )
  })
  it.each(workflowFiles.map(f => [f.slice(repoRoot.length + 1), f]))(
    '%s passes the workflow rules',
    (_name, file) => {
      expect(lintWorkflow(file, readFileSync(file, 'utf8'))).toEqual([])
    },
  )
})

describe('the workflow rules catch', () => {
  const wrap = (steps: string, top = 'permissions: {}\n') =>
    `name: t\non: push\n${top}jobs:\n  j:\n    runs-on: ubuntu-latest\n    steps:\n${steps}`
  it.each([
    [
      'syntax errors',
      wrap('      - uses: ./actions/version-tag\n        bogus-key: 1\n'),
      /syntax/,
    ],
    [
      'a missing top-level permissions',
      wrap('      - run: echo ok\n', ''),
      /no top-level permissions/,
    ],
    [
      'an unpinned action',
      wrap('      - uses: actions/checkout@v5\n'),
      /not pinned to a full commit sha/,
    ],
    [
      'a pin without a version comment',
      wrap('      - uses: actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8\n'),
      /has no '# vX.Y.Z' comment/,
    ],
    [
      'an unknown input',
      wrap('      - uses: ./actions/version-tag\n        with:\n          fromat: x\n'),
      /has no input 'fromat'/,
    ],
    [
      "an unknown input of this suite's action called from a caller at a release tag",
      wrap(
        '      - uses: OWNER/ec2-deploy-actions/actions/version-tag@v1\n        with:\n          fromat: x\n',
      ),
      /OWNER\/ec2-deploy-actions\/actions\/version-tag@v1 has no input 'fromat'/,
    ],
    [
      'a missing required input',
      wrap('      - uses: $/actions/resolve-environment\n'),
      /needs input 'rules'/,
    ],
    [
      'an action that does not exist',
      wrap('      - uses: ./actions/nope\n'),
      /is not an action of this repository/,
    ],
    [
      'an expression inside run',
      wrap('      - run: echo "${{ github.head_ref }}"\n'),
      /run: contains a \$\{\{ \}\} expression/,
    ],
  ])('%s', (_what, content, problem) => {
    expect(lintWorkflow('t.yml', content).join('\n')).toMatch(problem)
  })
  it("accepts this suite's actions from a caller at a release tag, like the reusable workflow", () => {
    expect(
      lintWorkflow(
        't.yml',
        wrap('      - uses: OWNER/ec2-deploy-actions/actions/version-tag@v1\n'),
      ),
    ).toEqual([])
  })
  it('inputs of the reusable workflow that it does not declare, or required ones left out', () => {
    const call = (withBlock: string) =>
      `name: t\non: push\npermissions: {}\njobs:\n  d:\n    uses: OWNER/ec2-deploy-actions/.github/workflows/deploy.yml@v1\n    with:\n${withBlock}`
    expect(lintWorkflow('t.yml', call('      app-name: a\n')).join('\n')).toMatch(
      /deploy.yml needs input 'rules'/,
    )
    expect(lintWorkflow('t.yml', call('      app-nme: a\n')).join('\n')).toMatch(
      /deploy.yml has no input 'app-nme'/,
    )
  })
  describe('always() in the if: of a job that deploys', () => {
    const job = (condition: string, steps: string) =>
      `name: t\non: push\npermissions: {}\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n` +
      `    if: ${condition}\n    steps:\n${steps}`
    const ssmDeploy = (uses: string) =>
      `      - uses: ${uses}\n        with:\n          instance-ids: '[]'\n          version: v1\n`
    const problem =
      /job deploy: its if: uses always\(\), so it keeps deploying after the run is cancelled: use !cancelled\(\)/
    it.each([
      ['$/actions/ssm-deploy', 'always()'],
      ['./actions/ssm-deploy', ">-\n      always() && needs.build.result == 'success'"],
      ['$/actions/ssm-deploy', '${{ always() }}'],
    ])('%s with if: %s', (uses, condition) => {
      expect(lintWorkflow('t.yml', job(condition, ssmDeploy(uses))).join('\n')).toMatch(problem)
    })
    it('in a caller of the reusable workflow', () => {
      const caller =
        'name: t\non: push\npermissions: {}\njobs:\n  deploy:\n    if: always()\n' +
        '    uses: OWNER/ec2-deploy-actions/.github/workflows/deploy.yml@v1\n    with:\n' +
        '      app-name: a\n'
      expect(lintWorkflow('t.yml', caller).join('\n')).toMatch(problem)
    })
    it('but not !cancelled(), nor always() in a job that does not deploy', () => {
      const clean = (text: string) => lintWorkflow('t.yml', text).filter(p => /always/.test(p))
      expect(
        clean(
          job(
            "${{ !cancelled() && needs.a.result == 'success' }}",
            ssmDeploy('$/actions/ssm-deploy'),
          ),
        ),
      ).toEqual([])
      expect(clean(job('always()', '      - uses: $/actions/summary\n'))).toEqual([])
    })
  })

  it('accepts the self-repository syntax', () => {
    expect(
      lintWorkflow(
        't.yml',
        wrap('      - uses: $/actions/version-tag\n        with:\n          format: "{base}"\n'),
      ),
    ).toEqual([])
  })
})
