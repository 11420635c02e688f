import { afterAll, describe, expect, it } from '@jest/globals'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  conditionExpression,
  evaluateCondition,
  evaluateString,
  evaluateValue,
  templatePieces,
  runPipeline,
  readWorkflow,
  jobStatus,
  runWorkflow,
  type Status,
} from '../../dev/github-runner/src/index.js'

const scratch = mkdtempSync(join(tmpdir(), 'workflow-test-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

/** A workflow_call workflow with these jobs (YAML, indented under `jobs:`). */
function workflowFile(jobs: string, name = 'w.yml'): string {
  const file = join(scratch, name)
  writeFileSync(
    file,
    `on:\n  workflow_call:\n    inputs:\n      flag: { type: boolean, default: false }\npermissions: {}\njobs:\n${jobs}`,
  )
  return file
}

const OK: Status = { success: true, failure: false, cancelled: false }
const FAILED: Status = { success: false, failure: true, cancelled: false }
const CANCELLED: Status = { success: false, failure: false, cancelled: true }

describe('templates', () => {
  it("split at ${{ }} as GitHub's reader does: a }} inside a '…' literal does not close", () => {
    expect(templatePieces("a-${{ 'x}}y' }}-${{ inputs.b }}")).toEqual([
      'a-',
      { expression: "'x}}y'" },
      '-',
      { expression: 'inputs.b' },
    ])
    expect(() => templatePieces('${{ inputs.a')).toThrow('is not closed')
  })

  it('one expression keeps its type; text with expressions is a string; null is empty', () => {
    const contexts = { inputs: { on: true, n: 3, s: 'x' } }
    expect(evaluateValue('${{ inputs.on }}', contexts).kind).toBe(evaluateValue(true, {}).kind)
    expect(evaluateString('v${{ inputs.n }}-${{ inputs.s }}', contexts)).toBe('v3-x')
    expect(evaluateString('${{ inputs.missing }}', contexts)).toBe('')
    expect(evaluateString("${{ inputs.s == 'x' && 'yes' || 'no' }}", contexts)).toBe('yes')
    expect(evaluateString(0, contexts)).toBe('0')
  })

  it('only the contexts a place has parse', () => {
    expect(() => evaluateString('${{ secrets.TOKEN }}', { inputs: {} })).toThrow(
      "Unrecognized named-value: 'secrets'",
    )
    expect(() => evaluateString('${{ success() }}', { inputs: {} })).toThrow(
      "Unrecognized function: 'success'",
    )
  })
})

describe('conditions', () => {
  const contexts = ['inputs']
  it('without a status function mean success() && (…); ${{ }} around them is optional', () => {
    expect(conditionExpression("inputs.a == 'x'", contexts)).toBe("success() && (inputs.a == 'x')")
    expect(conditionExpression("${{ inputs.a == 'x' }}", contexts)).toBe(
      "success() && (inputs.a == 'x')",
    )
    expect(conditionExpression(undefined, contexts)).toBe('success()')
    expect(conditionExpression('  ', contexts)).toBe('success()')
    expect(conditionExpression('always()', contexts)).toBe('always()')
    expect(conditionExpression('!cancelled() && inputs.a', contexts)).toBe(
      '!cancelled() && inputs.a',
    )
    expect(conditionExpression('FAILURE()', contexts)).toBe('FAILURE()')
    // A status function's name inside a string literal is no call.
    expect(conditionExpression("inputs.a == 'always()'", contexts)).toBe(
      "success() && (inputs.a == 'always()')",
    )
  })

  it('with text around ${{ }} are refused: GitHub reads them as an always-true string', () => {
    expect(() => conditionExpression('${{ inputs.a }} == 1', contexts)).toThrow('always true')
  })

  it("evaluate the status functions with GitHub's meaning", () => {
    const check = (condition: string, status: Status) =>
      evaluateCondition(conditionExpression(condition, ['inputs']), { inputs: { a: 'x' } }, status)
    expect([OK, FAILED, CANCELLED].map(s => check("inputs.a == 'x'", s))).toEqual([
      true,
      false,
      false,
    ])
    expect([OK, FAILED, CANCELLED].map(s => check('always()', s))).toEqual([true, true, true])
    expect([OK, FAILED, CANCELLED].map(s => check('failure()', s))).toEqual([false, true, false])
    expect([OK, FAILED, CANCELLED].map(s => check('cancelled()', s))).toEqual([false, false, true])
    // !cancelled() runs after a failure, unlike success(), and stops on a cancel, unlike always().
    expect([OK, FAILED, CANCELLED].map(s => check('!cancelled()', s))).toEqual([true, true, false])
  })

  it('at job level look at every ancestor job: a skipped one makes success() false', () => {
    expect(jobStatus(['success', 'success'], false)).toEqual(OK)
    expect(jobStatus(['success', 'skipped'], false)).toEqual({ ...OK, success: false })
    expect(jobStatus(['failure', 'skipped'], false)).toEqual(FAILED)
    expect(jobStatus(['success'], true)).toEqual(CANCELLED)
  })
})

describe('the workflow reader and scheduler', () => {
  const runs = (file: string, fail: string[] = []) => {
    const order: string[] = []
    return runWorkflow(
      readWorkflow(file),
      { inputs: {}, github: {} },
      async ({ step, with: w }) => {
        order.push(`${step.job}.${step.id}${w.value === undefined ? '' : `=${w.value}`}`)
        return { ok: !fail.includes(step.id), outputs: { out: `${step.id}-out` } }
      },
    ).then(run => ({ run, order }))
  }

  it('hands step outputs to later steps, job outputs to needing jobs, in needs order', async () => {
    const file = workflowFile(`
  b:
    needs: a
    steps:
      - id: s
        uses: $/actions/summary
        with: { value: "\${{ needs.a.outputs.got }}/\${{ needs.a.result }}" }
  a:
    outputs: { got: "\${{ steps.first.outputs.out }}" }
    steps:
      - id: first
        uses: $/actions/summary
      - id: second
        uses: $/actions/summary
        with: { value: "\${{ steps.first.outputs.out }}" }
`)
    const { run, order } = await runs(file)
    expect(order).toEqual(['a.first', 'a.second=first-out', 'b.s=first-out/success'])
    expect(run.jobs.a?.outputs).toEqual({ got: 'first-out' })
  })

  it('continue-on-error: the step fails, its conclusion succeeds, the job goes on', async () => {
    const file = workflowFile(`
  a:
    steps:
      - id: flaky
        uses: $/actions/summary
        continue-on-error: true
      - id: after
        uses: $/actions/summary
        with: { value: "\${{ steps.flaky.outcome }}/\${{ steps.flaky.conclusion }}" }
`)
    const { run, order } = await runs(file, ['flaky'])
    expect(order).toEqual(['a.flaky', 'a.after=failure/success'])
    expect(run.jobs.a?.result).toBe('success')
  })

  it('a skipped ancestor skips a default job even after an always() job, as on GitHub', async () => {
    const file = workflowFile(`
  a:
    if: inputs.flag
    steps: [{ uses: $/actions/summary }]
  b:
    needs: a
    if: always()
    steps: [{ uses: $/actions/summary }]
  c:
    needs: b
    steps: [{ uses: $/actions/summary }]
  d:
    needs: b
    if: "!cancelled() && needs.b.result == 'success'"
    steps: [{ uses: $/actions/summary }, { uses: $/actions/summary }]
`)
    const { run, order } = await runs(file)
    expect(Object.values(run.jobs).map(job => job.result)).toEqual([
      'skipped',
      'success',
      'skipped',
      'success',
    ])
    // Steps without an id get GitHub's: __self, then __self_2.
    expect(order).toEqual(['b.__self', 'd.__self', 'd.__self_2'])
  })

  it.each([
    ['a run: step', '      - run: echo hi\n', 'steps[0] (run): the local pipeline runs only'],
    [
      'another action',
      '      - uses: actions/upload-artifact@0000000000000000000000000000000000000000\n',
      'steps[0] (actions/upload-artifact@0000000000000000000000000000000000000000): the local pipeline runs only',
    ],
    [
      'a step key with no local meaning',
      '      - uses: $/actions/summary\n        timeout-minutes: 5\n',
      'timeout-minutes: the local pipeline has no meaning for it',
    ],
    [
      'a context the stand-in does not give',
      '      - uses: $/actions/summary\n        with: { token: "${{ vars.TOKEN }}" }\n',
      "with.token: Unrecognized named-value: 'vars'",
    ],
    [
      'secrets in a step if:, where GitHub does not give them',
      "      - uses: $/actions/summary\n        if: secrets.hook != ''\n",
      "if: Unrecognized named-value: 'secrets'",
    ],
  ])('refuses %s, naming the step', (_what, step, message) => {
    const file = workflowFile(`  a:\n    steps:\n${step}`)
    expect(() => readWorkflow(file)).toThrow(`w.yml jobs.a.`)
    expect(() => readWorkflow(file)).toThrow(message)
  })

  it('gives a step the declared secrets the caller passed, empty when not passed', async () => {
    const file = join(scratch, 'secrets.yml')
    writeFileSync(
      file,
      'on:\n  workflow_call:\n    secrets:\n      hook: { required: false }\n      key: { required: true }\n' +
        'permissions: {}\njobs:\n  a:\n    steps:\n' +
        '      - uses: $/actions/summary\n        with: { notify-webhook: "${{ secrets.hook }}", token: "${{ secrets.key }}" }\n',
    )
    const workflow = readWorkflow(file)
    expect(workflow.secrets).toEqual({ hook: { required: false }, key: { required: true } })
    const given: Record<string, string>[] = []
    const execute = async ({ with: inputs }: { with: Record<string, string> }) => {
      given.push(inputs)
      return { ok: true, outputs: {} }
    }
    await runWorkflow(workflow, { inputs: {}, github: {}, secrets: { key: 'k' } }, execute)
    expect(given).toEqual([{ 'notify-webhook': '', token: 'k' }])
    await expect(runWorkflow(workflow, { inputs: {}, github: {} }, execute)).rejects.toThrow(
      "secrets.yml needs secret 'key'",
    )
    await expect(
      runWorkflow(workflow, { inputs: {}, github: {}, secrets: { key: 'k', other: 'x' } }, execute),
    ).rejects.toThrow("secrets.yml has no secret 'other'")
  })

  it('refuses a job key with no local meaning and an unknown need', () => {
    expect(() =>
      readWorkflow(workflowFile('  a:\n    strategy: { matrix: { x: [1] } }\n    steps: []\n')),
    ).toThrow('w.yml jobs.a: strategy: the local pipeline has no meaning for it')
    expect(() => readWorkflow(workflowFile('  a:\n    needs: nope\n    steps: []\n'))).toThrow(
      'w.yml jobs.a.needs: no job nope',
    )
  })

  it('runPipeline refuses a checkout it cannot stand in for, naming the step', async () => {
    const file = workflowFile(`
  a:
    steps:
      - uses: actions/checkout@0000000000000000000000000000000000000000
        with: { fetch-depth: 1 }
`)
    await expect(
      runPipeline({
        workflow: file,
        inputs: {},
        ref: 'refs/heads/main',
        sha: 'a',
        checkout: scratch,
        env: {},
      }),
    ).rejects.toThrow(
      'w.yml jobs.a.steps[0] (actions/checkout@0000000000000000000000000000000000000000): with.fetch-depth "1"',
    )
  })
})
