/**
 * Elastic Load Balancing v2 over the query protocol (`Version=2015-12-01`, form-encoded POST,
 * lists as `Targets.member.N.Id`), answered in ELBv2's XML, errors in its `<ErrorResponse>`:
 * DescribeTargetGroups, DescribeTargetGroupAttributes, DescribeTargetHealth, RegisterTargets
 * and DeregisterTargets over the sandbox's target groups (load-balancer.ts).
 */
import type { IncomingMessage } from 'node:http'
import { isInstanceId } from './instances.js'
import type { LoadBalancing, Target, TargetGroup, TargetHealthReport } from './load-balancer.js'
import {
  decodeToken,
  encodeToken,
  ServiceError,
  type ServiceFrontEnd,
  type WireResponse,
} from './protocol.js'
import { element, numbered, queryParams } from './query.js'

const API_VERSION = '2015-12-01'
const XMLNS = `http://elasticloadbalancing.amazonaws.com/doc/${API_VERSION}/`
const OPERATIONS = new Set([
  'DescribeTargetGroups',
  'DescribeTargetGroupAttributes',
  'DescribeTargetHealth',
  'RegisterTargets',
  'DeregisterTargets',
])

/** A target of a request: an instance id and, when given, a port. */
interface TargetParam {
  id: string
  port: number | undefined
}

function validation(message: string): ServiceError {
  return new ServiceError('ValidationError', `1 validation error detected: ${message}`)
}

function required(params: URLSearchParams, name: string): string {
  const value = params.get(name)
  if (value === null || value === '') {
    const member = name[0]?.toLowerCase() + name.slice(1)
    throw validation(
      `Value null at '${member}' failed to satisfy constraint: Member must not be null`,
    )
  }
  return value
}

/** Reads `Targets.member.N.Id` / `.Port`. */
function targetParams(params: URLSearchParams): TargetParam[] {
  const indexes = new Set<number>()
  for (const key of params.keys()) {
    const match = /^Targets\.member\.(\d+)\./.exec(key)
    if (match) indexes.add(Number(match[1]))
  }
  return [...indexes]
    .sort((a, b) => a - b)
    .map(index => {
      const id = params.get(`Targets.member.${index}.Id`)
      if (id === null)
        throw validation(
          `Value null at 'targets.${index}.member.id' failed to satisfy constraint: Member must not be null`,
        )
      const rawPort = params.get(`Targets.member.${index}.Port`)
      if (rawPort === null) return { id, port: undefined }
      const port = Number(rawPort)
      if (!Number.isInteger(port) || port < 1 || port > 65535)
        throw validation(
          `Value '${rawPort}' at 'targets.${index}.member.port' failed to satisfy constraint: Member must have value ${port < 1 ? 'greater than or equal to 1' : 'less than or equal to 65535'}`,
        )
      return { id, port }
    })
}

function targetXml(target: TargetParam, port: number, report: TargetHealthReport): string {
  const health = [
    element('State', report.state),
    report.reason ? element('Reason', report.reason) : '',
    report.description ? element('Description', report.description) : '',
  ].join('')
  return (
    `<member><Target>${element('Id', target.id)}${element('Port', port)}</Target>` +
    `${element('HealthCheckPort', String(port))}<TargetHealth>${health}</TargetHealth></member>`
  )
}

function targetGroupXml(group: TargetGroup): string {
  const s = group.settings
  // The wire carries whole seconds; the sandbox allows fractions for fast tests.
  const seconds = (value: number) => Math.max(1, Math.round(value))
  return [
    '<member>',
    element('TargetGroupArn', group.arn),
    element('TargetGroupName', group.name),
    element('Protocol', 'HTTP'),
    element('Port', s.port),
    element('VpcId', 'vpc-0sandbox000000000'),
    element('HealthCheckProtocol', 'HTTP'),
    element('HealthCheckPort', 'traffic-port'),
    element('HealthCheckEnabled', true),
    element('HealthCheckIntervalSeconds', seconds(s.healthCheckIntervalSeconds)),
    element('HealthCheckTimeoutSeconds', seconds(s.healthCheckTimeoutSeconds)),
    element('HealthyThresholdCount', s.healthyThresholdCount),
    element('UnhealthyThresholdCount', s.unhealthyThresholdCount),
    element('HealthCheckPath', s.healthCheckPath),
    `<Matcher>${element('HttpCode', s.matcher)}</Matcher>`,
    `<LoadBalancerArns>${element('member', group.loadBalancerArn)}</LoadBalancerArns>`,
    element('TargetType', 'instance'),
    element('ProtocolVersion', 'HTTP1'),
    element('IpAddressType', 'ipv4'),
    '</member>',
  ].join('')
}

/** The ELBv2 query front end over the sandbox's target groups. */
export class Elbv2FrontEnd implements ServiceFrontEnd {
  readonly service = 'elbv2'
  private readonly balancing: LoadBalancing
  /** Throws a ServiceError (AccessDenied) for a call the signer may not make. */
  private readonly authorize:
    ((operation: string, request: IncomingMessage, params: URLSearchParams) => void) | undefined

  constructor(
    balancing: LoadBalancing,
    authorize?: (operation: string, request: IncomingMessage, params: URLSearchParams) => void,
  ) {
    this.balancing = balancing
    this.authorize = authorize
  }

  operationOf(request: IncomingMessage, body: string): string {
    const params = queryParams(request, body)
    const action = params.get('Action') ?? ''
    const version = params.get('Version') ?? ''
    if (!OPERATIONS.has(action) || version !== API_VERSION)
      throw new ServiceError(
        'InvalidAction',
        `Could not find operation ${action} for version ${version}`,
      )
    return action
  }

  async handle(
    operation: string,
    request: IncomingMessage,
    body: string,
    requestId: string,
  ): Promise<WireResponse> {
    const params = queryParams(request, body)
    this.authorize?.(operation, request, params)
    const result = this.answer(operation, params)
    const xml =
      `<?xml version="1.0" encoding="UTF-8"?>\n<${operation}Response xmlns="${XMLNS}">` +
      `<${operation}Result>${result}</${operation}Result>` +
      `<ResponseMetadata>${element('RequestId', requestId)}</ResponseMetadata></${operation}Response>`
    return { status: 200, contentType: 'text/xml', body: xml }
  }

  throttled(_operation: string, requestId: string): WireResponse {
    return this.error(new ServiceError('Throttling', 'Rate exceeded'), requestId)
  }

  error(error: ServiceError, requestId: string): WireResponse {
    const type = error.status >= 500 ? 'Receiver' : 'Sender'
    const body =
      `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="${XMLNS}"><Error>` +
      `${element('Type', type)}${element('Code', error.code)}${element('Message', error.message)}` +
      `</Error>${element('RequestId', requestId)}</ErrorResponse>`
    return { status: error.status, contentType: 'text/xml', body }
  }

  private answer(operation: string, params: URLSearchParams): string {
    switch (operation) {
      case 'DescribeTargetGroups':
        return this.describeTargetGroups(params)
      case 'DescribeTargetGroupAttributes':
        return this.describeAttributes(params)
      case 'DescribeTargetHealth':
        return this.describeTargetHealth(params)
      case 'RegisterTargets':
        return this.register(params)
      default:
        return this.deregister(params)
    }
  }

  /** The target group named by `TargetGroupArn`, or ELBv2's error. */
  private group(params: URLSearchParams): TargetGroup {
    const arn = required(params, 'TargetGroupArn')
    return this.byArn(arn)
  }

  private byArn(arn: string): TargetGroup {
    if (
      !/^arn:aws[\w-]*:elasticloadbalancing:[\w-]+:\d{12}:targetgroup\/[^/]+\/[0-9a-f]+$/.test(arn)
    )
      throw new ServiceError('ValidationError', `'${arn}' is not a valid target group ARN`)
    const group = this.balancing.list().find(candidate => candidate.arn === arn)
    if (!group) throw targetGroupNotFound()
    return group
  }

  private describeTargetGroups(params: URLSearchParams): string {
    const arns = [...numbered(params, 'TargetGroupArns.member').values()]
    const names = [...numbered(params, 'Names.member').values()]
    const loadBalancerArn = params.get('LoadBalancerArn')
    const pageSizeRaw = params.get('PageSize')
    const pageSize = pageSizeRaw === null ? 400 : Number(pageSizeRaw)
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 400)
      throw validation(
        `Value '${pageSizeRaw}' at 'pageSize' failed to satisfy constraint: Member must have value ${pageSize < 1 ? 'greater than or equal to 1' : 'less than or equal to 400'}`,
      )
    let groups: TargetGroup[]
    if (arns.length > 0) groups = arns.map(arn => this.byArn(arn))
    else if (names.length > 0)
      groups = names.map(name => {
        const group = this.balancing.list().find(candidate => candidate.name === name)
        if (!group) throw targetGroupNotFound()
        return group
      })
    else if (loadBalancerArn) {
      groups = this.balancing.list().filter(group => group.loadBalancerArn === loadBalancerArn)
      if (groups.length === 0)
        throw new ServiceError('LoadBalancerNotFound', 'One or more load balancers not found')
    } else groups = [...this.balancing.list()]
    const listing = `DescribeTargetGroups:${JSON.stringify([arns, names, loadBalancerArn])}`
    const marker = params.get('Marker')
    const offset = marker === null ? 0 : decodeToken(marker, listing)
    if (offset === undefined) throw new ServiceError('ValidationError', 'Invalid Marker')
    const page = groups.slice(offset, offset + pageSize)
    const next = offset + pageSize < groups.length ? encodeToken(listing, offset + pageSize) : ''
    return (
      `<TargetGroups>${page.map(targetGroupXml).join('')}</TargetGroups>` +
      (next ? element('NextMarker', next) : '')
    )
  }

  private describeAttributes(params: URLSearchParams): string {
    const group = this.group(params)
    const attributes: [string, string][] = [
      ['deregistration_delay.timeout_seconds', String(group.settings.deregistrationDelaySeconds)],
      ['stickiness.enabled', 'false'],
      ['stickiness.type', 'lb_cookie'],
      ['stickiness.lb_cookie.duration_seconds', '86400'],
      ['slow_start.duration_seconds', '0'],
      ['load_balancing.algorithm.type', 'round_robin'],
      ['load_balancing.cross_zone.enabled', 'use_load_balancer_configuration'],
    ]
    const members = attributes
      .map(([key, value]) => `<member>${element('Key', key)}${element('Value', value)}</member>`)
      .join('')
    return `<Attributes>${members}</Attributes>`
  }

  /** Checks the instance ids of a request as ELBv2 does: shape, then existence. */
  private checkInstances(targets: TargetParam[]): void {
    const malformed = targets.find(target => !isInstanceId(target.id))
    if (malformed)
      throw new ServiceError('ValidationError', `Instance ID '${malformed.id}' is not valid`)
    const missing = targets.filter(target => !this.balancing.fleet.get(target.id))
    if (missing.length > 0)
      throw new ServiceError(
        'InvalidTarget',
        `The following instances do not exist: ${missing.map(target => `'${target.id}'`).join(', ')}`,
      )
  }

  private describeTargetHealth(params: URLSearchParams): string {
    const group = this.group(params)
    const asked = targetParams(params)
    this.checkInstances(asked)
    const port = (target: TargetParam) => target.port ?? group.settings.port
    if (asked.length === 0)
      return `<TargetHealthDescriptions>${group
        .list()
        .map((target: Target) =>
          targetXml({ id: target.instance.id, port: target.port }, target.port, target.report()),
        )
        .join('')}</TargetHealthDescriptions>`
    const members = asked.map(target => {
      const found = group.find(target.id, port(target))
      return targetXml(
        target,
        port(target),
        found?.report() ?? {
          state: 'unused',
          reason: 'Target.NotRegistered',
          description: 'Target is not registered to the target group',
        },
      )
    })
    return `<TargetHealthDescriptions>${members.join('')}</TargetHealthDescriptions>`
  }

  private targetsOf(params: URLSearchParams): TargetParam[] {
    const targets = targetParams(params)
    if (targets.length === 0)
      throw validation(
        `Value null at 'targets' failed to satisfy constraint: Member must not be null`,
      )
    this.checkInstances(targets)
    return targets
  }

  private register(params: URLSearchParams): string {
    const group = this.group(params)
    const targets = this.targetsOf(params)
    const notRunning = targets.filter(
      target => this.balancing.fleet.get(target.id)?.state !== 'running',
    )
    if (notRunning.length > 0)
      throw new ServiceError(
        'InvalidTarget',
        `The following targets are not in a running state and cannot be registered: ${notRunning.map(target => `'${target.id}'`).join(', ')}`,
      )
    for (const target of targets) group.register(target.id, target.port)
    return ''
  }

  private deregister(params: URLSearchParams): string {
    const group = this.group(params)
    // A target that is not registered (on that port) is ignored, as ELBv2 does.
    for (const target of this.targetsOf(params)) group.deregister(target.id, target.port)
    return ''
  }
}

function targetGroupNotFound(): ServiceError {
  return new ServiceError('TargetGroupNotFound', 'One or more target groups not found')
}
