/**
 * SSM State Manager, as far as the suite's scale-out needs it: associations of
 * AWS-RunShellScript with Targets (tags, instance ids) or an InstanceId, applied when created
 * (unless ApplyOnlyAtCronInterval), on StartAssociationsOnce, and to each new instance that
 * matches when its agent comes online. Each application is an execution: one command, sent
 * through the Run Command scheduler and run by the same agents, to the targets whose agent is
 * Online then (offline ones are skipped). Its invocations are the execution's targets; their
 * output is the command's (OutputSourceId). ScheduleExpression is checked and recorded only:
 * the sandbox runs no schedule.
 */
import { randomUUID } from 'node:crypto'
import type { Fleet, SandboxInstance } from './instances.js'
import { ServiceError } from './protocol.js'
import { epochSeconds, pluginStatus } from './ssm-answers.js'
import { type CommandRecord, type InvocationStatus, type Json, TERMINAL } from './ssm-records.js'
import {
  optionalList,
  optionalString,
  optionalStringList,
  paginate,
  readCommandOptions,
  readSendCommand,
  required,
  resolveInstanceIds,
  resolveTargets,
  type SendCommandRequest,
  validation,
} from './ssm-requests.js'
import type { CommandScheduler } from './ssm-scheduler.js'

const ASSOCIATION_ID =
  /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/
const ASSOCIATION_NAME = /^[a-zA-Z0-9_\-.]{3,128}$/
const SCHEDULE =
  /^(rate\([1-9][0-9]* (minute|minutes|hour|hours|day|days)\)|cron\([^()]+\)|at\([^()]+\))$/

/** One application of an association: a command to the targets online then. */
export interface AssociationExecution {
  readonly id: string
  readonly createdAt: Date
  readonly command: CommandRecord
}

/** One association. */
export interface AssociationRecord {
  readonly id: string
  readonly associationName: string | undefined
  readonly documentName: string
  /** The legacy single target (`InstanceId`), else undefined. */
  readonly instanceId: string | undefined
  /** Its targets; an InstanceId association's are `InstanceIds = [id]`. */
  readonly targets: readonly { Key: string; Values: string[] }[]
  readonly scheduleExpression: string | undefined
  readonly applyOnlyAtCronInterval: boolean
  readonly maxConcurrency: string | undefined
  readonly maxErrors: string | undefined
  readonly outputLocation: Json | undefined
  readonly createdAt: Date
  readonly request: SendCommandRequest
  /** Oldest first. */
  readonly executions: AssociationExecution[]
}

function doesNotExist(): ServiceError {
  return new ServiceError('AssociationDoesNotExist', 'The specified association does not exist.')
}

/** `value` when `pattern` matches it, else SSM's ValidationException for `field`. */
function checked(field: string, value: string, pattern: RegExp): string {
  if (!pattern.test(value))
    throw validation(
      field,
      value,
      `Member must satisfy regular expression pattern: ${pattern.source}`,
    )
  return value
}

/** `value` when it is one of `allowed`, else SSM's enum ValidationException for `field`. */
function member(field: string, value: string | undefined, allowed: readonly string[]): string {
  if (value === undefined || !allowed.includes(value)) {
    const constraint = `Member must satisfy enum value set: [${allowed.join(', ')}]`
    throw validation(field, String(value), constraint)
  }
  return value
}

/** A `Filters` list of `{Key, Value}`, with a `Type` among `types` when they are given. */
function readFilters(input: Json, keys: readonly string[], types?: readonly string[]) {
  return (optionalList(input, 'Filters') ?? []).map(filter => {
    const key = member('filters.member.key', optionalString(filter, 'Key'), keys)
    const value = optionalString(filter, 'Value')
    if (value === undefined) throw required('filters.member.value')
    const type = types
      ? member('filters.member.type', optionalString(filter, 'Type'), types)
      : 'EQUAL'
    return { key, value, type }
  })
}

/** SSM's status of a finished or running set of invocations. */
function summaryStatus(
  statuses: readonly string[],
): 'Pending' | 'InProgress' | 'Success' | 'Failed' {
  if (statuses.length === 0) return 'Pending'
  if (statuses.every(status => status === 'Pending')) return 'Pending'
  if (statuses.some(status => !TERMINAL.has(status as InvocationStatus))) return 'InProgress'
  return statuses.every(status => status === 'Success') ? 'Success' : 'Failed'
}

/** `{Failed=1, Success=2}`: how SSM counts an execution's targets by status. */
function countByStatus(statuses: readonly string[]): string {
  const counts = new Map<string, number>()
  for (const status of statuses) counts.set(status, (counts.get(status) ?? 0) + 1)
  const parts = [...counts].sort(([a], [b]) => a.localeCompare(b))
  return `{${parts.map(([status, n]) => `${status}=${n}`).join(', ')}}`
}

/** State Manager over one fleet; its executions run through `scheduler`. */
export class StateManager {
  private readonly associations = new Map<string, AssociationRecord>()

  constructor(
    private readonly fleet: Fleet,
    private readonly scheduler: CommandScheduler,
    private readonly settings: { region: string; accountId: string },
  ) {}

  /** Every association, oldest first. */
  all(): AssociationRecord[] {
    return [...this.associations.values()]
  }

  /** An association by id. */
  get(associationId: string): AssociationRecord | undefined {
    return this.associations.get(associationId)
  }

  /** A new instance's agent came online: each association that targets it is applied to it. */
  instanceOnline(instance: SandboxInstance): void {
    if (!instance.agentOnline) return
    for (const association of this.associations.values()) {
      if (resolveTargets(this.fleet, association.targets).includes(instance))
        this.execute(association, [instance])
    }
  }

  /** CreateAssociation. */
  createAssociation(input: Json): Json {
    const documentName = optionalString(input, 'Name')
    if (documentName === undefined) throw required('name')
    const instanceId = optionalString(input, 'InstanceId')
    const targetsInput = optionalList(input, 'Targets')
    if (instanceId !== undefined && targetsInput !== undefined) {
      throw new ServiceError(
        'InvalidTarget',
        'InstanceId and Targets cannot both be specified for an association.',
      )
    }
    const maxConcurrency = optionalString(input, 'MaxConcurrency')
    const maxErrors = optionalString(input, 'MaxErrors')
    // The document, its parameters, the targets and the rate controls pass SendCommand's checks.
    const request = readSendCommand({
      DocumentName: documentName,
      ...(instanceId !== undefined ? { InstanceIds: [instanceId] } : { Targets: targetsInput }),
      Parameters: input.Parameters ?? null,
      MaxConcurrency: maxConcurrency ?? '100%',
      MaxErrors: maxErrors ?? '100%',
    })
    const targets =
      instanceId !== undefined ? [{ Key: 'InstanceIds', Values: [instanceId] }] : request.targets
    if (instanceId !== undefined)
      resolveInstanceIds(this.fleet, [instanceId], this.settings.accountId)
    else resolveTargets(this.fleet, targets)
    const scheduleExpression = optionalString(input, 'ScheduleExpression')
    if (scheduleExpression !== undefined && !SCHEDULE.test(scheduleExpression)) {
      throw new ServiceError(
        'InvalidSchedule',
        `Schedule expression ${scheduleExpression} is not valid.`,
      )
    }
    const associationName = optionalString(input, 'AssociationName')
    if (associationName !== undefined) checked('associationName', associationName, ASSOCIATION_NAME)
    const location = input.OutputLocation as Json | undefined
    const association: AssociationRecord = {
      id: randomUUID(),
      associationName,
      documentName,
      instanceId,
      targets,
      scheduleExpression,
      applyOnlyAtCronInterval: input.ApplyOnlyAtCronInterval === true,
      maxConcurrency,
      maxErrors,
      outputLocation: location,
      createdAt: new Date(),
      request,
      executions: [],
    }
    this.associations.set(association.id, association)
    if (!association.applyOnlyAtCronInterval)
      this.execute(association, this.onlineTargets(association))
    return { AssociationDescription: this.describe(association) }
  }

  /** DescribeAssociation: by AssociationId, or by Name and InstanceId. */
  describeAssociation(input: Json): Json {
    return { AssociationDescription: this.describe(this.find(input)) }
  }

  /** ListAssociations, filtered by Name, AssociationId, AssociationName, InstanceId or status. */
  listAssociations(input: Json): Json {
    const filters = (optionalList(input, 'AssociationFilterList') ?? []).map(filter => {
      const key = optionalString(filter, 'key')
      const value = optionalString(filter, 'value')
      const known = [
        'Name',
        'AssociationId',
        'AssociationName',
        'InstanceId',
        'AssociationStatusName',
      ]
      if (key === undefined || !known.includes(key))
        throw new ServiceError('InvalidFilterKey', `The filter key ${String(key)} is not valid.`)
      if (value === undefined) throw required('associationFilterList.member.value')
      return { key, value }
    })
    const matching = this.all().filter(association =>
      filters.every(({ key, value }) => {
        if (key === 'Name') return association.documentName === value
        if (key === 'AssociationId') return association.id === value
        if (key === 'AssociationName') return association.associationName === value
        if (key === 'AssociationStatusName') return this.overview(association).Status === value
        const instance = this.fleet.get(value)
        return (
          instance !== undefined &&
          resolveTargets(this.fleet, association.targets).includes(instance)
        )
      }),
    )
    const page = paginate(input, 'ListAssociations', matching, 50)
    return {
      Associations: page.items.map(association => ({
        Name: association.documentName,
        ...(association.instanceId !== undefined ? { InstanceId: association.instanceId } : {}),
        AssociationId: association.id,
        AssociationVersion: '1',
        DocumentVersion: '$DEFAULT',
        Targets: association.targets,
        Overview: this.overview(association),
        ...this.lastExecutionDates(association),
        ...(association.scheduleExpression !== undefined
          ? { ScheduleExpression: association.scheduleExpression }
          : {}),
        ...(association.associationName !== undefined
          ? { AssociationName: association.associationName }
          : {}),
      })),
      ...page.next,
    }
  }

  /** StartAssociationsOnce: each association applied now to its targets online. */
  startAssociationsOnce(input: Json): Json {
    const ids = optionalStringList(input, 'AssociationIds')
    if (ids === undefined) throw required('associationIds')
    if (ids.length === 0 || ids.length > 10) {
      throw validation(
        'associationIds',
        ids,
        ids.length === 0
          ? 'Member must have length greater than or equal to 1'
          : 'Member must have length less than or equal to 10',
      )
    }
    const associations = ids.map(id => this.byId(id))
    for (const association of associations)
      this.execute(association, this.onlineTargets(association))
    return {}
  }

  /** DescribeAssociationExecutions, newest first. */
  describeAssociationExecutions(input: Json): Json {
    const association = this.byId(this.requiredId(input))
    const filters = readFilters(
      input,
      ['ExecutionId', 'Status', 'CreatedTime'],
      ['EQUAL', 'LESS_THAN', 'GREATER_THAN'],
    )
    const executions = [...association.executions].reverse().filter(execution =>
      filters.every(({ key, value, type }) => {
        if (key === 'ExecutionId') return execution.id === value
        if (key === 'Status') return this.executionStatus(execution) === value
        const bound = Date.parse(value)
        if (Number.isNaN(bound))
          throw new ServiceError(
            'InvalidFilterValue',
            `CreatedTime value ${value} is not a timestamp.`,
          )
        const at = execution.createdAt.getTime()
        return type === 'LESS_THAN'
          ? at < bound
          : type === 'GREATER_THAN'
            ? at > bound
            : at === bound
      }),
    )
    const page = paginate(input, `DescribeAssociationExecutions:${association.id}`, executions, 50)
    return {
      AssociationExecutions: page.items.map(execution => {
        const statuses = this.targetStatuses(execution)
        const status = this.executionStatus(execution)
        const ended = execution.command.completedAt
        return {
          AssociationId: association.id,
          AssociationVersion: '1',
          ExecutionId: execution.id,
          Status: status,
          DetailedStatus: status,
          CreatedTime: epochSeconds(execution.createdAt),
          ...(ended ? { LastExecutionDate: epochSeconds(ended) } : {}),
          ResourceCountByStatus: countByStatus(statuses),
        }
      }),
      ...page.next,
    }
  }

  /** DescribeAssociationExecutionTargets: one entry per instance of the execution. */
  describeAssociationExecutionTargets(input: Json): Json {
    const association = this.byId(this.requiredId(input))
    const executionId = optionalString(input, 'ExecutionId')
    if (executionId === undefined) throw required('executionId')
    const execution = association.executions.find(candidate => candidate.id === executionId)
    if (!execution) {
      throw new ServiceError(
        'AssociationExecutionDoesNotExist',
        `Association execution ${executionId} does not exist.`,
      )
    }
    const filters = readFilters(input, ['Status', 'ResourceId', 'ResourceType'])
    const targets = execution.command.invocations
      .map(invocation => ({
        AssociationId: association.id,
        AssociationVersion: '1',
        ExecutionId: execution.id,
        ResourceId: invocation.instance.id,
        ResourceType: 'ManagedInstance',
        Status: pluginStatus(invocation.status),
        DetailedStatus: invocation.statusDetails,
        LastExecutionDate: epochSeconds(invocation.endedAt ?? execution.createdAt),
        OutputSource: { OutputSourceId: execution.command.id, OutputSourceType: 'RunCommand' },
      }))
      .filter(target =>
        filters.every(
          ({ key, value }) => target[key as 'Status' | 'ResourceId' | 'ResourceType'] === value,
        ),
      )
    const page = paginate(input, `DescribeAssociationExecutionTargets:${execution.id}`, targets, 50)
    return { AssociationExecutionTargets: page.items, ...page.next }
  }

  /** DeleteAssociation: it is no longer applied; commands already sent run on. */
  deleteAssociation(input: Json): Json {
    this.associations.delete(this.find(input).id)
    return {}
  }

  private requiredId(input: Json): string {
    const id = optionalString(input, 'AssociationId')
    if (id === undefined) throw required('associationId')
    return id
  }

  private byId(id: string): AssociationRecord {
    checked('associationId', id, ASSOCIATION_ID)
    const association = this.associations.get(id)
    if (!association) throw doesNotExist()
    return association
  }

  /** The association an AssociationId, or a Name with an InstanceId, names. */
  private find(input: Json): AssociationRecord {
    const id = optionalString(input, 'AssociationId')
    if (id !== undefined) return this.byId(id)
    const name = optionalString(input, 'Name')
    const instanceId = optionalString(input, 'InstanceId')
    if (name === undefined || instanceId === undefined) {
      throw new ServiceError(
        'ValidationException',
        'Either AssociationId, or both Name and InstanceId, must be specified.',
      )
    }
    const found = this.all().find(a => a.documentName === name && a.instanceId === instanceId)
    if (!found) throw doesNotExist()
    return found
  }

  private onlineTargets(association: AssociationRecord): SandboxInstance[] {
    return resolveTargets(this.fleet, association.targets).filter(instance => instance.agentOnline)
  }

  /** Applies the association to `instances` now (nothing when there are none). */
  private execute(association: AssociationRecord, instances: readonly SandboxInstance[]): void {
    if (instances.length === 0) return
    const location = (association.outputLocation?.S3Location ?? {}) as Json
    const { documentVersion, output } = readCommandOptions(location, this.settings.region)
    const command = this.scheduler.send(
      { ...association.request, instanceIds: instances.map(instance => instance.id), targets: [] },
      { documentVersion, output },
      instances,
      association.id,
    )
    association.executions.push({ id: randomUUID(), createdAt: command.requestedAt, command })
  }

  private targetStatuses(execution: AssociationExecution): string[] {
    return execution.command.invocations.map(invocation => pluginStatus(invocation.status))
  }

  private executionStatus(execution: AssociationExecution): string {
    return summaryStatus(this.targetStatuses(execution))
  }

  /** The association's status over each target's latest result. */
  private overview(association: AssociationRecord): Json {
    const latest = new Map<string, string>()
    for (const execution of association.executions)
      for (const invocation of execution.command.invocations)
        latest.set(invocation.instance.id, pluginStatus(invocation.status))
    const statuses = [...latest.values()]
    const detailed = summaryStatus(statuses)
    const counts: Record<string, number> = {}
    for (const status of statuses) counts[status] = (counts[status] ?? 0) + 1
    return {
      Status: detailed === 'InProgress' ? 'Pending' : detailed,
      DetailedStatus: detailed,
      AssociationStatusAggregatedCount: counts,
    }
  }

  private lastExecutionDates(association: AssociationRecord): Json {
    const ended = association.executions.filter(execution => execution.command.completedAt)
    const last = ended.at(-1)
    const lastSuccess = ended
      .filter(execution => this.executionStatus(execution) === 'Success')
      .at(-1)
    return {
      ...(last?.command.completedAt
        ? { LastExecutionDate: epochSeconds(last.command.completedAt) }
        : {}),
      ...(lastSuccess?.command.completedAt
        ? { LastSuccessfulExecutionDate: epochSeconds(lastSuccess.command.completedAt) }
        : {}),
    }
  }

  private describe(association: AssociationRecord): Json {
    const overview = this.overview(association)
    return {
      Name: association.documentName,
      ...(association.instanceId !== undefined ? { InstanceId: association.instanceId } : {}),
      AssociationVersion: '1',
      Date: epochSeconds(association.createdAt),
      LastUpdateAssociationDate: epochSeconds(association.createdAt),
      Status: {
        Date: epochSeconds(association.executions.at(-1)?.createdAt ?? association.createdAt),
        Name: overview.Status,
        Message: `Association ${String(overview.DetailedStatus).toLowerCase()}`,
      },
      Overview: overview,
      DocumentVersion: '$DEFAULT',
      Parameters: association.request.parameters,
      AssociationId: association.id,
      Targets: association.targets,
      ...(association.scheduleExpression !== undefined
        ? { ScheduleExpression: association.scheduleExpression }
        : {}),
      ...(association.outputLocation !== undefined
        ? { OutputLocation: association.outputLocation }
        : {}),
      ...this.lastExecutionDates(association),
      ...(association.associationName !== undefined
        ? { AssociationName: association.associationName }
        : {}),
      ...(association.maxConcurrency !== undefined
        ? { MaxConcurrency: association.maxConcurrency }
        : {}),
      ...(association.maxErrors !== undefined ? { MaxErrors: association.maxErrors } : {}),
      ApplyOnlyAtCronInterval: association.applyOnlyAtCronInterval,
    }
  }
}
