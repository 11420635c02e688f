import { describe, expect, it } from '@jest/globals'
import { join } from 'node:path'
import { appsDir, run, SSM_PATH } from '../support/stacks.js'

// The compose example's image build (examples/apps/go-server/build-image.sh). The example's
// four steps, with a registry and each host's own dockerd, are __tests__/examples/
// go-and-compose.test.ts.
describe("the compose example's image build", () => {
  it('refuses a version that cannot be a Docker tag, naming it', async () => {
    const build = run(join(appsDir, 'go-server', 'build-image.sh'), ['v1+build.7'], {
      env: { PATH: SSM_PATH },
    })
    await expect(build).rejects.toThrow(/version 'v1\+build\.7' is not allowed: a Docker tag/)
  })
})
