import { describe, expect, it } from '@jest/globals'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import {
  PIPELINE_STEPS,
  WORKFLOW_DEFAULTS,
  workflowStepKeys,
} from '../../packages/sandbox/src/pipeline.js'
import { repoRoot } from '../support/run-action.js'

// The demo and the examples' tests run deploy.yml through PIPELINE_STEPS: keep them the same.
const workflowFile = join(repoRoot, '.github/workflows/deploy.yml')
const fromWorkflow = workflowStepKeys(workflowFile, parse)
const empty = { inputs: { ...WORKFLOW_DEFAULTS }, steps: {}, github: { workflowRef: '' } }

describe('the local pipeline and deploy.yml', () => {
  it('run the same actions in the same order', () => {
    expect(PIPELINE_STEPS.map(s => s.action)).toEqual(fromWorkflow.map(s => s.action))
    expect(PIPELINE_STEPS.map(s => s.action)).toEqual([
      'resolve-environment',
      'version-tag',
      'package-zip',
      's3-upload',
      'find-instance',
      'ssm-deploy',
      'verify-health',
      'record-release',
      'summary',
    ])
  })

  it('give each step the same inputs', () => {
    PIPELINE_STEPS.forEach((step, index) => {
      const expected = fromWorkflow[index]
      expect({ action: step.action, keys: Object.keys(step.with(empty)).sort() }).toEqual({
        action: expected?.action,
        keys: expected?.keys,
      })
      if (expected?.id) expect(step.id).toBe(expected.id)
    })
  })

  it('default every workflow input the same way', () => {
    const workflow = parse(readFileSync(workflowFile, 'utf8')) as {
      on: { workflow_call: { inputs: Record<string, { default?: unknown; required?: boolean }> } }
    }
    for (const [name, spec] of Object.entries(workflow.on.workflow_call.inputs)) {
      if (spec.required || name === 'runs-on') continue
      expect({ name, value: WORKFLOW_DEFAULTS[name] }).toEqual({
        name,
        value: String(spec.default),
      })
    }
  })
})
