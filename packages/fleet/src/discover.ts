// The SDK's commands are loaded with import() where a call needs them (bench/startup).
import type { EC2Client, Filter, Instance } from '@aws-sdk/client-ec2'
import type { SSMClient } from '@aws-sdk/client-ssm'
import { explainFleetCall } from '../../aws/src/index.js'
import {
  ConfigurationError,
  describeValue,
  renderTemplate,
  type Logger,
} from '../../kit/src/index.js'

/** One `Key=Value` line of the `tags` input; `*` and `?` in values match as EC2 defines. */
export interface TagFilter {
  key: string
  value: string
}

/** An instance as find-instance reports it. */
export interface FoundInstance {
  id: string
  name: string
  privateIp: string
  availabilityZone: string
  state: string
  /** SSM PingStatus (Online, ConnectionLost, Inactive), 'NotRegistered', or 'NotChecked'. */
  pingStatus: string
  agentVersion: string
}

export interface DiscoveryOptions {
  tags: readonly TagFilter[]
  instanceIds: readonly string[]
  states: readonly string[]
  /** Ask SSM whether each agent is online (DescribeInstanceInformation); false skips the call. */
  requireSsmOnline: boolean
  /** What to do with instances whose agent is not online: refuse them all, or leave them out. */
  offline: 'fail' | 'skip'
  minCount: number
  /** 0 means no upper bound. */
  maxCount: number
  /** DescribeInstances MaxResults (5–1000); smaller pages only matter to tests. */
  pageSize?: number
}

/** An EC2 instance id: 'i-' and 8 (older) or 17 hex digits. */
export const INSTANCE_ID = /^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$/
const INSTANCE_STATES = ['pending', 'running', 'shutting-down', 'terminated', 'stopping', 'stopped']
/** DescribeInstanceInformation's InstanceIds filter takes at most this many values. */
const SSM_INFO_BATCH = 50

/**
 * Parses `tags` lines `Key=Value`, rendering `{placeholders}` in values (`Name=web-{environment}`).
 * EC2 tag keys are at most 128 characters and values 256.
 */
export function parseTagFilters(
  lines: readonly string[],
  values: Readonly<Record<string, string | undefined>>,
  input = 'tags',
): TagFilter[] {
  return lines.map((line, index) => {
    const eq = line.indexOf('=')
    const key = eq > 0 ? line.slice(0, eq).trim() : ''
    const rawValue = eq > 0 ? line.slice(eq + 1).trim() : ''
    if (key === '' || rawValue === '') {
      throw new ConfigurationError(
        `input '${input}' line ${index + 1}: ${describeValue(line)}: write 'Key=Value', e.g. 'Name=web-{environment}'`,
      )
    }
    const value = renderTemplate(input, rawValue, values)
    if (key.length > 128 || value.length > 256 || /\p{Cc}/u.test(key + value)) {
      throw new ConfigurationError(
        `input '${input}' line ${index + 1}: ${describeValue(line)}: tag keys are at most 128 characters, ` +
          'values 256, with no control characters',
      )
    }
    return { key, value }
  })
}

/** Checks instance ids and states; the messages name the input. */
export function validateDiscovery(options: DiscoveryOptions): void {
  for (const id of options.instanceIds) {
    if (!INSTANCE_ID.test(id)) {
      throw new ConfigurationError(
        `input 'instance-ids': ${describeValue(id)} is not an instance id: use 'i-' and 8 or 17 hex digits`,
      )
    }
  }
  for (const state of options.states) {
    if (!INSTANCE_STATES.includes(state)) {
      throw new ConfigurationError(
        `input 'states': ${describeValue(state)} is not an instance state: use ${INSTANCE_STATES.join(', ')}`,
      )
    }
  }
  if (options.tags.length === 0 && options.instanceIds.length === 0) {
    throw new ConfigurationError(
      "set input 'tags' (e.g. 'Name=web-{environment}') or input 'instance-ids'",
    )
  }
  if (options.offline === 'skip' && !options.requireSsmOnline) {
    throw new ConfigurationError(
      "input 'offline' is 'skip', but input 'require-ssm-online' is 'false': skipping offline " +
        "instances needs SSM's ping status; set 'require-ssm-online: true'",
    )
  }
  if (options.maxCount !== 0 && options.maxCount < options.minCount) {
    throw new ConfigurationError(
      `input 'max-count' (${options.maxCount}) is below input 'min-count' (${options.minCount})`,
    )
  }
}

function tagOf(instance: Instance, key: string): string {
  return instance.Tags?.find(tag => tag.Key === key)?.Value ?? ''
}

function describeFilters(options: DiscoveryOptions): string {
  const parts = options.tags.map(t => `tag ${t.key}=${t.value}`)
  if (options.instanceIds.length > 0) parts.push(`ids ${options.instanceIds.join(', ')}`)
  parts.push(`state ${options.states.join('/')}`)
  return parts.join(', ')
}

/** Every instance matching the filters, across all pages. */
async function describeAll(
  ec2: EC2Client,
  filters: Filter[],
  instanceIds: readonly string[],
  pageSize = 1000,
): Promise<Instance[]> {
  const { DescribeInstancesCommand } = await import('@aws-sdk/client-ec2')
  const instances: Instance[] = []
  let nextToken: string | undefined
  do {
    const page = await explainFleetCall(ec2, 'DescribeInstances', instanceIds, () =>
      ec2.send(
        new DescribeInstancesCommand({
          Filters: filters,
          // EC2 refuses MaxResults together with InstanceIds.
          ...(instanceIds.length > 0
            ? { InstanceIds: [...instanceIds] }
            : { MaxResults: pageSize }),
          NextToken: nextToken,
        }),
      ),
    )
    for (const reservation of page.Reservations ?? [])
      instances.push(...(reservation.Instances ?? []))
    nextToken = page.NextToken
  } while (nextToken)
  return instances
}

/** PingStatus and agent version of each id, asked in batches; absent ids are not registered. */
async function ssmStatus(
  ssm: SSMClient,
  ids: readonly string[],
): Promise<Map<string, { ping: string; agent: string }>> {
  const { DescribeInstanceInformationCommand } = await import('@aws-sdk/client-ssm')
  const status = new Map<string, { ping: string; agent: string }>()
  for (let i = 0; i < ids.length; i += SSM_INFO_BATCH) {
    let nextToken: string | undefined
    do {
      const batch = ids.slice(i, i + SSM_INFO_BATCH)
      const page = await explainFleetCall(ssm, 'DescribeInstanceInformation', batch, () =>
        ssm.send(
          new DescribeInstanceInformationCommand({
            Filters: [{ Key: 'InstanceIds', Values: batch }],
            MaxResults: SSM_INFO_BATCH,
            NextToken: nextToken,
          }),
        ),
      )
      for (const info of page.InstanceInformationList ?? []) {
        if (info.InstanceId)
          status.set(info.InstanceId, {
            ping: info.PingStatus ?? 'Unknown',
            agent: info.AgentVersion ?? '',
          })
      }
      nextToken = page.NextToken
    } while (nextToken)
  }
  return status
}

/** What find-instance found. */
export interface Discovery {
  /** The instances to deploy to, sorted by id. */
  instances: FoundInstance[]
  /** Instances that matched but cannot receive SSM commands, left out with `offline: skip`. */
  skipped: FoundInstance[]
}

/** Why an instance cannot receive SSM commands, for a person, without naming it. */
export function offlineReason(instance: FoundInstance): string {
  return instance.pingStatus === 'NotRegistered'
    ? 'not registered with SSM (agent not installed, or no instance profile with AmazonSSMManagedInstanceCore)'
    : `SSM ping status ${instance.pingStatus} (is the agent running and can it reach SSM?)`
}

/** Why an instance cannot receive SSM commands, for a person. */
export function describeOffline(instance: FoundInstance): string {
  const who = `${instance.id} (${instance.name || 'no Name'})`
  const verb = instance.pingStatus === 'NotRegistered' ? 'is' : 'has'
  return `${who} ${verb} ${offlineReason(instance)}`
}

/**
 * Finds the instances to deploy to: by tags and/or ids in the wanted states, every page, and
 * (by default) only when each one's SSM agent is online, because a command sent to an offline
 * agent can never be delivered: `offline: fail` refuses them, `skip` leaves them out. With
 * `requireSsmOnline: false` SSM is not asked at all (ping status `NotChecked`).
 */
export async function findInstances(
  clients: { ec2: EC2Client; ssm: SSMClient },
  options: DiscoveryOptions,
  logger: Logger,
): Promise<Discovery> {
  validateDiscovery(options)
  const region = await clients.ec2.config.region()
  const searched = `${describeFilters(options)}, in region ${region}`
  const tagFilters: Filter[] = options.tags.map(t => ({ Name: `tag:${t.key}`, Values: [t.value] }))
  const matches = await describeAll(
    clients.ec2,
    [...tagFilters, { Name: 'instance-state-name', Values: [...options.states] }],
    options.instanceIds,
    options.pageSize,
  )
  if (matches.length === 0) {
    // Near misses: the same filters in any state, so "it is stopped" is one glance away.
    const anyState = await describeAll(clients.ec2, tagFilters, options.instanceIds).catch(() => [])
    const nearMisses = anyState
      .map(
        i => `${i.InstanceId} (${tagOf(i, 'Name') || 'no Name'}) is ${i.State?.Name ?? 'unknown'}`,
      )
      .slice(0, 10)
    throw new ConfigurationError(
      `no instance matches ${searched}` +
        (nearMisses.length > 0
          ? `; near misses: ${nearMisses.join('; ')}`
          : '; no instance has these tags in any state there (check the tags, and input ' +
            "'aws-region')"),
    )
  }
  const ids = matches.map(i => i.InstanceId ?? '').filter(Boolean)
  const status = options.requireSsmOnline ? await ssmStatus(clients.ssm, ids) : undefined
  const found: FoundInstance[] = matches
    .map(instance => {
      const id = instance.InstanceId ?? ''
      return {
        id,
        name: tagOf(instance, 'Name'),
        privateIp: instance.PrivateIpAddress ?? '',
        availabilityZone: instance.Placement?.AvailabilityZone ?? '',
        state: instance.State?.Name ?? '',
        pingStatus: status ? (status.get(id)?.ping ?? 'NotRegistered') : 'NotChecked',
        agentVersion: status?.get(id)?.agent ?? '',
      }
    })
    .sort((a, b) => a.id.localeCompare(b.id))
  for (const instance of found) {
    logger.info(
      `${instance.id} ${instance.name || '(no Name)'} ${instance.state} ${instance.privateIp} ${instance.availabilityZone} ssm=${instance.pingStatus}`,
    )
  }
  const offline = status ? found.filter(i => i.pingStatus !== 'Online') : []
  if (offline.length > 0 && options.offline === 'fail') {
    throw new ConfigurationError(
      `${offline.length} of ${found.length} instance(s) cannot receive SSM commands: ` +
        offline.map(describeOffline).join('; ') +
        " (set 'offline: skip' to deploy to the others, or 'require-ssm-online: false' to list them anyway)",
    )
  }
  for (const instance of offline) logger.warning(`skipped: ${describeOffline(instance)}`)
  const instances = found.filter(i => !offline.includes(i))
  const skippedNote = offline.length > 0 ? ` (${offline.length} skipped as offline)` : ''
  if (instances.length < options.minCount) {
    throw new ConfigurationError(
      `found ${instances.length} instance(s) for ${searched}${skippedNote}, but input 'min-count' is ${options.minCount}`,
    )
  }
  if (options.maxCount > 0 && instances.length > options.maxCount) {
    throw new ConfigurationError(
      `found ${instances.length} instance(s) for ${searched}, more than input 'max-count' (${options.maxCount}): ` +
        instances.map(i => i.id).join(', '),
    )
  }
  return { instances, skipped: offline }
}
