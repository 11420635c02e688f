import { describe, expect, it } from '@jest/globals'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import { roleForEnvironment } from '../../packages/github/src/index.js'
import { parseRules, ruleEnvironments } from '../../packages/refs/src/index.js'
import { repoRoot } from '../support/bundled-action.js'
import { lintWorkflow } from '../support/workflow-lint.js'

// What every example (and the README's quick start) keeps, whatever it deploys: the workflow
// rules, an environment's own hosts and role, a dedicated run-as user, and the rollback inputs.
// Each example is deployed for real, its commands as they are, by __tests__/examples/.
const EXAMPLES = readdirSync(join(repoRoot, 'examples')).filter(name => name.endsWith('.yml'))

interface CallerWorkflow {
  on: { workflow_dispatch?: { inputs?: Record<string, unknown> } }
  jobs: { deploy: { uses: string; with: Record<string, unknown> } }
}

/** The caller workflow of the README's quick start. */
function quickStart(): string {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8')
  const section = readme.slice(readme.indexOf('## Quick start: the reusable workflow'))
  return /```yaml\n([\s\S]*?)```/.exec(section)?.[1] ?? ''
}

describe.each([
  ...EXAMPLES.map(file => [
    `examples/${file}`,
    readFileSync(join(repoRoot, 'examples', file), 'utf8'),
  ]),
  ["the README's quick start", quickStart()],
])('%s keeps the walls', (name, text) => {
  const { on, jobs } = parse(text) as CallerWorkflow
  const given = jobs.deploy.with

  it('passes the workflow rules', () => {
    expect(lintWorkflow(name, text)).toEqual([])
  })

  it('selects hosts by DeployApp and DeployEnvironment', () => {
    const lines = String(given['instance-tags'])
      .split('\n')
      .map(line => line.trim())
    expect(lines).toEqual(
      expect.arrayContaining(['DeployApp={app}', 'DeployEnvironment={environment}']),
    )
  })

  it('gives each environment its own role', () => {
    const role = String(given['role-to-assume'])
    expect(role.includes('{environment}') || role.includes('=>')).toBe(true)
    for (const environment of ruleEnvironments(parseRules(String(given.rules)))) {
      expect(roleForEnvironment(role, environment)).toMatch(new RegExp(`${environment}$`))
    }
  })

  it('runs hooks as a dedicated user, not root', () => {
    expect(given['run-as']).toMatch(/^[a-z][a-z0-9_-]*$/)
    expect(given['run-as']).not.toBe('root')
  })

  it('passes the workflow_dispatch inputs environment and version through', () => {
    expect(Object.keys(on.workflow_dispatch?.inputs ?? {}).sort()).toEqual([
      'environment',
      'version',
    ])
    expect(given.environment).toBe('${{ inputs.environment }}')
    expect(given.version).toBe('${{ inputs.version }}')
  })
})

describe("the README's quick start", () => {
  it('shows the host commands that __tests__/examples/node-pm2.test.ts runs (node-pm2.yml)', () => {
    const hostInputs = (text: string) => {
      const given = (parse(text) as CallerWorkflow).jobs.deploy.with
      return Object.fromEntries(
        [
          'shared-paths',
          'before-switch',
          'stop-command',
          'restart-command',
          'health-command',
          'health-url',
          'health-retries',
          'health-interval',
        ].map(name => [name, given[name]]),
      )
    }
    const nodePm2 = readFileSync(join(repoRoot, 'examples', 'node-pm2.yml'), 'utf8')
    expect(hostInputs(quickStart())).toEqual(hostInputs(nodePm2))
  })
})
