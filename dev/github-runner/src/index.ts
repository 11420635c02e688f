// The GitHub runner on this machine: a bundle run as the runner runs it, the OIDC token and
// workflow-artifact services a job reaches, and deploy.yml read and run from the file (see
// README.md). Dev-only: nothing in actions/ or packages/ imports it.
export * from './artifact-service.js'
export * from './expressions.js'
export * from './local-action.js'
export * from './oidc.js'
export * from './pipeline.js'
export * from './workflow.js'
export * from './workflow-run.js'
