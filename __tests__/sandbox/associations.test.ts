// SSM State Manager against the sandbox, with the real SDK v3 clients and the AWS CLI: an
// association that targets a tag is applied to the tagged instances online when it is created
// and on StartAssociationsOnce, and to a newly launched instance that matches when its agent
// comes online; each execution reports a status per instance, with the command's output.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { EC2Client } from '@aws-sdk/client-ec2'
import {
  CreateAssociationCommand,
  type CreateAssociationCommandInput,
  DeleteAssociationCommand,
  DescribeAssociationCommand,
  DescribeAssociationExecutionsCommand,
  DescribeAssociationExecutionTargetsCommand,
  GetCommandInvocationCommand,
  ListAssociationsCommand,
  ListCommandsCommand,
  type SSMClient,
  StartAssociationsOnceCommand,
} from '@aws-sdk/client-ssm'
import { startSandbox, type Sandbox } from '../../dev/aws-sandbox/src/index.js'
import { awsCli, clients, launchTagged, rejection, until } from './helpers.js'

let sandbox: Sandbox
let ec2: EC2Client
let ssm: SSMClient

beforeAll(async () => {
  sandbox = await startSandbox({
    instances: [
      { name: 'web-1', tags: { DeployApp: 'web' } },
      { name: 'web-2', tags: { DeployApp: 'web' } },
      { name: 'db-1', tags: { DeployApp: 'db' } },
      { name: 'web-offline', tags: { DeployApp: 'web' }, faults: { agentOffline: true } },
    ],
    invocationVisibilityDelayMs: 0,
    launch: { runningAfterMs: 50, agentOnlineAfterMs: 100 },
  })
  ;({ ec2, ssm } = clients(sandbox))
})
afterAll(async () => {
  ec2.destroy()
  ssm.destroy()
  await sandbox.close()
})

const byName = (name: string) => sandbox.fleet.byName(name)!

/** The lines of `applied.txt` in an instance's directory ('' when absent). */
function applied(name: string): string {
  const file = join(byName(name).dir, 'applied.txt')
  return existsSync(file) ? readFileSync(file, 'utf8') : ''
}

/** Each run appends the instance id; a host holding `fail-once` fails once (exit 3). */
const CONVERGE = [
  'echo "$AWS_SSM_INSTANCE_ID" >> applied.txt',
  'if [ -e fail-once ]; then rm fail-once; echo "drifted" >&2; exit 3; fi',
  'echo "converged on $AWS_SSM_INSTANCE_ID"',
]

async function createWebAssociation(extra: Partial<CreateAssociationCommandInput> = {}) {
  const out = await ssm.send(
    new CreateAssociationCommand({
      Name: 'AWS-RunShellScript',
      Targets: [{ Key: 'tag:DeployApp', Values: ['web'] }],
      Parameters: { commands: CONVERGE },
      ...extra,
    }),
  )
  return out.AssociationDescription!
}

/** Whether any command (SendCommand's or State Manager's) was ever sent to the instance. */
const everSentTo = (instanceId: string) =>
  sandbox.ssm.allCommands().some(c => c.invocations.some(i => i.instance.id === instanceId))

/** The association's executions once none is in progress, newest first. */
async function settledExecutions(associationId: string, count: number) {
  return until(async () => {
    const out = await ssm.send(
      new DescribeAssociationExecutionsCommand({ AssociationId: associationId }),
    )
    const executions = out.AssociationExecutions ?? []
    const settled =
      executions.length === count &&
      executions.every(e => e.Status === 'Success' || e.Status === 'Failed')
    return settled ? executions : undefined
  })
}

async function targetsOf(associationId: string, executionId: string) {
  const out = await ssm.send(
    new DescribeAssociationExecutionTargetsCommand({
      AssociationId: associationId,
      ExecutionId: executionId,
    }),
  )
  return (out.AssociationExecutionTargets ?? []).map(target => ({
    name: sandbox.fleet.get(target.ResourceId!)?.name,
    status: target.Status,
    detailed: target.DetailedStatus,
    type: target.ResourceType,
    commandId: target.OutputSource?.OutputSourceId,
    source: target.OutputSource?.OutputSourceType,
  }))
}

describe('an association that targets a tag', () => {
  let associationId: string

  it('is applied at creation to the tagged instances online, with a status and output per instance', async () => {
    writeFileSync(join(byName('web-2').dir, 'fail-once'), '')
    const created = await createWebAssociation({
      AssociationName: 'web-converge',
      ScheduleExpression: 'rate(30 minutes)',
    })
    associationId = created.AssociationId!
    expect(created).toMatchObject({
      Name: 'AWS-RunShellScript',
      AssociationName: 'web-converge',
      ScheduleExpression: 'rate(30 minutes)',
      Targets: [{ Key: 'tag:DeployApp', Values: ['web'] }],
      Parameters: { commands: CONVERGE },
      AssociationVersion: '1',
    })
    const [execution] = await settledExecutions(associationId, 1)
    expect(execution).toMatchObject({
      Status: 'Failed',
      ResourceCountByStatus: '{Failed=1, Success=1}',
    })
    const targets = await targetsOf(associationId, execution!.ExecutionId!)
    expect(
      targets.map(({ name, status, detailed, type, source }) => [
        name,
        status,
        detailed,
        type,
        source,
      ]),
    ).toEqual([
      ['web-1', 'Success', 'Success', 'ManagedInstance', 'RunCommand'],
      ['web-2', 'Failed', 'Failed', 'ManagedInstance', 'RunCommand'],
    ])
    // The output of each target is the command's, by its OutputSourceId.
    const web2 = await ssm.send(
      new GetCommandInvocationCommand({
        CommandId: targets[1]!.commandId,
        InstanceId: byName('web-2').id,
      }),
    )
    expect([web2.ResponseCode, web2.StandardErrorContent]).toEqual([3, 'drifted\n'])
    expect(applied('web-1')).toBe(`${byName('web-1').id}\n`)
    expect(applied('db-1')).toBe('')
    expect(applied('web-offline')).toBe('')
    // Run Command's history holds SendCommand's commands only.
    const listed = await ssm.send(new ListCommandsCommand({}))
    expect(listed.Commands).toEqual([])

    const described = await ssm.send(
      new DescribeAssociationCommand({ AssociationId: associationId }),
    )
    expect(described.AssociationDescription?.Overview).toEqual({
      Status: 'Failed',
      DetailedStatus: 'Failed',
      AssociationStatusAggregatedCount: { Failed: 1, Success: 1 },
    })
  })

  it('is applied again by start-associations-once (AWS CLI), repairing the failed host', async () => {
    const start = await awsCli(sandbox, [
      'ssm',
      'start-associations-once',
      '--association-ids',
      associationId,
    ])
    expect([start.code, start.stderr]).toEqual([0, ''])
    const [latest, first] = await settledExecutions(associationId, 2)
    expect(latest!.CreatedTime!.getTime()).toBeGreaterThanOrEqual(first!.CreatedTime!.getTime())
    expect(latest).toMatchObject({ Status: 'Success', ResourceCountByStatus: '{Success=2}' })

    const cli = await awsCli(sandbox, [
      'ssm',
      'describe-association-execution-targets',
      '--association-id',
      associationId,
      '--execution-id',
      latest!.ExecutionId!,
      '--output',
      'json',
    ])
    expect(cli.code).toBe(0)
    const targets = (
      JSON.parse(cli.stdout) as {
        AssociationExecutionTargets: { ResourceId: string; Status: string }[]
      }
    ).AssociationExecutionTargets
    expect(targets.map(t => [t.ResourceId, t.Status])).toEqual([
      [byName('web-1').id, 'Success'],
      [byName('web-2').id, 'Success'],
    ])
    expect(applied('web-2')).toBe(`${byName('web-2').id}\n`.repeat(2))

    const successes = await ssm.send(
      new DescribeAssociationExecutionsCommand({
        AssociationId: associationId,
        Filters: [{ Key: 'Status', Value: 'Success', Type: 'EQUAL' }],
      }),
    )
    expect(successes.AssociationExecutions?.map(e => e.ExecutionId)).toEqual([latest!.ExecutionId])
    const failedTargets = await ssm.send(
      new DescribeAssociationExecutionTargetsCommand({
        AssociationId: associationId,
        ExecutionId: first!.ExecutionId,
        Filters: [{ Key: 'Status', Value: 'Failed' }],
      }),
    )
    expect(failedTargets.AssociationExecutionTargets?.map(t => t.ResourceId)).toEqual([
      byName('web-2').id,
    ])
    const badKey = await rejection(
      ssm.send(
        new DescribeAssociationExecutionsCommand({
          AssociationId: associationId,
          Filters: [{ Key: 'Colour' as never, Value: 'x', Type: 'EQUAL' }],
        }),
      ),
    )
    expect([badKey.name, badKey.message]).toEqual([
      'ValidationException',
      expect.stringContaining('enum value set: [ExecutionId, Status, CreatedTime]'),
    ])
    const overview = await ssm.send(
      new DescribeAssociationCommand({ AssociationId: associationId }),
    )
    expect(overview.AssociationDescription?.Overview?.Status).toBe('Success')
    expect(overview.AssociationDescription?.LastSuccessfulExecutionDate).toBeInstanceOf(Date)
  })

  it('is applied to a newly launched instance that matches, when its agent comes online', async () => {
    const id = await launchTagged(ec2, { Name: 'web-3', DeployApp: 'web' })
    const other = await launchTagged(ec2, { Name: 'db-2', DeployApp: 'db' })
    const [newest] = await settledExecutions(associationId, 3)
    expect(newest).toMatchObject({ Status: 'Success', ResourceCountByStatus: '{Success=1}' })
    expect(
      (await targetsOf(associationId, newest!.ExecutionId!)).map(t => [t.name, t.status]),
    ).toEqual([['web-3', 'Success']])
    expect(applied('web-3')).toBe(`${id}\n`)
    await sandbox.launcher.bootOf(other)?.online
    expect(everSentTo(other)).toBe(false)
    // The instances that already had it got nothing more.
    expect(applied('web-1').split('\n').filter(Boolean)).toHaveLength(2)
  })

  it('is listed, and once deleted is gone and no longer applied to new instances', async () => {
    const listed = await ssm.send(
      new ListAssociationsCommand({
        AssociationFilterList: [{ key: 'AssociationName', value: 'web-converge' }],
      }),
    )
    expect(listed.Associations?.map(a => [a.AssociationId, a.Name, a.Overview?.Status])).toEqual([
      [associationId, 'AWS-RunShellScript', 'Success'],
    ])
    await ssm.send(new DeleteAssociationCommand({ AssociationId: associationId }))
    const gone = await rejection(
      ssm.send(new DescribeAssociationCommand({ AssociationId: associationId })),
    )
    expect(gone.name).toBe('AssociationDoesNotExist')
    const id = await launchTagged(ec2, { Name: 'web-4', DeployApp: 'web' })
    await sandbox.launcher.bootOf(id)?.online
    expect(everSentTo(id)).toBe(false)
  })
})

describe('associations created with the AWS CLI', () => {
  it('by InstanceId, with ApplyOnlyAtCronInterval: recorded, not applied until started', async () => {
    const create = await awsCli(sandbox, [
      'ssm',
      'create-association',
      '--name',
      'AWS-RunShellScript',
      '--instance-id',
      byName('db-1').id,
      '--parameters',
      'commands=["echo db >> applied.txt"]',
      '--schedule-expression',
      'cron(0 2 ? * SUN *)',
      '--apply-only-at-cron-interval',
      '--output',
      'json',
    ])
    expect([create.code, create.stderr]).toEqual([0, ''])
    const { AssociationDescription: created } = JSON.parse(create.stdout) as {
      AssociationDescription: {
        AssociationId: string
        InstanceId: string
        Overview: { Status: string }
      }
    }
    expect(created).toMatchObject({
      InstanceId: byName('db-1').id,
      Overview: { Status: 'Pending' },
    })
    const none = await ssm.send(
      new DescribeAssociationExecutionsCommand({ AssociationId: created.AssociationId }),
    )
    expect(none.AssociationExecutions).toEqual([])
    await ssm.send(new StartAssociationsOnceCommand({ AssociationIds: [created.AssociationId] }))
    await settledExecutions(created.AssociationId, 1)
    expect(applied('db-1')).toBe('db\n')
    const byInstance = await ssm.send(
      new DescribeAssociationCommand({ Name: 'AWS-RunShellScript', InstanceId: byName('db-1').id }),
    )
    expect(byInstance.AssociationDescription?.AssociationId).toBe(created.AssociationId)
  })
})

describe('State Manager errors, as SSM gives them', () => {
  it('refuses unknown documents, missing commands, bad schedules, targets and names', async () => {
    const cases: [Partial<CreateAssociationCommandInput>, string, RegExp][] = [
      [
        { Name: 'AWS-ApplyAnsiblePlaybooks' },
        'InvalidDocument',
        /AWS-ApplyAnsiblePlaybooks does not exist/,
      ],
      [{ Parameters: {} }, 'InvalidParameters', /commands/],
      [
        { Parameters: { commands: ['true'], sudo: ['yes'] } },
        'InvalidParameters',
        /"sudo" is not a parameter/,
      ],
      [{ ScheduleExpression: 'every day' }, 'InvalidSchedule', /every day/],
      [
        { Targets: [{ Key: 'resource-groups:Name', Values: ['web'] }] },
        'InvalidTarget',
        /resource-groups:Name/,
      ],
      [{ AssociationName: 'a b' }, 'ValidationException', /associationName/],
      [{ InstanceId: 'i-0000000000000dead' }, 'InvalidTarget', /cannot both be specified/],
    ]
    for (const [input, name, message] of cases) {
      const error = await rejection(createWebAssociation(input))
      expect([error.name, error.message]).toEqual([name, expect.stringMatching(message)])
    }
    const unknownInstance = await rejection(
      ssm.send(
        new CreateAssociationCommand({
          Name: 'AWS-RunShellScript',
          InstanceId: 'i-0000000000000dead',
          Parameters: { commands: ['true'] },
        }),
      ),
    )
    expect(unknownInstance.name).toBe('InvalidInstanceId')
    const listed = await ssm.send(
      new ListAssociationsCommand({
        AssociationFilterList: [{ key: 'Name', value: 'AWS-RunShellScript' }],
      }),
    )
    expect(listed.Associations).toHaveLength(1) // only the CLI's InstanceId association
  })

  it('answers AssociationDoesNotExist, AssociationExecutionDoesNotExist and ValidationException', async () => {
    const unknown = '0d9b1d4e-5a7e-4c1b-9a54-0123456789ab'
    const start = await rejection(
      ssm.send(new StartAssociationsOnceCommand({ AssociationIds: [unknown] })),
    )
    expect(start.name).toBe('AssociationDoesNotExist')
    const malformed = await rejection(
      ssm.send(new DescribeAssociationExecutionsCommand({ AssociationId: 'not-an-id' })),
    )
    expect([malformed.name, malformed.message]).toEqual([
      'ValidationException',
      expect.stringMatching(/'not-an-id' at 'associationId'/),
    ])
    const tooMany = await rejection(
      ssm.send(new StartAssociationsOnceCommand({ AssociationIds: Array(11).fill(unknown) })),
    )
    expect(tooMany.name).toBe('ValidationException')
    const created = await createWebAssociation({ ApplyOnlyAtCronInterval: true })
    const execution = await rejection(
      ssm.send(
        new DescribeAssociationExecutionTargetsCommand({
          AssociationId: created.AssociationId,
          ExecutionId: unknown,
        }),
      ),
    )
    expect(execution.name).toBe('AssociationExecutionDoesNotExist')
    const cli = await awsCli(sandbox, ['ssm', 'delete-association', '--association-id', unknown])
    expect(cli.code).not.toBe(0)
    expect(cli.stderr).toMatch(/AssociationDoesNotExist/)
  })
})
