/**
 * RunInstances and TerminateInstances on the EC2 query front end: EC2's checks of the request
 * (counts, AMI id, instance type, tag specifications, base64 user data of at most 16 KB) and
 * its answers (a reservation of `pending` instances; each instance's current and previous
 * state). The launching itself is launch.ts's.
 */
import { checkInstanceIds, type Ec2Operation, instanceXml, responseXml, stateXml } from './ec2.js'
import type { Fleet, SandboxInstance } from './instances.js'
import type { LaunchRequest, Launcher } from './launch.js'
import { ServiceError } from './protocol.js'
import { element, memberIndexes, numbered } from './query.js'

/** The most user data EC2 takes, in bytes (after base64 decoding). */
export const USER_DATA_LIMIT = 16384

const TAGGABLE_AT_LAUNCH = new Set([
  'instance',
  'volume',
  'network-interface',
  'spot-instances-request',
  'elastic-gpu',
])

function missing(name: string): ServiceError {
  return new ServiceError('MissingParameter', `The request must contain the parameter ${name}`)
}

function invalid(message: string): ServiceError {
  return new ServiceError('InvalidParameterValue', message)
}

/** MinCount or MaxCount: a whole number of at least 1. */
function count(params: URLSearchParams, name: 'MinCount' | 'MaxCount'): number {
  const raw = params.get(name)
  if (raw === null) throw missing(name)
  if (!/^-?\d+$/.test(raw)) throw invalid(`Invalid value '${raw}' for ${name}`)
  const value = Number(raw)
  if (value < 1) {
    const field = name === 'MinCount' ? 'minCount' : 'maxCount'
    throw invalid(
      `Value (${value}) for parameter ${field} is invalid. Expecting a value greater than 0.`,
    )
  }
  return value
}

/** The tags of the request's `instance` tag specifications. */
function instanceTags(params: URLSearchParams): Record<string, string> {
  const tags: Record<string, string> = {}
  for (const index of memberIndexes(params, 'TagSpecification')) {
    const prefix = `TagSpecification.${index}`
    const resourceType = params.get(`${prefix}.ResourceType`) ?? ''
    if (!TAGGABLE_AT_LAUNCH.has(resourceType)) {
      throw invalid(`'${resourceType}' is not a valid taggable resource type for this operation.`)
    }
    for (const tag of memberIndexes(params, `${prefix}.Tag`)) {
      const key = params.get(`${prefix}.Tag.${tag}.Key`) ?? ''
      const value = params.get(`${prefix}.Tag.${tag}.Value`) ?? ''
      if (key === '' || key.length > 128)
        throw invalid(`Tag key '${key}' must be 1 to 128 characters.`)
      if (key.toLowerCase().startsWith('aws:'))
        throw invalid(`Tag keys starting with 'aws:' are reserved for internal use`)
      if (value.length > 256) throw invalid(`Tag value for key '${key}' exceeds 256 characters.`)
      if (resourceType === 'instance') tags[key] = value
    }
  }
  return tags
}

/** The base64 UserData, decoded; EC2 refuses what is not strict base64 or too large. */
function userData(params: URLSearchParams): Buffer | undefined {
  const raw = params.get('UserData')
  if (raw === null || raw === '') return undefined
  if (raw.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(raw)) {
    throw invalid('Invalid BASE64 encoding of user data.')
  }
  const decoded = Buffer.from(raw, 'base64')
  if (decoded.length > USER_DATA_LIMIT) {
    throw invalid(`User data is limited to ${USER_DATA_LIMIT} bytes`)
  }
  return decoded
}

/** RunInstances' checks, in EC2's order. */
export function parseRunInstances(params: URLSearchParams, accountId: string): LaunchRequest {
  const imageId = params.get('ImageId')
  if (imageId === null || imageId === '') throw missing('ImageId')
  if (!/^ami-[0-9a-z]{8,17}$/.test(imageId)) {
    throw new ServiceError(
      'InvalidAMIID.Malformed',
      `Invalid id: "${imageId}" (expecting "ami-...")`,
    )
  }
  const minCount = count(params, 'MinCount')
  const maxCount = count(params, 'MaxCount')
  if (minCount > maxCount) {
    throw invalid(
      `Value (${maxCount}) for parameter maxCount is invalid. Expecting a value greater than or equal to minCount (${minCount}).`,
    )
  }
  const instanceType = params.get('InstanceType') ?? undefined
  if (instanceType !== undefined && !/^[a-z][a-z0-9-]*\.[a-z0-9-]+$/.test(instanceType)) {
    throw invalid(`Invalid value '${instanceType}' for InstanceType.`)
  }
  const profileArn = params.get('IamInstanceProfile.Arn')
  const profileName = params.get('IamInstanceProfile.Name')
  return {
    imageId,
    minCount,
    maxCount,
    instanceType,
    tags: instanceTags(params),
    userData: userData(params),
    iamInstanceProfileArn:
      profileArn ??
      (profileName === null
        ? undefined
        : `arn:aws:iam::${accountId}:instance-profile/${profileName}`),
  }
}

/** The RunInstances and TerminateInstances operations of the EC2 front end. */
export function launchOperations(
  launcher: Launcher,
  fleet: Fleet,
  accountId: string,
): Record<string, Ec2Operation> {
  return {
    RunInstances: (params, requestId) => {
      const instances = launcher.launch(parseRunInstances(params, accountId))
      const reservationId = (instances[0] as SandboxInstance).reservation?.id ?? ''
      return responseXml(
        'RunInstances',
        requestId,
        `${element('reservationId', reservationId)}${element('ownerId', accountId)}<groupSet/>` +
          `<instancesSet>${instances.map(instance => instanceXml(instance, accountId)).join('')}</instancesSet>`,
      )
    },
    TerminateInstances: (params, requestId) => {
      const ids = [...numbered(params, 'InstanceId').values()]
      if (ids.length === 0) throw missing('InstanceId')
      checkInstanceIds(fleet, ids)
      const changes = launcher.terminate([...new Set(ids)].map(id => fleet.require(id)))
      const items = changes.map(
        ({ instance, previous }) =>
          `<item>${element('instanceId', instance.id)}${stateXml('currentState', instance.state)}${stateXml('previousState', previous)}</item>`,
      )
      return responseXml(
        'TerminateInstances',
        requestId,
        `<instancesSet>${items.join('')}</instancesSet>`,
      )
    },
  }
}
