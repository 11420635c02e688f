/**
 * EC2 DescribeInstances over the EC2 query protocol: a form-encoded POST
 * (`Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=…&Filter.1.Value.1=…`),
 * answered in EC2's XML, errors in EC2's `<Response><Errors><Error>` shape. Other actions
 * (RunInstances, TerminateInstances: ec2-launch.ts) plug in as extra operations.
 */
import type { IncomingMessage } from 'node:http'
import {
  ec2WildcardMatch,
  type Fleet,
  INSTANCE_STATE_CODES,
  type InstanceStateName,
  isInstanceId,
  type SandboxInstance,
} from './instances.js'
import {
  decodeToken,
  encodeToken,
  ServiceError,
  type ServiceFrontEnd,
  type WireResponse,
} from './protocol.js'
import { element, memberIndexes, numbered, queryParams } from './query.js'

const API_VERSION = '2016-11-15'
const XMLNS = `http://ec2.amazonaws.com/doc/${API_VERSION}/`

/** A DescribeInstances filter: name and the values any of which may match. */
export interface Ec2Filter {
  name: string
  values: string[]
}

/** The parsed DescribeInstances request. */
export interface DescribeInstancesRequest {
  instanceIds: string[]
  filters: Ec2Filter[]
  maxResults: number | undefined
  nextToken: string | undefined
}

/** An action's answer: `<ActionResponse xmlns=…><requestId>…</requestId>body</ActionResponse>`. */
export function responseXml(action: string, requestId: string, body: string): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${XMLNS}">` +
    `${element('requestId', requestId)}${body}</${action}Response>`
  )
}

/** `<tag>` holding a state's code and name, as EC2 reports instance states. */
export function stateXml(tag: string, state: InstanceStateName): string {
  return `<${tag}>${element('code', INSTANCE_STATE_CODES[state])}${element('name', state)}</${tag}>`
}

/** Parses the query parameters of DescribeInstances. */
export function parseDescribeInstances(params: URLSearchParams): DescribeInstancesRequest {
  const instanceIds = [...numbered(params, 'InstanceId').values()]
  const filters = memberIndexes(params, 'Filter').map(index => {
    const name = params.get(`Filter.${index}.Name`)
    if (name === null || name === '') {
      throw new ServiceError('InvalidParameterValue', `The filter 'null' is invalid`)
    }
    return { name, values: [...numbered(params, `Filter.${index}.Value`).values()] }
  })
  const maxRaw = params.get('MaxResults')
  let maxResults: number | undefined
  if (maxRaw !== null) {
    if (!/^-?\d+$/.test(maxRaw)) {
      throw new ServiceError('InvalidParameterValue', `Invalid value '${maxRaw}' for maxResults`)
    }
    maxResults = Number(maxRaw)
  }
  return { instanceIds, filters, maxResults, nextToken: params.get('NextToken') ?? undefined }
}

/** The filters the sandbox understands besides `tag:<key>`. */
const KNOWN_FILTERS: ReadonlySet<string> = new Set([
  'tag-key',
  'tag-value',
  'instance-id',
  'instance-state-name',
  'instance-state-code',
  'private-ip-address',
  'availability-zone',
  'instance-type',
])

/** The value(s) an instance has for a filter name; undefined when the filter is unknown. */
function filterValues(instance: SandboxInstance, name: string): string[] | undefined {
  if (name.startsWith('tag:')) {
    const value = instance.tags.get(name.slice(4))
    return value === undefined ? [] : [value]
  }
  switch (name) {
    case 'tag-key':
      return [...instance.tags.keys()]
    case 'tag-value':
      return [...instance.tags.values()]
    case 'instance-id':
      return [instance.id]
    case 'instance-state-name':
      return [instance.state]
    case 'instance-state-code':
      return [String(INSTANCE_STATE_CODES[instance.state])]
    case 'private-ip-address':
      return instance.state === 'terminated' ? [] : [instance.privateIpAddress]
    case 'availability-zone':
      return [instance.availabilityZone]
    case 'instance-type':
      return [instance.instanceType]
    default:
      return undefined
  }
}

/** EC2's checks of `InstanceId.N`: each well formed and known, else `InvalidInstanceID.*`. */
export function checkInstanceIds(fleet: Fleet, instanceIds: readonly string[]): void {
  const malformed = instanceIds.filter(id => !isInstanceId(id))
  if (malformed.length > 0) {
    throw new ServiceError('InvalidInstanceID.Malformed', `Invalid id: "${malformed[0]}"`)
  }
  const missing = instanceIds.filter(id => !fleet.get(id))
  if (missing.length === 1) {
    throw new ServiceError(
      'InvalidInstanceID.NotFound',
      `The instance ID '${missing[0]}' does not exist`,
    )
  }
  if (missing.length > 1) {
    throw new ServiceError(
      'InvalidInstanceID.NotFound',
      `The instance IDs '${missing.join(', ')}' do not exist`,
    )
  }
}

/** The instances DescribeInstances returns for a request, in a stable order (one page). */
export function describeInstances(
  fleet: Fleet,
  request: DescribeInstancesRequest,
): { instances: SandboxInstance[]; nextToken: string | undefined } {
  const { instanceIds, filters, maxResults, nextToken } = request
  if (maxResults !== undefined && instanceIds.length > 0) {
    throw new ServiceError(
      'InvalidParameterCombination',
      'The parameter instancesSet cannot be used with the parameter maxResults',
    )
  }
  if (maxResults !== undefined && (maxResults < 5 || maxResults > 1000)) {
    throw new ServiceError(
      'InvalidParameterValue',
      `Value ( ${maxResults} ) for parameter maxResults is invalid. Expecting a value between 5 and 1000.`,
    )
  }
  checkInstanceIds(fleet, instanceIds)
  for (const filter of filters) {
    if (!filter.name.startsWith('tag:') && !KNOWN_FILTERS.has(filter.name)) {
      throw new ServiceError('InvalidParameterValue', `The filter '${filter.name}' is invalid`)
    }
  }
  const wanted = new Set(instanceIds)
  const matching = fleet.list().filter(instance => {
    if (wanted.size > 0 && !wanted.has(instance.id)) return false
    return filters.every(filter => {
      const values = filterValues(instance, filter.name) ?? []
      return filter.values.some(pattern => values.some(value => ec2WildcardMatch(pattern, value)))
    })
  })
  const listing = `DescribeInstances:${JSON.stringify([instanceIds, filters])}`
  let offset = 0
  if (nextToken !== undefined) {
    const decoded = decodeToken(nextToken, listing)
    if (decoded === undefined) {
      throw new ServiceError('InvalidPaginationToken', `Invalid pagination token: ${nextToken}`)
    }
    offset = decoded
  }
  if (maxResults === undefined) return { instances: matching.slice(offset), nextToken: undefined }
  const end = offset + maxResults
  return {
    instances: matching.slice(offset, end),
    nextToken: end < matching.length ? encodeToken(listing, end) : undefined,
  }
}

/** One instance as EC2's XML `<item>` (DescribeInstances, RunInstances). */
export function instanceXml(instance: SandboxInstance, accountId: string): string {
  const state = instance.state
  const hasAddress = state !== 'terminated'
  const tags = [...instance.tags]
  const dns = `ip-${instance.privateIpAddress.replaceAll('.', '-')}.ec2.internal`
  return [
    '<item>',
    element('instanceId', instance.id),
    element('imageId', instance.imageId),
    stateXml('instanceState', state),
    element('privateDnsName', hasAddress ? dns : ''),
    '<dnsName/>',
    element('reason', state === 'stopped' ? 'User initiated' : ''),
    element('amiLaunchIndex', instance.reservation?.launchIndex ?? 0),
    '<productCodes/>',
    element('instanceType', instance.instanceType),
    element('launchTime', instance.launchTime.toISOString()),
    `<placement>${element('availabilityZone', instance.availabilityZone)}<groupName/>${element('tenancy', 'default')}</placement>`,
    `<monitoring>${element('state', 'disabled')}</monitoring>`,
    hasAddress ? element('subnetId', 'subnet-0sandbox000000000') : '',
    hasAddress ? element('vpcId', 'vpc-0sandbox000000000') : '',
    hasAddress ? element('privateIpAddress', instance.privateIpAddress) : '',
    element('sourceDestCheck', true),
    `<groupSet><item>${element('groupId', 'sg-0sandbox000000000')}${element('groupName', 'default')}</item></groupSet>`,
    element('architecture', 'x86_64'),
    element('rootDeviceType', 'ebs'),
    element('rootDeviceName', '/dev/xvda'),
    '<blockDeviceMapping/>',
    element('virtualizationType', 'hvm'),
    '<clientToken/>',
    tags.length > 0
      ? `<tagSet>${tags.map(([key, value]) => `<item>${element('key', key)}${element('value', value)}</item>`).join('')}</tagSet>`
      : '',
    element('hypervisor', 'xen'),
    `<iamInstanceProfile>${element('arn', instance.iamInstanceProfileArn ?? `arn:aws:iam::${accountId}:instance-profile/sandbox-instance`)}${element('id', 'AIPASANDBOX000000000')}</iamInstanceProfile>`,
    element('ebsOptimized', false),
    element('platformDetails', 'Linux/UNIX'),
    '</item>',
  ].join('')
}

/** The reservation id an instance reports: its RunInstances call's, else one of its own. */
export function reservationIdOf(instance: SandboxInstance): string {
  return instance.reservation?.id ?? `r-0${instance.id.slice(3).padEnd(16, '0')}`
}

/** An EC2 action besides DescribeInstances: answers with its response XML (or throws a ServiceError). */
export type Ec2Operation = (params: URLSearchParams, requestId: string) => string

/** The EC2 query front end: DescribeInstances, and the `operations` it is given. */
export class Ec2FrontEnd implements ServiceFrontEnd {
  readonly service = 'ec2'
  readonly fleet: Fleet
  readonly accountId: string
  /** Throws a ServiceError (UnauthorizedOperation) for a call the signer may not make. */
  private readonly authorize: ((operation: string, request: IncomingMessage) => void) | undefined
  private readonly operations: Readonly<Record<string, Ec2Operation>>

  constructor(
    fleet: Fleet,
    accountId: string,
    authorize?: (operation: string, request: IncomingMessage) => void,
    operations: Readonly<Record<string, Ec2Operation>> = {},
  ) {
    this.fleet = fleet
    this.accountId = accountId
    this.authorize = authorize
    this.operations = operations
  }

  operationOf(request: IncomingMessage, body: string): string {
    const params = queryParams(request, body)
    const action = params.get('Action')
    if (action === null || action === '') {
      throw new ServiceError('MissingAction', 'The request must contain the parameter Action')
    }
    if (action !== 'DescribeInstances' && !Object.hasOwn(this.operations, action)) {
      throw new ServiceError(
        'InvalidAction',
        `The action ${action} is not valid for this web service.`,
      )
    }
    return action
  }

  async handle(
    operation: string,
    request: IncomingMessage,
    body: string,
    requestId: string,
  ): Promise<WireResponse> {
    this.authorize?.(operation, request)
    const params = queryParams(request, body)
    const version = params.get('Version')
    if (version !== API_VERSION) {
      throw new ServiceError('InvalidParameterValue', `Invalid API version: ${String(version)}`)
    }
    if (params.get('DryRun') === 'true') {
      throw new ServiceError(
        'DryRunOperation',
        'Request would have succeeded, but DryRun flag is set.',
        412,
      )
    }
    const other = this.operations[operation]
    if (operation !== 'DescribeInstances' && other) {
      return { status: 200, contentType: 'text/xml;charset=UTF-8', body: other(params, requestId) }
    }
    const page = describeInstances(this.fleet, parseDescribeInstances(params))
    // Instances launched by one call share their reservation, as EC2 groups them.
    const groups: SandboxInstance[][] = []
    for (const instance of page.instances) {
      const last = groups.at(-1)
      if (last && reservationIdOf(last[0] as SandboxInstance) === reservationIdOf(instance))
        last.push(instance)
      else groups.push([instance])
    }
    const reservations = groups
      .map(
        group =>
          `<item>${element('reservationId', reservationIdOf(group[0] as SandboxInstance))}${element('ownerId', this.accountId)}<groupSet/><instancesSet>${group.map(instance => instanceXml(instance, this.accountId)).join('')}</instancesSet></item>`,
      )
      .join('')
    const xml = responseXml(
      'DescribeInstances',
      requestId,
      `<reservationSet>${reservations}</reservationSet>` +
        `${page.nextToken !== undefined ? element('nextToken', page.nextToken) : ''}`,
    )
    return { status: 200, contentType: 'text/xml;charset=UTF-8', body: xml }
  }

  throttled(_operation: string, requestId: string): WireResponse {
    return this.error(
      new ServiceError('RequestLimitExceeded', 'Request limit exceeded.', 503),
      requestId,
    )
  }

  error(error: ServiceError, requestId: string): WireResponse {
    const body =
      `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>${element('Code', error.code)}` +
      `${element('Message', error.message)}</Error></Errors>${element('RequestID', requestId)}</Response>`
    return { status: error.status, contentType: 'text/xml;charset=UTF-8', body }
  }
}
