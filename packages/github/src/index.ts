// The GitHub-facing side of the suite, for actions/ only: the action entry (runAction,
// outputs, the runner's logger), OIDC role assumption from action inputs, and the
// workflow-artifact hand-off. Domain packages never import it.
export * from './action.js'
export * from './artifact.js'
export * from './aws.js'
export * from './entry.js'
export * from './run-context.js'
