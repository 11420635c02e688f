import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { join } from 'node:path'
import { appsDir, run, SSM_PATH, StackHost } from '../support/stacks.js'

// The flutter-webrtc example's host build, as the SSM agent would start it. (The example's
// four steps, built on each host and run by supervisord, are __tests__/examples/
// go-and-compose.test.ts.)
const goServer = join(appsDir, 'go-server')
const BEFORE_SWITCH = 'go build -o server ./cmd/server'

describe('go-server built on the host', () => {
  let host: StackHost

  beforeAll(() => {
    host = new StackHost('flutter-webrtc')
  })
  afterAll(() => host.cleanup())

  it('cannot build without HOME or GOCACHE, as the SSM agent starts commands', async () => {
    const id = host.addRelease({ version: 'v9', source: goServer })
    const noHome = run('bash', ['-c', BEFORE_SWITCH], {
      cwd: host.releaseDir(id),
      env: { PATH: SSM_PATH },
    })
    await expect(noHome).rejects.toThrow(/GOCACHE is not defined/)
  })
})
