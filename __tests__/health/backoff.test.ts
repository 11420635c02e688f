// The waits between health attempts, over HTTP and through SSM: one backoff window
// (kit's backoffWindow), doubling from `interval` up to 8 intervals. The checks run for real
// (a loopback HTTP server, the sandbox's SSM); only the sleep is injected, so nothing waits.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { SSMClient } from '@aws-sdk/client-ssm'
import { memoryLogger } from '../../packages/kit/src/index.js'
import { FleetCommands } from '../../packages/fleet/src/index.js'
import { checkUrls, checkViaSsm } from '../../packages/health/src/index.js'
import { sandboxClients, startSandbox, type Sandbox } from '../../dev/aws-sandbox/src/index.js'

const timing = (retries: number) => ({
  retries,
  intervalMs: 100,
  initialDelayMs: 0,
  attemptTimeoutMs: 5000,
  timeoutMs: 60_000,
})

describe('checkUrls', () => {
  let server: Server
  let url: string
  let answered = 0
  const unhealthyAnswers = 5

  beforeAll(async () => {
    server = createServer((_request, response) => {
      answered++
      response.writeHead(answered > unhealthyAnswers ? 200 : 503).end('ok')
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`
  })
  afterAll(async () => new Promise<void>(resolve => server.close(() => resolve())))

  it('waits half the window plus a random half of it, the window doubling up to 8 intervals', async () => {
    const waits: number[] = []
    const report = await checkUrls(
      {
        ...timing(8),
        urls: [url],
        expect: { statuses: [200], versionSource: 'auto' },
        sleep: async ms => void waits.push(ms),
        random: () => 0,
      },
      memoryLogger(),
    )
    expect(report).toMatchObject({ healthy: true, attempts: unhealthyAnswers + 1 })
    expect(waits).toEqual([50, 100, 200, 400, 400])
  })
})

describe('checkViaSsm', () => {
  let sandbox: Sandbox
  let ssm: SSMClient
  const id = 'i-00000000000000c01'

  beforeAll(async () => {
    sandbox = await startSandbox({ instances: [{ id, name: 'web' }] })
    ssm = sandboxClients(sandbox, 3).ssm
  })
  afterAll(async () => sandbox?.close())

  it('waits the whole window between attempts, doubling up to 8 intervals', async () => {
    const waits: number[] = []
    // Unhealthy for the first five checks: a counter in the instance's directory.
    const command =
      'n=$(cat checks 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" > checks; [ "$n" -gt 5 ]'
    const report = await checkViaSsm(
      () =>
        new FleetCommands(ssm, memoryLogger(), {
          initialDelayMs: 50,
          maxDelayMs: 200,
          activeMaxDelayMs: 100,
          missingGraceMs: 3000,
          deadlineSlackMs: 2000,
        }),
      { ...timing(8), instanceIds: [id], command, sleep: async ms => void waits.push(ms) },
      memoryLogger(),
    )
    expect(report).toMatchObject({ healthy: true, attempts: 6 })
    expect(waits).toEqual([100, 200, 400, 800, 800])
  })
})
