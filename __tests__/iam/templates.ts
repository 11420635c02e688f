// The shipped docs/iam templates, read as JSON and filled in for one environment, as a user
// following docs/iam/README.md would.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { PolicyDocument, StsRole } from '../../dev/aws-sandbox/src/index.js'
import { repoRoot } from '../support/bundled-action.js'

export const ACCOUNT_ID = '123456789012'
export const REGION = 'us-east-1'
export const BUCKET = 'webrtc-artifacts'
export const APP = 'webrtc'
export const REPOSITORY = 'octo-org/octo-repo'
export const WORKFLOW_REPO = 'octo-org/ec2-deploy-actions'
export const WORKFLOW_REF = 'refs/tags/v1'
export const TAG_ADMIN_ROLE = 'tag-admin'

/** The placeholders, longest first so that WORKFLOW_REPO is not read as ORG/REPO. */
const placeholders = (environment: string): [string, string][] => [
  ['WORKFLOW_REPO', WORKFLOW_REPO],
  ['WORKFLOW_REF', WORKFLOW_REF],
  ['TAG_ADMIN_ROLE', TAG_ADMIN_ROLE],
  ['ARTIFACT_BUCKET', BUCKET],
  ['ACCOUNT_ID', ACCOUNT_ID],
  ['ORG/REPO', REPOSITORY],
  ['ENVIRONMENT', environment],
  ['APP_NAME', APP],
  ['REGION', REGION],
]

/** docs/iam/<file> as shipped (placeholders kept). */
export function templateText(file: string): string {
  return readFileSync(join(repoRoot, 'docs/iam', file), 'utf8')
}

/** docs/iam/<file> with every placeholder filled in for `environment`. */
export function instantiate(file: string, environment: string): PolicyDocument {
  let text = templateText(file)
  for (const [name, value] of placeholders(environment)) text = text.replaceAll(name, value)
  const left = /\b(?:[A-Z][A-Z0-9]*_)+[A-Z0-9]+\b|\bENVIRONMENT\b|\bREGION\b/.exec(text)
  if (left) throw new Error(`docs/iam/${file}: placeholder ${left[0]} left unfilled`)
  return JSON.parse(text) as PolicyDocument
}

/** The `sub` GitHub puts in a token for a job in `environment`, default or customised. */
export function subjectFor(environment: string, jobWorkflowRef?: string): string {
  const base = `repo:${REPOSITORY}:environment:${environment}`
  return jobWorkflowRef === undefined ? base : `${base}:job_workflow_ref:${jobWorkflowRef}`
}

/** The job_workflow_ref of a job running the suite's reusable deploy.yml. */
export const DEPLOY_WORKFLOW_REF = `${WORKFLOW_REPO}/.github/workflows/deploy.yml@${WORKFLOW_REF}`

/** The deploy role ARN of `environment`. */
export const deployRoleArn = (environment: string): string =>
  `arn:aws:iam::${ACCOUNT_ID}:role/${APP}-deploy-${environment}`

/** The deploy role of `environment` for the sandbox's STS, trust and policy from docs/iam. */
export function deployRole(environment: string, trust = 'deploy-role-trust-policy.json'): StsRole {
  return {
    arn: deployRoleArn(environment),
    trustPolicy: instantiate(trust, environment),
    policy: instantiate('deploy-role-policy.json', environment),
  }
}

/** Instances tagged for the app in each environment, one each, named `web-<environment>`. */
export const taggedInstances = (...environments: string[]) =>
  environments.map(environment => ({
    name: `web-${environment}`,
    tags: { DeployApp: APP, DeployEnvironment: environment },
  }))

/** What every IAM sandbox here shares: the account, fast commands, and a dev job's token. */
export const IAM_SANDBOX = {
  region: REGION,
  accountId: ACCOUNT_ID,
  commandMode: 'fast',
  oidc: { subject: subjectFor('dev') },
} as const
