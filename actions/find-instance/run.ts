import { escapeMarkdown } from '../../packages/kit/src/index.js'
import type { AwsActionDeps, OutputValues } from '../../packages/github/src/index.js'
import { describeOffline, findInstances, type Discovery } from '../../packages/fleet/src/index.js'
import type { FindInstanceInputs } from './inputs.js'

/** Finds the instances; offline ones that were skipped are noted in the job summary. */
export async function run(inputs: FindInstanceInputs, deps: AwsActionDeps): Promise<Discovery> {
  const aws = await deps.awsClients({ component: 'find-instance', aws: inputs.aws })
  // The SDK is loaded here, not at start-up: a step that fails on its inputs never loads it.
  const { EC2Client } = await import('@aws-sdk/client-ec2')
  const { SSMClient } = await import('@aws-sdk/client-ssm')
  const found = await findInstances(
    { ec2: aws.client(EC2Client), ssm: aws.client(SSMClient) },
    inputs.discovery,
    deps.logger,
  )
  deps.logger.info(`Found ${found.instances.length} instance(s).`)
  if (found.skipped.length > 0) await deps.appendSummary(skippedNote(found.skipped))
  return found
}

/** What a search that failed says: nothing was found. */
export const OUTPUTS_ON_FAILURE = { 'instance-ids': [], count: 0, instances: [], skipped: [] }

/** The action's outputs, by their action.yml names. */
export function outputs({ instances, skipped }: Discovery): OutputValues {
  return {
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
  }
}

/** The job summary's note on the offline instances that were skipped. */
function skippedNote(skipped: Discovery['skipped']): string {
  return (
    `⚠️ find-instance skipped ${skipped.length} offline instance(s): ` +
    `${skipped.map(i => escapeMarkdown(describeOffline(i))).join('; ')}\n`
  )
}
