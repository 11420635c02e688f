/**
 * SSM Run Command as the suite uses it: SendCommand (AWS-RunShellScript), ListCommands,
 * ListCommandInvocations, GetCommandInvocation, DescribeInstanceInformation and
 * CancelCommand, over the JSON 1.1 protocol; State Manager's associations beside it
 * (ssm-associations.ts). Each operation checks the request
 * (ssm-requests.ts), acts through the scheduler (ssm-scheduler.ts: MaxConcurrency, MaxErrors,
 * delivery, expiry, cancel) whose agents really run the commands on the sandbox's instances
 * (agent.ts), and shapes the answer (ssm-answers.ts).
 */
import type { IncomingMessage } from 'node:http'
import type { AgentSettings } from './agent.js'
import type { Fleet } from './instances.js'
import { ServiceError, type ServiceFrontEnd, type WireResponse } from './protocol.js'
import {
  commandStatus,
  commandStatusMatches,
  describeCommand,
  describeInvocation,
  instanceInformation,
  invocationResult,
  invocationStatusMatches,
} from './ssm-answers.js'
import { type CommandRecord, type CommandStatus, type Json, PLUGIN_NAME } from './ssm-records.js'
import {
  checkCommandId,
  checkInstanceIdCount,
  optionalString,
  optionalStringList,
  paginate,
  readCommandFilters,
  readCommandOptions,
  readInstanceInformationFilters,
  readSendCommand,
  required,
  resolveInstanceIds,
  resolveTargets,
  timeFilter,
} from './ssm-requests.js'
import { StateManager } from './ssm-associations.js'
import { CommandScheduler, type SchedulerSettings } from './ssm-scheduler.js'

/** Settings of the SSM simulation; all can be changed while the sandbox runs. */
export interface SsmSettings extends SchedulerSettings, AgentSettings {
  region: string
  accountId: string
}

/** One CancelCommand call the sandbox received. */
export interface CancelRecord {
  commandId: string
  instanceIds: string[]
  at: Date
}

const COMMAND_FILTERS = ['InvokedAfter', 'InvokedBefore', 'Status', 'DocumentName']

/** SSM Run Command over the sandbox's fleet. */
export class SsmService {
  readonly fleet: Fleet
  readonly settings: SsmSettings
  /** Every CancelCommand call, in order. */
  readonly cancelRequests: CancelRecord[] = []
  /** State Manager: associations, applied through the same scheduler and agents. */
  readonly stateManager: StateManager
  private readonly scheduler: CommandScheduler

  constructor(fleet: Fleet, settings: SsmSettings) {
    this.fleet = fleet
    this.settings = settings
    this.scheduler = new CommandScheduler(fleet, settings)
    this.stateManager = new StateManager(fleet, this.scheduler, settings)
  }

  /** A command by id (internal record: statuses, invocations, timings). */
  command(commandId: string): CommandRecord | undefined {
    return this.scheduler.get(commandId)
  }

  /** All commands, oldest first. */
  allCommands(): readonly CommandRecord[] {
    return this.scheduler.all()
  }

  /** Resolves once every invocation of the command is terminal. */
  whenDone(commandId: string): Promise<CommandRecord> {
    return this.scheduler.whenDone(commandId)
  }

  /** The command's Status and StatusDetails, derived from its invocations as SSM does. */
  commandStatus(command: CommandRecord): { status: CommandStatus; details: string } {
    return commandStatus(command)
  }

  /** SendCommand. */
  sendCommand(input: Json): Json {
    const request = readSendCommand(input)
    const instances =
      request.instanceIds.length > 0
        ? resolveInstanceIds(this.fleet, request.instanceIds, this.settings.accountId)
        : resolveTargets(this.fleet, request.targets)
    const options = readCommandOptions(input, this.settings.region)
    return { Command: describeCommand(this.scheduler.send(request, options, instances)) }
  }

  /** ListCommands. */
  listCommands(input: Json): Json {
    const commandId = optionalString(input, 'CommandId')
    const instanceId = optionalString(input, 'InstanceId')
    if (commandId !== undefined) checkCommandId(commandId)
    const filters = readCommandFilters(input, COMMAND_FILTERS)
    let commands = this.runCommandHistory()
    if (commandId !== undefined) {
      const command = this.scheduler.get(commandId)
      if (!command) throw new ServiceError('InvalidCommandId', '')
      commands = [command]
    }
    if (instanceId !== undefined) {
      commands = commands.filter(c => c.invocations.some(i => i.instance.id === instanceId))
    }
    commands = commands.filter(command =>
      filters.every(filter => {
        if (filter.key === 'Status') return commandStatusMatches(command, filter.value)
        if (filter.key === 'DocumentName') return command.documentName === filter.value
        return timeFilter(filter.key, filter.value, command.requestedAt)
      }),
    )
    const page = paginate(input, `ListCommands`, commands, 50)
    return { Commands: page.items.map(describeCommand), ...page.next }
  }

  /** ListCommandInvocations. */
  listCommandInvocations(input: Json): Json {
    const commandId = optionalString(input, 'CommandId')
    const instanceId = optionalString(input, 'InstanceId')
    if (commandId !== undefined) checkCommandId(commandId)
    const details = input.Details === true
    const filters = readCommandFilters(input, COMMAND_FILTERS)
    const now = Date.now()
    const commands =
      commandId !== undefined
        ? [this.scheduler.get(commandId)].filter((c): c is CommandRecord => c !== undefined)
        : this.runCommandHistory()
    let invocations = commands.filter(c => c.visibleAt <= now).flatMap(c => c.invocations)
    if (instanceId !== undefined)
      invocations = invocations.filter(i => i.instance.id === instanceId)
    const commandOf = (commandId: string) => this.scheduler.get(commandId) as CommandRecord
    invocations = invocations.filter(invocation =>
      filters.every(filter => {
        const command = commandOf(invocation.commandId)
        if (filter.key === 'Status') return invocationStatusMatches(invocation, filter.value)
        if (filter.key === 'DocumentName') return command.documentName === filter.value
        return timeFilter(filter.key, filter.value, command.requestedAt)
      }),
    )
    const page = paginate(
      input,
      `ListCommandInvocations:${commandId ?? ''}:${instanceId ?? ''}`,
      invocations,
      50,
    )
    return {
      CommandInvocations: page.items.map(invocation =>
        describeInvocation(commandOf(invocation.commandId), invocation, details),
      ),
      ...page.next,
    }
  }

  /** GetCommandInvocation. */
  getCommandInvocation(input: Json): Json {
    const commandId = optionalString(input, 'CommandId')
    const instanceId = optionalString(input, 'InstanceId')
    if (commandId === undefined) throw required('commandId')
    if (instanceId === undefined) throw required('instanceId')
    checkCommandId(commandId)
    const pluginName = optionalString(input, 'PluginName')
    const command = this.scheduler.get(commandId)
    const invocation = command?.invocations.find(i => i.instance.id === instanceId)
    if (!command || !invocation || command.visibleAt > Date.now()) {
      throw new ServiceError('InvocationDoesNotExist', '')
    }
    if (pluginName !== undefined && pluginName !== PLUGIN_NAME && pluginName !== 'runShellScript') {
      throw new ServiceError('InvalidPluginName', '')
    }
    return invocationResult(command, invocation)
  }

  /** DescribeInstanceInformation. */
  describeInstanceInformation(input: Json): Json {
    const conditions = readInstanceInformationFilters(input)
    const managed = this.fleet
      .list()
      .filter(instance => instance.ssmManaged && instance.state !== 'terminated')
      .filter(instance =>
        conditions.every(({ key, values }) => {
          if (key === 'InstanceIds') return values.includes(instance.id)
          if (key === 'AgentVersion') return values.includes(instance.agentVersion)
          if (key === 'PingStatus') return values.includes(instance.pingStatus)
          if (key === 'PlatformTypes') return values.includes('Linux')
          if (key === 'ResourceType') return values.includes('EC2Instance')
          if (key === 'tag-key') return values.some(value => instance.tags.has(value))
          const tagValue = instance.tags.get(key.slice('tag:'.length))
          return tagValue !== undefined && values.includes(tagValue)
        }),
      )
    const page = paginate(input, 'DescribeInstanceInformation', managed, 10)
    return {
      InstanceInformationList: page.items.map(instance =>
        instanceInformation(instance, this.settings.region),
      ),
      ...page.next,
    }
  }

  /** CancelCommand. */
  cancelCommand(input: Json): Json {
    const commandId = optionalString(input, 'CommandId')
    if (commandId === undefined) throw required('commandId')
    checkCommandId(commandId)
    const instanceIds = optionalStringList(input, 'InstanceIds') ?? []
    checkInstanceIdCount(instanceIds)
    const command = this.scheduler.get(commandId)
    if (!command) throw new ServiceError('InvalidCommandId', '')
    this.cancelRequests.push({ commandId, instanceIds: [...instanceIds], at: new Date() })
    const selected =
      instanceIds.length === 0
        ? command.invocations
        : command.invocations.filter(invocation => instanceIds.includes(invocation.instance.id))
    this.scheduler.cancel(command, selected, instanceIds.length === 0)
    return {}
  }

  /**
   * The commands listed without a CommandId, newest first: SendCommand's. The commands State
   * Manager sends to apply associations are reached by their id (an execution target's
   * OutputSourceId).
   */
  private runCommandHistory(): CommandRecord[] {
    return [...this.scheduler.all()].reverse().filter(c => c.associationId === undefined)
  }

  /** Stops every timer and kills every running script (the sandbox is closing). */
  close(): void {
    this.scheduler.close()
    this.fleet.killAllProcesses()
  }
}

/** The JSON 1.1 front end of SsmService (`X-Amz-Target: AmazonSSM.<Operation>`). */
export class SsmFrontEnd implements ServiceFrontEnd {
  readonly service = 'ssm'
  readonly ssm: SsmService
  private readonly operations: Record<string, (input: Json) => Json>
  /** Throws a ServiceError (AccessDeniedException) for a call the signer may not make. */
  private readonly authorize:
    ((operation: string, request: IncomingMessage, input: Json) => void) | undefined

  constructor(
    ssm: SsmService,
    authorize?: (operation: string, request: IncomingMessage, input: Json) => void,
  ) {
    this.ssm = ssm
    this.authorize = authorize
    this.operations = {
      SendCommand: input => ssm.sendCommand(input),
      ListCommands: input => ssm.listCommands(input),
      ListCommandInvocations: input => ssm.listCommandInvocations(input),
      GetCommandInvocation: input => ssm.getCommandInvocation(input),
      DescribeInstanceInformation: input => ssm.describeInstanceInformation(input),
      CancelCommand: input => ssm.cancelCommand(input),
      CreateAssociation: input => ssm.stateManager.createAssociation(input),
      DescribeAssociation: input => ssm.stateManager.describeAssociation(input),
      ListAssociations: input => ssm.stateManager.listAssociations(input),
      StartAssociationsOnce: input => ssm.stateManager.startAssociationsOnce(input),
      DescribeAssociationExecutions: input => ssm.stateManager.describeAssociationExecutions(input),
      DescribeAssociationExecutionTargets: input =>
        ssm.stateManager.describeAssociationExecutionTargets(input),
      DeleteAssociation: input => ssm.stateManager.deleteAssociation(input),
    }
  }

  operationOf(request: IncomingMessage): string {
    const target = request.headers['x-amz-target']
    const value = Array.isArray(target) ? target[0] : target
    if (request.method !== 'POST' || value === undefined || !value.startsWith('AmazonSSM.')) {
      throw new ServiceError('UnknownOperationException', '', 400)
    }
    const operation = value.slice('AmazonSSM.'.length)
    if (!Object.hasOwn(this.operations, operation)) {
      throw new ServiceError(
        'UnknownOperationException',
        `The sandbox does not implement ${operation}.`,
        400,
      )
    }
    return operation
  }

  async handle(operation: string, request: IncomingMessage, body: string): Promise<WireResponse> {
    let input: unknown
    try {
      input = body.trim() === '' ? {} : JSON.parse(body)
    } catch {
      throw new ServiceError(
        'SerializationException',
        'Start of structure or map found where not expected.',
      )
    }
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      throw new ServiceError(
        'SerializationException',
        'Start of structure or map found where not expected.',
      )
    }
    this.authorize?.(operation, request, input as Json)
    const handler = this.operations[operation] as (input: Json) => Json
    return this.json(200, handler(input as Json))
  }

  throttled(): WireResponse {
    return this.json(400, { __type: 'ThrottlingException', message: 'Rate exceeded' })
  }

  error(error: ServiceError): WireResponse {
    return this.json(error.status, { __type: error.code, message: error.message })
  }

  private json(status: number, body: unknown): WireResponse {
    return { status, contentType: 'application/x-amz-json-1.1', body: JSON.stringify(body) }
  }
}
