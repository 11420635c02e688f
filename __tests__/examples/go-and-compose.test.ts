import { afterAll, beforeAll } from '@jest/globals'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describeExample } from '../support/example-pipeline.js'
import { composeExample, supervisorExample } from '../support/example-go.js'
import { startDockerd, startRegistry, type DockerDaemon, type Registry } from '../support/stacks.js'

// The slow ones, both of go-server: examples/flutter-webrtc.yml (a Go build on each host, run
// by supervisord, HTTPS) and examples/docker-compose.yml (an image per version, pushed by the
// runner to a registry and pulled by each host's own dockerd).
let dir: string
let docker: DockerDaemon | undefined
let registry: Registry | undefined

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'go-and-compose-'))
  // The runner's side: its own dockerd, and the registry both sides use.
  docker = await startDockerd(join(dir, 'runner-docker'))
  registry = await startRegistry(join(dir, 'registry'))
}, 120_000)

afterAll(async () => {
  await docker?.stop()
  await registry?.stop()
  rmSync(dir, { recursive: true, force: true })
}, 120_000)

describeExample({
  ...supervisorExample({ develop: 2 }),
  pushes: [{ environment: 'develop', ref: () => 'refs/heads/master' }],
})

describeExample({
  ...composeExample({ production: 2 }, () => ({
    docker: docker as DockerDaemon,
    registry: (registry as Registry).address,
    registryPort: Number((registry as Registry).address.split(':')[1]),
  })),
  pushes: [{ environment: 'production', ref: () => 'refs/heads/main' }],
})
