import { describeExample } from '../support/example-pipeline.js'
import { nodeApiChanges, pm2Example } from '../support/example-stacks.js'

// examples/node-pm2.yml for real: node-api under pm2 as the user api on two qa hosts, with its
// migration on node:sqlite in shared/data/ and its .env in shared/.
describeExample({
  ...pm2Example({ file: 'node-pm2.yml', environments: { qa: 2 } }),
  pushes: [{ environment: 'qa', ref: () => 'refs/heads/qa' }],
  changes: nodeApiChanges,
})
