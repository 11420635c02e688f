/**
 * SSM's wire checks: what a request must be before anything happens, answered with SSM's own
 * errors and words (ValidationException's "1 validation error detected…", InvalidInstanceId,
 * InvalidNextToken…). Among them: at most 50 instance ids in one call, MaxConcurrency and
 * MaxErrors patterns, AWS-RunShellScript's parameters, command ids, filters and pagination.
 */
import { type Fleet, isInstanceId, type SandboxInstance } from './instances.js'
import { decodeToken, encodeToken, ServiceError } from './protocol.js'
import { type CommandOutputOptions, type Json, RUN_SHELL_SCRIPT } from './ssm-records.js'

const MAX_CONCURRENCY = /^([1-9][0-9]*|[1-9][0-9]%|[1-9]%|100%)$/
const MAX_ERRORS = /^([1-9][0-9]*|[0]|[1-9][0-9]%|[0-9]%|100%)$/
/** AWS-RunShellScript's executionTimeout: whole seconds from 1 to 172800 (48 hours). */
const EXECUTION_TIMEOUT = /^[1-9][0-9]{0,5}$/
const COMMAND_ID = /^[0-9a-f-]{36}$/

export function validation(field: string, value: unknown, constraint: string): ServiceError {
  const shown = Array.isArray(value) ? `[${value.join(', ')}]` : String(value)
  return new ServiceError(
    'ValidationException',
    `1 validation error detected: Value '${shown}' at '${field}' failed to satisfy constraint: ${constraint}`,
  )
}

/** SSM takes at most 50 instance ids in one call (more need Targets). */
export function checkInstanceIdCount(instanceIds: readonly string[]): void {
  if (instanceIds.length > 50) {
    throw validation('instanceIds', instanceIds, 'Member must have length less than or equal to 50')
  }
}

function wrongType(field: string, expected: string): ServiceError {
  return new ServiceError('SerializationException', `${field}: expected ${expected}`)
}

export function optionalString(input: Json, field: string): string | undefined {
  const value = input[field]
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'string') throw wrongType(field, 'a string')
  return value
}

export function optionalInteger(input: Json, field: string): number | undefined {
  const value = input[field]
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'number' || !Number.isInteger(value)) throw wrongType(field, 'an integer')
  return value
}

export function optionalStringList(input: Json, field: string): string[] | undefined {
  const value = input[field]
  if (value === undefined || value === null) return undefined
  if (!Array.isArray(value) || value.some(item => typeof item !== 'string')) {
    throw wrongType(field, 'a list of strings')
  }
  return value as string[]
}

export function optionalList(input: Json, field: string): Json[] | undefined {
  const value = input[field]
  if (value === undefined || value === null) return undefined
  if (!Array.isArray(value) || value.some(item => typeof item !== 'object' || item === null)) {
    throw wrongType(field, 'a list of structures')
  }
  return value as Json[]
}

/** `value`, when `pattern` matches it. */
function matching(field: string, value: string, pattern: RegExp): string {
  if (!pattern.test(value)) {
    throw validation(
      field,
      value,
      `Member must satisfy regular expression pattern: ${pattern.source}`,
    )
  }
  return value
}

/** A required field that is missing. */
export function required(field: string): ServiceError {
  return validation(field, 'null', 'Member must not be null')
}

/** A SendCommand request that passed SSM's checks (before its targets are looked up). */
export interface SendCommandRequest {
  documentName: string
  instanceIds: string[]
  targets: { Key: string; Values: string[] }[]
  comment: string
  timeoutSeconds: number
  maxConcurrency: string
  maxErrors: string
  parameters: Record<string, string[]>
  commands: string[]
  executionTimeoutSeconds: number
  workingDirectory: string
}

/** SendCommand's checks, in SSM's order. */
export function readSendCommand(input: Json): SendCommandRequest {
  const documentName = optionalString(input, 'DocumentName')
  if (documentName === undefined) throw required('documentName')
  if (
    documentName !== RUN_SHELL_SCRIPT &&
    !documentName.endsWith(`:document/${RUN_SHELL_SCRIPT}`)
  ) {
    throw new ServiceError('InvalidDocument', `Document with name ${documentName} does not exist.`)
  }
  const instanceIds = optionalStringList(input, 'InstanceIds') ?? []
  const targetsInput = optionalList(input, 'Targets') ?? []
  checkInstanceIdCount(instanceIds)
  if (targetsInput.length > 5) {
    throw validation(
      'targets',
      targetsInput.map(t => JSON.stringify(t)),
      'Member must have length less than or equal to 5',
    )
  }
  if (instanceIds.length === 0 && targetsInput.length === 0) {
    throw new ServiceError(
      'ValidationException',
      'Either InstanceIds or Targets must be specified.',
    )
  }
  if (instanceIds.length > 0 && targetsInput.length > 0) {
    throw new ServiceError(
      'ValidationException',
      'InstanceIds and Targets cannot both be specified.',
    )
  }
  const targets = targetsInput.map((target, index) => {
    const key = optionalString(target, 'Key')
    const values = optionalStringList(target, 'Values') ?? []
    if (key === undefined) throw required(`targets.${index + 1}.member.key`)
    if (values.length > 50) {
      throw validation(
        `targets.${index + 1}.member.values`,
        values,
        'Member must have length less than or equal to 50',
      )
    }
    return { Key: key, Values: values }
  })
  const comment = optionalString(input, 'Comment') ?? ''
  if (comment.length > 100)
    throw validation('comment', comment, 'Member must have length less than or equal to 100')
  const timeoutSeconds = optionalInteger(input, 'TimeoutSeconds') ?? 3600
  if (timeoutSeconds < 30)
    throw validation(
      'timeoutSeconds',
      timeoutSeconds,
      'Member must have value greater than or equal to 30',
    )
  if (timeoutSeconds > 2592000) {
    throw validation(
      'timeoutSeconds',
      timeoutSeconds,
      'Member must have value less than or equal to 2592000',
    )
  }
  const maxConcurrency = matching(
    'maxConcurrency',
    optionalString(input, 'MaxConcurrency') ?? '50',
    MAX_CONCURRENCY,
  )
  const maxErrors = matching('maxErrors', optionalString(input, 'MaxErrors') ?? '0', MAX_ERRORS)
  const parameters = readParameters(input)
  return {
    documentName,
    instanceIds,
    targets,
    comment,
    timeoutSeconds,
    maxConcurrency,
    maxErrors,
    parameters,
    commands: parameters.commands ?? [],
    executionTimeoutSeconds: Number(parameters.executionTimeout?.[0] ?? '3600'),
    workingDirectory: parameters.workingDirectory?.[0] ?? '',
  }
}

/** AWS-RunShellScript's parameters: `commands`, and one `workingDirectory` and `executionTimeout`. */
function readParameters(input: Json): Record<string, string[]> {
  const raw = input.Parameters
  if (raw === undefined || raw === null) {
    throw new ServiceError('InvalidParameters', 'Parameters required for the document: commands')
  }
  if (typeof raw !== 'object' || Array.isArray(raw)) throw wrongType('Parameters', 'a map')
  const parameters: Record<string, string[]> = {}
  for (const [name, value] of Object.entries(raw as Json)) {
    if (!Array.isArray(value) || value.some(item => typeof item !== 'string')) {
      throw wrongType(`Parameters.${name}`, 'a list of strings')
    }
    if (!['commands', 'workingDirectory', 'executionTimeout'].includes(name)) {
      throw new ServiceError(
        'InvalidParameters',
        `Parameter "${name}" is not a parameter of ${RUN_SHELL_SCRIPT}.`,
      )
    }
    parameters[name] = value as string[]
  }
  if (!parameters.commands || parameters.commands.length === 0) {
    throw new ServiceError('InvalidParameters', 'Parameters required for the document: commands')
  }
  for (const name of ['executionTimeout', 'workingDirectory']) {
    if ((parameters[name]?.length ?? 0) > 1) {
      throw new ServiceError('InvalidParameters', `Parameter "${name}" takes a single value.`)
    }
  }
  const timeout = parameters.executionTimeout?.[0]
  if (timeout !== undefined && !(EXECUTION_TIMEOUT.test(timeout) && Number(timeout) <= 172800)) {
    throw new ServiceError(
      'InvalidParameters',
      `Parameter "executionTimeout" "${timeout}" does not match the allowed pattern: a number of seconds from 1 to 172800.`,
    )
  }
  return parameters
}

/** SendCommand's document version and output options (read once its targets are known). */
export function readCommandOptions(
  input: Json,
  region: string,
): { documentVersion: string; output: CommandOutputOptions } {
  const documentVersion = optionalString(input, 'DocumentVersion') ?? '$DEFAULT'
  const cloudWatch = input.CloudWatchOutputConfig as Json | undefined
  const notification = input.NotificationConfig as Json | undefined
  return {
    documentVersion,
    output: {
      OutputS3Region: optionalString(input, 'OutputS3Region') ?? region,
      OutputS3BucketName: optionalString(input, 'OutputS3BucketName') ?? '',
      OutputS3KeyPrefix: optionalString(input, 'OutputS3KeyPrefix') ?? '',
      CloudWatchOutputConfig: {
        CloudWatchLogGroupName:
          typeof cloudWatch?.CloudWatchLogGroupName === 'string'
            ? cloudWatch.CloudWatchLogGroupName
            : '',
        CloudWatchOutputEnabled: cloudWatch?.CloudWatchOutputEnabled === true,
      },
      ServiceRole: optionalString(input, 'ServiceRoleArn') ?? '',
      NotificationConfig: {
        NotificationArn:
          typeof notification?.NotificationArn === 'string' ? notification.NotificationArn : '',
        NotificationEvents: Array.isArray(notification?.NotificationEvents)
          ? (notification.NotificationEvents as string[])
          : [],
        NotificationType:
          typeof notification?.NotificationType === 'string' ? notification.NotificationType : '',
      },
    },
  }
}

/** The instances of InstanceIds: each must be a managed, not terminated instance. */
export function resolveInstanceIds(
  fleet: Fleet,
  ids: readonly string[],
  accountId: string,
): SandboxInstance[] {
  const unique = [...new Set(ids)]
  const invalid = unique.filter(id => {
    const instance = isInstanceId(id) ? fleet.get(id) : undefined
    return !instance || !instance.ssmManaged || instance.state === 'terminated'
  })
  if (invalid.length > 0) {
    throw new ServiceError(
      'InvalidInstanceId',
      `Instances [[${invalid.join(', ')}]] not in a valid state for account ${accountId}`,
    )
  }
  return unique.map(id => fleet.get(id) as SandboxInstance)
}

/** The managed instances every target matches (`InstanceIds`, `tag-key`, `tag:KEY`). */
export function resolveTargets(
  fleet: Fleet,
  targets: readonly { Key: string; Values: string[] }[],
): SandboxInstance[] {
  for (const target of targets) {
    if (
      target.Key !== 'InstanceIds' &&
      target.Key !== 'tag-key' &&
      !target.Key.startsWith('tag:')
    ) {
      throw new ServiceError('InvalidTarget', `Target key ${target.Key} is not supported.`)
    }
  }
  return fleet
    .list()
    .filter(instance => instance.ssmManaged && instance.state !== 'terminated')
    .filter(instance =>
      targets.every(target => {
        if (target.Key === 'InstanceIds')
          return target.Values.includes('*') || target.Values.includes(instance.id)
        if (target.Key === 'tag-key') return target.Values.some(key => instance.tags.has(key))
        const value = instance.tags.get(target.Key.slice('tag:'.length))
        return value !== undefined && target.Values.includes(value)
      }),
    )
}

export function checkCommandId(commandId: string): void {
  if (commandId.length !== 36) {
    throw validation(
      'commandId',
      commandId,
      commandId.length < 36
        ? 'Member must have length greater than or equal to 36'
        : 'Member must have length less than or equal to 36',
    )
  }
  if (!COMMAND_ID.test(commandId)) throw new ServiceError('InvalidCommandId', '')
}

/** ListCommands' and ListCommandInvocations' `Filters`, keys among `allowed`. */
export function readCommandFilters(
  input: Json,
  allowed: readonly string[],
): { key: string; value: string }[] {
  const filters = optionalList(input, 'Filters') ?? []
  return filters.map(filter => {
    const key = optionalString(filter, 'key')
    const value = optionalString(filter, 'value')
    if (key === undefined || !allowed.includes(key)) throw new ServiceError('InvalidFilterKey', '')
    if (value === undefined) throw required('filters.member.value')
    return { key, value }
  })
}

/** Whether `at` passes an InvokedAfter / InvokedBefore filter (checked when first applied). */
export function timeFilter(key: string, value: string, at: Date): boolean {
  const bound = Date.parse(value)
  if (Number.isNaN(bound))
    throw new ServiceError('InvalidFilterValue', `${key} value ${value} is not a timestamp.`)
  return key === 'InvokedAfter' ? at.getTime() >= bound : at.getTime() <= bound
}

/** One condition of DescribeInstanceInformation. */
export interface InstanceCondition {
  key: string
  values: string[]
}

/** DescribeInstanceInformation's checks: MaxResults and its two kinds of filter. */
export function readInstanceInformationFilters(input: Json): InstanceCondition[] {
  const legacy = optionalList(input, 'InstanceInformationFilterList')
  const filters = optionalList(input, 'Filters')
  if (legacy && filters) {
    throw new ServiceError(
      'InvalidFilterKey',
      'InstanceInformationFilterList and Filters cannot be used together.',
    )
  }
  const maxResults = optionalInteger(input, 'MaxResults')
  if (maxResults !== undefined && (maxResults < 5 || maxResults > 50)) {
    throw validation(
      'maxResults',
      maxResults,
      maxResults < 5
        ? 'Member must have value greater than or equal to 5'
        : 'Member must have value less than or equal to 50',
    )
  }
  const conditions: InstanceCondition[] = []
  for (const filter of legacy ?? []) {
    const key = optionalString(filter, 'key')
    const values = optionalStringList(filter, 'valueSet') ?? []
    if (
      key === undefined ||
      !['InstanceIds', 'AgentVersion', 'PingStatus', 'PlatformTypes', 'ResourceType'].includes(key)
    ) {
      throw new ServiceError(
        'InvalidInstanceInformationFilterValue',
        `The filter key ${String(key)} is not supported.`,
      )
    }
    conditions.push({ key, values })
  }
  for (const filter of filters ?? []) {
    const key = optionalString(filter, 'Key')
    const values = optionalStringList(filter, 'Values') ?? []
    const known = [
      'InstanceIds',
      'AgentVersion',
      'PingStatus',
      'PlatformTypes',
      'ResourceType',
      'tag-key',
    ]
    if (key === undefined || !(known.includes(key) || key.startsWith('tag:'))) {
      throw new ServiceError('InvalidFilterKey', `The filter key ${String(key)} is not valid.`)
    }
    conditions.push({ key, values })
  }
  return conditions
}

/**
 * One page of a listing: MaxResults within SSM's bounds (1–50, 5–50 for
 * DescribeInstanceInformation), NextToken as this listing issued it.
 */
export function paginate<T>(input: Json, listing: string, items: readonly T[], defaultMax: number) {
  const maxResults = optionalInteger(input, 'MaxResults') ?? defaultMax
  const limitLow = listing === 'DescribeInstanceInformation' ? 5 : 1
  if (maxResults < limitLow) {
    throw validation(
      'maxResults',
      maxResults,
      `Member must have value greater than or equal to ${limitLow}`,
    )
  }
  if (maxResults > 50)
    throw validation('maxResults', maxResults, 'Member must have value less than or equal to 50')
  const token = optionalString(input, 'NextToken')
  let offset = 0
  if (token !== undefined) {
    const decoded = decodeToken(token, listing)
    if (decoded === undefined)
      throw new ServiceError('InvalidNextToken', 'The specified token is not valid.')
    offset = decoded
  }
  const end = offset + maxResults
  return {
    items: items.slice(offset, end),
    next: end < items.length ? { NextToken: encodeToken(listing, end) } : {},
  }
}
