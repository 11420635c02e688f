// EC2 DescribeInstances against the sandbox with the real SDK v3 client (query protocol, XML).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import {
  DescribeInstancesCommand,
  type EC2Client,
  type Filter,
  paginateDescribeInstances,
} from '@aws-sdk/client-ec2'
import { ec2WildcardMatch, startSandbox, type Sandbox } from '../../dev/aws-sandbox/src/index.js'
import { clients, rejection } from './helpers.js'

let sandbox: Sandbox
let ec2: EC2Client

beforeAll(async () => {
  sandbox = await startSandbox({
    instances: [
      { name: 'webrtc-staging-1', tags: { Environment: 'staging', Role: 'web' } },
      { name: 'webrtc-staging-2', tags: { Environment: 'staging', Role: 'web' } },
      { name: 'webrtc-prod-1', tags: { Environment: 'prod', Role: 'web' } },
      { name: 'webrtc-staging-3', tags: { Environment: 'staging' }, state: 'stopped' },
      { name: 'Webrtc-Staging-4', tags: { 'odd key': 'a<b>&"c"' } },
      { name: 'db-1' },
      ...Array.from({ length: 6 }, (_, i) => ({ name: `batch-${i}` })),
    ],
  })
  ec2 = clients(sandbox).ec2
})
afterAll(async () => {
  ec2.destroy()
  await sandbox.close()
})

async function names(filters: Filter[], instanceIds?: string[]): Promise<string[]> {
  const out = await ec2.send(
    new DescribeInstancesCommand({
      Filters: filters,
      ...(instanceIds ? { InstanceIds: instanceIds } : {}),
    }),
  )
  return (out.Reservations ?? [])
    .flatMap(reservation => reservation.Instances ?? [])
    .map(instance => instance.Tags?.find(tag => tag.Key === 'Name')?.Value ?? '')
}

describe('DescribeInstances', () => {
  it('returns the fields the suite reads, in the real shape', async () => {
    const first = sandbox.instances[0]!
    const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [first.id] }))
    expect(out.Reservations).toHaveLength(1)
    expect(out.Reservations?.[0]?.ReservationId).toMatch(/^r-0[0-9a-f]+$/)
    expect(out.Reservations?.[0]?.OwnerId).toBe(sandbox.accountId)
    const instance = out.Reservations?.[0]?.Instances?.[0]
    expect(instance).toMatchObject({
      InstanceId: first.id,
      State: { Code: 16, Name: 'running' },
      PrivateIpAddress: first.privateIpAddress,
      Placement: { AvailabilityZone: first.availabilityZone },
      InstanceType: 't3.micro',
    })
    expect(instance?.LaunchTime).toBeInstanceOf(Date)
    expect(instance?.Tags).toEqual(
      expect.arrayContaining([
        { Key: 'Name', Value: 'webrtc-staging-1' },
        { Key: 'Environment', Value: 'staging' },
      ]),
    )
  })

  it('escapes tag keys and values in the XML', async () => {
    const out = await ec2.send(
      new DescribeInstancesCommand({ Filters: [{ Name: 'tag-key', Values: ['odd key'] }] }),
    )
    expect(out.Reservations?.[0]?.Instances?.[0]?.Tags).toEqual(
      expect.arrayContaining([{ Key: 'odd key', Value: 'a<b>&"c"' }]),
    )
  })

  it('filters by tag:KEY with case-sensitive * and ? wildcards, ORing values and ANDing filters', async () => {
    expect(await names([{ Name: 'tag:Name', Values: ['webrtc-staging-*'] }])).toEqual([
      'webrtc-staging-1',
      'webrtc-staging-2',
      'webrtc-staging-3',
    ])
    expect(await names([{ Name: 'tag:Name', Values: ['webrtc-????-1'] }])).toEqual([
      'webrtc-prod-1',
    ])
    expect(await names([{ Name: 'tag:Name', Values: ['db-1', 'webrtc-prod-1'] }])).toEqual([
      'webrtc-prod-1',
      'db-1',
    ])
    expect(
      await names([
        { Name: 'tag:Name', Values: ['webrtc-*'] },
        { Name: 'instance-state-name', Values: ['running'] },
        { Name: 'tag:Environment', Values: ['staging'] },
      ]),
    ).toEqual(['webrtc-staging-1', 'webrtc-staging-2'])
    expect(await names([{ Name: 'tag-key', Values: ['Role'] }])).toHaveLength(3)
    expect(await names([{ Name: 'instance-state-name', Values: ['stopped'] }])).toEqual([
      'webrtc-staging-3',
    ])
    expect(await names([{ Name: 'tag:Name', Values: ['nothing-*'] }])).toEqual([])
  })

  it('filters by instance-id and by InstanceId.N', async () => {
    const [a, b] = sandbox.instances
    expect(await names([{ Name: 'instance-id', Values: [a!.id] }])).toEqual(['webrtc-staging-1'])
    expect(await names([], [b!.id, a!.id])).toEqual(['webrtc-staging-1', 'webrtc-staging-2'])
    expect(await names([{ Name: 'tag:Environment', Values: ['prod'] }], [a!.id, b!.id])).toEqual([])
  })

  it('paginates with MaxResults/NextToken', async () => {
    const pages: number[] = []
    const seen: string[] = []
    for await (const page of paginateDescribeInstances({ client: ec2, pageSize: 5 }, {})) {
      const instances = (page.Reservations ?? []).flatMap(r => r.Instances ?? [])
      pages.push(instances.length)
      seen.push(...instances.map(i => i.InstanceId!))
    }
    expect(pages).toEqual([5, 5, 2])
    expect(seen).toEqual(sandbox.instances.map(i => i.id))
  })

  it('rejects invalid MaxResults, MaxResults with InstanceIds, bad tokens and unknown filters', async () => {
    const low = await rejection(ec2.send(new DescribeInstancesCommand({ MaxResults: 4 })))
    expect(low.name).toBe('InvalidParameterValue')
    const high = await rejection(ec2.send(new DescribeInstancesCommand({ MaxResults: 1001 })))
    expect(high.name).toBe('InvalidParameterValue')
    const combined = await rejection(
      ec2.send(
        new DescribeInstancesCommand({ MaxResults: 5, InstanceIds: [sandbox.instances[0]!.id] }),
      ),
    )
    expect(combined.name).toBe('InvalidParameterCombination')
    const token = await rejection(
      ec2.send(new DescribeInstancesCommand({ MaxResults: 5, NextToken: 'nope' })),
    )
    expect(token.name).toBe('InvalidPaginationToken')
    const dryRun = await rejection(ec2.send(new DescribeInstancesCommand({ DryRun: true })))
    expect(dryRun.name).toBe('DryRunOperation')
    expect((dryRun.$metadata as { httpStatusCode: number }).httpStatusCode).toBe(412)
    const filter = await rejection(
      ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'colour', Values: ['x'] }] })),
    )
    expect(filter.name).toBe('InvalidParameterValue')
    expect(filter.message).toBe("The filter 'colour' is invalid")
  })

  it('answers InvalidInstanceID.NotFound and .Malformed in the EC2 error shape', async () => {
    const missing = await rejection(
      ec2.send(new DescribeInstancesCommand({ InstanceIds: ['i-0123456789abcdef0'] })),
    )
    expect(missing.name).toBe('InvalidInstanceID.NotFound')
    expect(missing.message).toBe("The instance ID 'i-0123456789abcdef0' does not exist")
    expect((missing.$metadata as { httpStatusCode: number }).httpStatusCode).toBe(400)
    const malformed = await rejection(
      ec2.send(new DescribeInstancesCommand({ InstanceIds: ['web-1'] })),
    )
    expect(malformed.name).toBe('InvalidInstanceID.Malformed')
  })

  it('answers the raw query protocol in the EC2 XML shapes', async () => {
    const url = sandbox.env.AWS_ENDPOINT_URL_EC2
    const post = (body: string) =>
      fetch(url, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      })
    const ok = await post(
      `Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=tag%3AName&Filter.1.Value.1=db-*`,
    )
    expect(ok.status).toBe(200)
    const xml = await ok.text()
    expect(xml).toContain(
      '<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">',
    )
    expect(xml).toMatch(
      /<reservationSet><item><reservationId>r-[0-9a-f]+<\/reservationId>.*<instancesSet><item><instanceId>i-/,
    )
    expect(xml).toContain('<instanceState><code>16</code><name>running</name></instanceState>')
    expect(xml).toContain('<tagSet><item><key>Name</key><value>db-1</value></item></tagSet>')
    const bad = await post('Action=DescribeInstances&Version=2016-11-15&InstanceId.1=i-00000000')
    expect(bad.status).toBe(400)
    expect(await bad.text()).toMatch(
      /<Response><Errors><Error><Code>InvalidInstanceID\.NotFound<\/Code><Message>.*<\/Message><\/Error><\/Errors><RequestID>[0-9a-f-]+<\/RequestID><\/Response>/,
    )
    const unknown = await post('Action=RebootInstances&Version=2016-11-15')
    expect(await unknown.text()).toContain('<Code>InvalidAction</Code>')
  })
})

describe('ec2WildcardMatch', () => {
  it.each([
    ['web-*', 'web-1', true],
    ['web-*', 'web-', true],
    ['web-*', 'Web-1', false],
    ['web-?', 'web-12', false],
    ['web-?', 'web-1', true],
    ['*', '', true],
    ['a\\*b', 'a*b', true],
    ['a\\*b', 'axb', false],
    ['a.b', 'axb', false],
    ['(x)+', '(x)+', true],
    ['*-prod', 'eu-prod', true],
    ['*-prod', 'eu-prod-2', false],
  ])('%s vs %s → %s', (pattern, value, expected) => {
    expect(ec2WildcardMatch(pattern, value)).toBe(expected)
  })
})
