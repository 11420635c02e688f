import { Inputs, escapeMarkdown } from '../../packages/kit/src/index.js'
import {
  appendSummary,
  runAction,
  runnerLogger,
  setOutputs,
} from '../../packages/github/src/index.js'
import { awsClientsFromInputs } from '../../packages/github/src/index.js'
import { describeOffline, findInstances, parseTagFilters } from '../../packages/fleet/src/index.js'

await runAction(
  async () => {
    const inputs = new Inputs()
    const options = {
      tags: parseTagFilters(inputs.lines('tags'), {
        environment: inputs.optional('environment'),
        app: inputs.optional('app-name'),
      }),
      instanceIds: inputs.list('instance-ids'),
      states: inputs.list('states', ['running']),
      requireSsmOnline: inputs.boolean('require-ssm-online', true),
      offline: inputs.enum('offline', ['fail', 'skip'], 'fail'),
      minCount: inputs.integer('min-count', 1, { min: 0, max: 10_000 }),
      maxCount: inputs.integer('max-count', 0, { min: 0, max: 10_000 }),
    }
    const aws = await awsClientsFromInputs({
      component: 'find-instance',
      inputs,
      logger: runnerLogger,
    })
    // The SDK is loaded here, not at start-up: a step that fails on its inputs never loads it.
    const { EC2Client } = await import('@aws-sdk/client-ec2')
    const { SSMClient } = await import('@aws-sdk/client-ssm')
    const { instances, skipped } = await findInstances(
      { ec2: aws.client(EC2Client), ssm: aws.client(SSMClient) },
      options,
      runnerLogger,
    )
    runnerLogger.info(`Found ${instances.length} instance(s).`)
    setOutputs({
      'instance-ids': instances.map(i => i.id),
      count: instances.length,
      instances: instances.map(i => ({
        id: i.id,
        name: i.name,
        'private-ip': i.privateIp,
        'availability-zone': i.availabilityZone,
        state: i.state,
        'ping-status': i.pingStatus,
        'agent-version': i.agentVersion,
      })),
      skipped: skipped.map(i => i.id),
    })
    if (skipped.length > 0) {
      await appendSummary(
        `⚠️ find-instance skipped ${skipped.length} offline instance(s): ` +
          `${skipped.map(i => escapeMarkdown(describeOffline(i))).join('; ')}\n`,
      )
    }
  },
  { outputsOnFailure: { 'instance-ids': [], count: 0, instances: [], skipped: [] } },
)
