/**
 * Checks a workflow file the way this project requires: GitHub's own parser finds syntax
 * errors (it knows the `$/` self-repository syntax), and our rules run on top:
 * top-level `permissions`, third-party actions pinned by full commit sha with a version
 * comment, our own actions (here, or OWNER/ec2-deploy-actions/actions/<name>@tag from a caller)
 * called with declared inputs only and every required input, and no
 * `${{ }}` expression inside `run:` (values go through `env:`), and no `always()` in the `if:`
 * of a job that deploys (it would keep deploying after the run is cancelled).
 */
import { NoOperationTraceWriter, parseWorkflow } from '@actions/workflow-parser'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import { repoRoot } from './bundled-action.js'

interface Step {
  uses?: string
  with?: Record<string, unknown>
  run?: string
}
interface Job {
  if?: unknown
  uses?: string
  with?: Record<string, unknown>
  steps?: Step[]
}

const PINNED = /^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/
/** This suite's reusable workflow, called from this repository or another. */
const DEPLOY_WORKFLOW = /(^\.\/|\/ec2-deploy-actions\/)\.github\/workflows\/deploy\.yml(@[\w.-]+)?$/
/** ssm-deploy, called as `./actions/ssm-deploy`, `$/actions/ssm-deploy` or `OWNER/REPO/actions/ssm-deploy@ref`. */
const SSM_DEPLOY = /(^|\/)actions\/ssm-deploy(@.*)?$/

/** A job deploys when it runs ssm-deploy or calls the reusable deploy workflow. */
function deploys(job: Job): boolean {
  if (job.uses !== undefined) return DEPLOY_WORKFLOW.test(job.uses)
  return (job.steps ?? []).some(step => step.uses !== undefined && SSM_DEPLOY.test(step.uses))
}

function actionInputs(
  name: string,
): Record<string, { required?: boolean; default?: unknown }> | undefined {
  const file = join(repoRoot, 'actions', name, 'action.yml')
  if (!existsSync(file)) return undefined
  return (
    (parse(readFileSync(file, 'utf8')) as { inputs?: Record<string, { required?: boolean }> })
      .inputs ?? {}
  )
}

/** Problems found in one workflow file's text; empty when it is clean. */
export function lintWorkflow(fileName: string, content: string): string[] {
  const problems: string[] = []
  const parsed = parseWorkflow({ name: fileName, content }, new NoOperationTraceWriter())
  for (const error of parsed.context.errors.getErrors()) problems.push(`syntax: ${error.message}`)

  const workflow = parse(content) as { permissions?: unknown; jobs?: Record<string, Job> } | null
  if (!workflow || typeof workflow !== 'object') return [...problems, 'not a YAML mapping']
  if (workflow.permissions === undefined)
    problems.push('no top-level permissions (use `permissions: {}`)')

  const lines = content.split('\n')
  // This suite's reusable workflow, called by a caller (the examples): its inputs are checked
  // like an action's. A release tag is accepted for it; the README says to pin a sha.
  const checkWorkflowCall = (where: string, inputs: Record<string, unknown> | undefined): void => {
    const declared = (
      parse(readFileSync(join(repoRoot, '.github/workflows/deploy.yml'), 'utf8')) as {
        on: { workflow_call: { inputs: Record<string, { required?: boolean }> } }
      }
    ).on.workflow_call.inputs
    for (const key of Object.keys(inputs ?? {})) {
      if (!(key in declared)) problems.push(`${where}: deploy.yml has no input '${key}'`)
    }
    for (const [key, spec] of Object.entries(declared)) {
      if (spec.required && !(key in (inputs ?? {})))
        problems.push(`${where}: deploy.yml needs input '${key}'`)
    }
  }
  const checkUses = (where: string, uses: string, inputs: Record<string, unknown> | undefined) => {
    // This suite's actions: from this repository, or from a caller's (an example's image job)
    // at a release tag like the reusable workflow.
    const own =
      /^(?:\.\/|\$\/)actions\/([\w-]+)$/.exec(uses) ??
      /^[\w.-]+\/ec2-deploy-actions\/actions\/([\w-]+)@[\w.-]+$/.exec(uses)
    if (own) {
      const declared = actionInputs(own[1] as string)
      if (!declared) return problems.push(`${where}: ${uses} is not an action of this repository`)
      for (const key of Object.keys(inputs ?? {})) {
        if (!(key in declared)) problems.push(`${where}: ${uses} has no input '${key}'`)
      }
      for (const [key, spec] of Object.entries(declared)) {
        if (spec.required && spec.default === undefined && !(key in (inputs ?? {}))) {
          problems.push(`${where}: ${uses} needs input '${key}'`)
        }
      }
      return
    }
    if (uses.startsWith('./') || uses.startsWith('$/') || uses.startsWith('docker://')) return
    if (!PINNED.test(uses))
      return problems.push(`${where}: ${uses} is not pinned to a full commit sha`)
    const line = lines.find(l => l.includes(uses))
    if (!line || !/#\s*v\d/.test(line))
      problems.push(`${where}: ${uses} has no '# vX.Y.Z' comment naming its version`)
  }

  for (const [jobId, job] of Object.entries(workflow.jobs ?? {})) {
    if (deploys(job) && /\balways\s*\(\s*\)/.test(String(job.if ?? ''))) {
      problems.push(
        `job ${jobId}: its if: uses always(), so it keeps deploying after the run is cancelled: ` +
          'use !cancelled()',
      )
    }
    if (job.uses && DEPLOY_WORKFLOW.test(job.uses)) {
      checkWorkflowCall(`job ${jobId}`, job.with)
    } else if (job.uses) checkUses(`job ${jobId}`, job.uses, job.with)
    ;(job.steps ?? []).forEach((step, index) => {
      const where = `job ${jobId} step ${index + 1}`
      if (step.uses) checkUses(where, step.uses, step.with)
      if (typeof step.run === 'string' && step.run.includes('${{')) {
        problems.push(`${where}: run: contains a \${{ }} expression; pass the value through env:`)
      }
    })
  }
  return problems
}
