import { describeExample } from '../support/example-pipeline.js'
import { nodeApiChanges, pm2Example } from '../support/example-stacks.js'

// examples/multi-env.yml for real: node-api under pm2 as the user shop, with hosts of their own
// in dev, staging and prod. Each step pushes a feature branch (dev), a release branch
// (staging) and a version tag (prod); the three runs go side by side, as GitHub runs them
// (one concurrency group per environment), and no run touches another environment's hosts.
describeExample({
  ...pm2Example({ file: 'multi-env.yml', environments: { dev: 1, staging: 1, prod: 1 } }),
  pushes: [
    { environment: 'dev', ref: () => 'refs/heads/feature/cart/checkout' },
    { environment: 'staging', ref: () => 'refs/heads/release/2.1' },
    { environment: 'prod', ref: tag => `refs/tags/${tag}` },
  ],
  changes: nodeApiChanges,
})
