import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import type { EC2Client } from '@aws-sdk/client-ec2'
import type { SSMClient } from '@aws-sdk/client-ssm'
import { memoryLogger } from '../../packages/kit/src/index.js'
import { findInstances, parseTagFilters } from '../../packages/fleet/src/index.js'
import { sandboxClients, startSandbox, type Sandbox } from '../../dev/aws-sandbox/src/index.js'

let sandbox: Sandbox
let clients: { ec2: EC2Client; ssm: SSMClient }

beforeAll(async () => {
  sandbox = await startSandbox({
    instances: 120,
    namePrefix: 'fleet',
    tags: { Role: 'web' },
    commandMode: 'fast',
  })
  clients = sandboxClients(sandbox)
})
afterAll(async () => sandbox?.close())

describe('findInstances against the sandbox', () => {
  it('pages through DescribeInstances and asks SSM in batches of 50', async () => {
    sandbox.faults.resetCounters()
    const { instances: found } = await findInstances(
      clients,
      {
        tags: parseTagFilters(['Role=web'], {}),
        instanceIds: [],
        states: ['running'],
        requireSsmOnline: true,
        offline: 'fail',
        minCount: 1,
        maxCount: 0,
        pageSize: 25,
      },
      memoryLogger(),
    )
    expect(found).toHaveLength(120)
    expect(new Set(found.map(i => i.id)).size).toBe(120)
    expect(found.every(i => i.pingStatus === 'Online')).toBe(true)
    expect(sandbox.faults.calls.DescribeInstances).toBe(5)
    expect(sandbox.faults.calls.DescribeInstanceInformation).toBe(3)
  })
})
