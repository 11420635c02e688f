import { EC2Client } from '@aws-sdk/client-ec2'
import { SSMClient } from '@aws-sdk/client-ssm'
import { Inputs } from '../../packages/kit/src/index.js'
import { runAction, runnerLogger, setOutputs } from '../../packages/kit/src/github.js'
import { awsClientsFromInputs } from '../../packages/kit/src/github-aws.js'
import { findInstances, parseTagFilters } from '../../packages/fleet/src/discover.js'

await runAction(async () => {
  const inputs = new Inputs()
  const options = {
    tags: parseTagFilters(inputs.lines('tags'), {
      environment: inputs.optional('environment'),
      app: inputs.optional('app-name'),
    }),
    instanceIds: inputs.list('instance-ids'),
    states: inputs.list('states', ['running']),
    requireSsmOnline: inputs.boolean('require-ssm-online', true),
    minCount: inputs.integer('min-count', 1, { min: 0, max: 10_000 }),
    maxCount: inputs.integer('max-count', 0, { min: 0, max: 10_000 }),
  }
  const aws = await awsClientsFromInputs({
    component: 'find-instance',
    inputs,
    logger: runnerLogger,
  })
  const found = await findInstances(
    { ec2: aws.client(EC2Client), ssm: aws.client(SSMClient) },
    options,
    runnerLogger,
  )
  runnerLogger.info(`Found ${found.length} instance(s).`)
  setOutputs({
    'instance-ids': found.map(i => i.id),
    count: found.length,
    instances: found.map(i => ({
      id: i.id,
      name: i.name,
      'private-ip': i.privateIp,
      'availability-zone': i.availabilityZone,
      state: i.state,
      'ping-status': i.pingStatus,
      'agent-version': i.agentVersion,
    })),
  })
})
