// The fleet side of a deploy: finding the instances (EC2 tags, SSM registration), sending
// one engine command to many hosts through SSM with MaxConcurrency/MaxErrors, and reading
// each host's verdict. No @actions imports.
export * from './command.js'
export * from './deploy.js'
export * from './discover.js'
export type { DeployResult, OutputPrinter } from './host-results.js'
export * from './status.js'
export * from './target-groups.js'
export * from './verdict.js'
export * from './wave-plan.js'
export * from './waves.js'
