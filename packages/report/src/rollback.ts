import { ENVIRONMENT_RULE, VERSION_RULE, fitsRule, shellQuote } from '../../kit/src/index.js'

/** Where a rollback is dispatched: the caller's workflow file, its repository and the ref. */
export interface DispatchTarget {
  /** `deploy-web.yml` */
  workflowFile: string
  /** `owner/repo`; undefined when only a file name was given. */
  repository?: string | undefined
  /** The branch or tag name the deploy ran on (what `gh workflow run --ref` takes). */
  refName?: string | undefined
  refType?: 'branch' | 'tag' | undefined
}

const WORKFLOW_FILE = /^[\w.-]+\.ya?ml$/
const WORKFLOW_REF =
  /^([A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\/[\w.-]+)\/\.github\/workflows\/([^/@]+)@refs\/(heads|tags)\/(.+)$/

/**
 * Reads the `rollback-workflow` input: a workflow ref as `github.workflow_ref` gives it
 * (`owner/repo/.github/workflows/deploy-web.yml@refs/heads/main`), or a bare file name.
 * Undefined for anything else, pull request refs included: they cannot be dispatched.
 */
export function parseDispatchTarget(value: string | undefined): DispatchTarget | undefined {
  if (value === undefined) return undefined
  if (WORKFLOW_FILE.test(value)) return { workflowFile: value }
  const match = WORKFLOW_REF.exec(value)
  if (!match) return undefined
  const [, repository, workflowFile, kind, refName] = match as unknown as string[]
  if (!workflowFile || !WORKFLOW_FILE.test(workflowFile) || !refName || /\p{Cc}/u.test(refName))
    return undefined
  return { workflowFile, repository, refName, refType: kind === 'tags' ? 'tag' : 'branch' }
}

/** A word as a POSIX shell reads it: bare when it is plainly safe, single-quoted otherwise. */
function shellWord(value: string): string {
  return /^[\w./=:@%+,-]+$/.test(value) ? value : shellQuote(value)
}

/**
 * The `gh workflow run` line that puts `version` back on `environment`: it runs the workflow
 * on the ref that was deployed (not the default branch) and names the environment, so the
 * rollback resolves to the environment that was deployed. Undefined when a value is not one
 * the suite accepts (the summary then says so instead of printing a command).
 */
export function rollbackCommand(
  target: DispatchTarget,
  environment: string,
  version: string,
): string | undefined {
  if (!fitsRule(environment, ENVIRONMENT_RULE) || !fitsRule(version, VERSION_RULE)) return undefined
  const words = ['gh', 'workflow', 'run', target.workflowFile]
  if (target.repository) words.push('--repo', target.repository)
  if (target.refName) words.push('--ref', target.refName)
  words.push('-f', `environment=${environment}`, '-f', `version=${version}`)
  return words.map(shellWord).join(' ')
}
