import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { startSandbox, type Sandbox } from '../../dev/aws-sandbox/src/index.js'
import { runBundledAction } from '../support/bundled-action.js'

// find-instance, bundled, against the sandbox's real EC2 (query/XML) and SSM (JSON) protocols.
let sandbox: Sandbox
const ID = {
  web1: 'i-0000000000000a001',
  web2: 'i-0000000000000a002',
  webStopped: 'i-0000000000000a003',
  prod: 'i-0000000000000b001',
  offline: 'i-0000000000000c001',
  unmanaged: 'i-0000000000000c002',
}

beforeAll(async () => {
  sandbox = await startSandbox({
    instances: [
      {
        id: ID.web1,
        name: 'webrtc-develop',
        tags: { App: 'webrtc' },
        privateIpAddress: '10.0.1.11',
        availabilityZone: 'us-east-1a',
      },
      {
        id: ID.web2,
        name: 'webrtc-develop',
        tags: { App: 'webrtc' },
        privateIpAddress: '10.0.1.12',
        availabilityZone: 'us-east-1b',
      },
      { id: ID.webStopped, name: 'webrtc-staging', state: 'stopped' },
      { id: ID.prod, name: 'webrtc-prod' },
      { id: ID.offline, name: 'api-develop', faults: { agentOffline: true } },
      { id: ID.unmanaged, name: 'api-develop', ssmManaged: false },
    ],
  })
})
afterAll(async () => sandbox?.close())

const find = (inputs: Record<string, string>) =>
  runBundledAction('find-instance', { inputs, env: { ...sandbox.env } as Record<string, string> })

describe('find-instance, bundled, against the sandbox', () => {
  it('finds instances by a templated Name tag, with their details', async () => {
    const run = await find({
      tags: 'Name=webrtc-{environment}\nApp=webrtc',
      environment: 'develop',
    })
    expect(run.errors).toEqual([])
    expect(run.exitCode).toBe(0)
    expect(JSON.parse(run.outputs['instance-ids'] ?? '')).toEqual([ID.web1, ID.web2])
    expect(run.outputs.count).toBe('2')
    expect(JSON.parse(run.outputs.instances ?? '')[0]).toEqual({
      id: ID.web1,
      name: 'webrtc-develop',
      'private-ip': '10.0.1.11',
      'availability-zone': 'us-east-1a',
      state: 'running',
      'ping-status': 'Online',
      'agent-version': expect.any(String),
    })
  })

  it('matches EC2 wildcards and explicit ids', async () => {
    const run = await find({ tags: 'Name=webrtc-*' })
    expect(JSON.parse(run.outputs['instance-ids'] ?? '')).toEqual([ID.web1, ID.web2, ID.prod])
    const byId = await find({ 'instance-ids': `${ID.prod}, ${ID.web2}` })
    expect(JSON.parse(byId.outputs['instance-ids'] ?? '')).toEqual([ID.web2, ID.prod])
  })

  it('names near misses when nothing matches', async () => {
    const run = await find({ tags: 'Name=webrtc-{environment}', environment: 'staging' })
    expect(run.exitCode).toBe(1)
    expect(run.errors.join('\n')).toContain(
      `no instance matches tag Name=webrtc-staging, state running, in region us-east-1; near misses: ${ID.webStopped} (webrtc-staging) is stopped`,
    )
  })

  it('refuses instances that cannot receive SSM commands, naming each', async () => {
    const run = await find({ tags: 'Name=api-develop' })
    expect(run.exitCode).toBe(1)
    const message = run.errors.join('\n')
    expect(message).toContain(`${ID.offline} (api-develop) has SSM ping status ConnectionLost`)
    expect(message).toContain(`${ID.unmanaged} (api-develop) is not registered with SSM`)
    expect(message).toContain("set 'offline: skip' to deploy to the others")
  })

  it("with 'require-ssm-online: false', never asks SSM", async () => {
    const before = sandbox.faults.calls.DescribeInstanceInformation ?? 0
    const listed = await find({ tags: 'Name=api-develop', 'require-ssm-online': 'false' })
    expect(listed.exitCode).toBe(0)
    expect(listed.outputs.count).toBe('2')
    expect(JSON.parse(listed.outputs.instances ?? '')[0]).toMatchObject({
      'ping-status': 'NotChecked',
    })
    expect(sandbox.faults.calls.DescribeInstanceInformation ?? 0).toBe(before)
  })

  it("with 'offline: skip', leaves offline instances out with a warning and a summary line", async () => {
    const run = await find({ tags: 'Name=*-develop', offline: 'skip' })
    expect(run.errors).toEqual([])
    expect(JSON.parse(run.outputs['instance-ids'] ?? '')).toEqual([ID.web1, ID.web2])
    expect(JSON.parse(run.outputs.skipped ?? '')).toEqual([ID.offline, ID.unmanaged])
    expect(run.warnings.join('\n')).toContain(
      `skipped: ${ID.offline} (api-develop) has SSM ping status ConnectionLost`,
    )
    expect(run.summary).toContain('find-instance skipped 2 offline instance(s)')
    expect(run.summary).toContain(`${ID.unmanaged} (api-develop) is not registered with SSM`)
  })

  it('sets every output when it fails', async () => {
    // Every api-develop instance is offline: skipping them leaves fewer than min-count.
    const run = await find({ tags: 'Name=api-develop', offline: 'skip' })
    expect(run.exitCode).toBe(1)
    expect(run.errors.join('\n')).toContain(
      "found 0 instance(s) for tag Name=api-develop, state running, in region us-east-1 (2 skipped as offline), but input 'min-count' is 1",
    )
    expect(run.outputs).toEqual({
      'instance-ids': '[]',
      count: '0',
      instances: '[]',
      skipped: '[]',
    })
    const bad = await find({ tags: 'Name' })
    expect(bad.outputs).toEqual({
      'instance-ids': '[]',
      count: '0',
      instances: '[]',
      skipped: '[]',
    })
  })

  it('says which region was searched, and that the region is probably wrong when it does not exist', async () => {
    const none = await find({ tags: 'Name=nothing-here' })
    expect(none.errors.join('\n')).toContain(
      "no instance matches tag Name=nothing-here, state running, in region us-east-1; no instance has these tags in any state there (check the tags, and input 'aws-region')",
    )
    const region = 'eu-nowhere-9'
    const run = await runBundledAction('find-instance', {
      inputs: { tags: 'Name=web', 'aws-region': region },
      env: {
        ...sandbox.env,
        AWS_ENDPOINT_URL_EC2: `http://ec2.${region}.invalid`,
        AWS_MAX_ATTEMPTS: '1',
      } as Record<string, string>,
    })
    expect(run.exitCode).toBe(1)
    expect(run.errors.join('\n')).toContain(
      `cannot reach "ec2.${region}.invalid" (getaddrinfo ENOTFOUND): region "${region}" is probably wrong`,
    )
  })

  it('enforces min-count and max-count', async () => {
    const few = await find({ tags: 'Name=webrtc-prod', 'min-count': '2' })
    expect(few.errors.join('\n')).toContain(
      "found 1 instance(s) for tag Name=webrtc-prod, state running, in region us-east-1, but input 'min-count' is 2",
    )
    const many = await find({ tags: 'Name=webrtc-*', 'max-count': '2' })
    expect(many.errors.join('\n')).toContain("more than input 'max-count' (2)")
  })

  it.each([
    [{ tags: 'Name' }, `input 'tags' line 1: "Name": write 'Key=Value'`],
    [{ tags: 'Name=web-{env}' }, 'input \'tags\': "web-{env}" uses the unknown placeholder {env}'],
    [{ tags: 'Name=web-{environment}' }, 'uses {environment}, which has no value here'],
    [
      { 'instance-ids': 'i-123; reboot' },
      `input 'instance-ids': "i-123; reboot" is not an instance id`,
    ],
    [{ tags: 'Name=x', states: 'runing' }, `input 'states': "runing" is not an instance state`],
    [{}, "set input 'tags'"],
    [
      { tags: 'Name=x', 'min-count': '3', 'max-count': '2' },
      "input 'max-count' (2) is below input 'min-count' (3)",
    ],
  ])('fails clearly on %j', async (inputs, message) => {
    const run = await find(inputs)
    expect(run.exitCode).toBe(1)
    expect(run.errors.join('\n')).toContain(message)
  })
})
