import { describeExample } from '../support/example-pipeline.js'
import { nodeApiChanges, pm2Example } from '../support/example-stacks.js'

// examples/main-to-prod.yml for real: node-api under pm2 as the user portal on two prod hosts,
// every push to main deployed to prod.
describeExample({
  ...pm2Example({ file: 'main-to-prod.yml', environments: { prod: 2 } }),
  pushes: [{ environment: 'prod', ref: () => 'refs/heads/main' }],
  changes: nodeApiChanges,
})
