import { ReportedFailure, errorMessage } from '../../packages/kit/src/index.js'
import type { AwsActionDeps, OutputValues } from '../../packages/github/src/index.js'
import {
  FleetCommands,
  findInstances,
  inspectFleet,
  type HostStatusReport,
} from '../../packages/fleet/src/index.js'
import {
  readDesiredRelease,
  s3Uri,
  desiredReleaseKey,
} from '../../packages/release-store/src/index.js'
import { renderStatus } from '../../packages/report/src/index.js'
import type { DesiredSource, StatusInputs } from './inputs.js'

/** What status found. */
export interface StatusResult {
  hosts: HostStatusReport[]
  /** desired.json's version; undefined when not read. */
  desiredVersion: string | undefined
  /** Why there is no desired version, when a bucket was given. */
  desiredProblem: string | undefined
  failOnDrift: boolean
}

type Clients = Awaited<ReturnType<AwsActionDeps['awsClients']>>

/** desired.json's version, or why there is none (not written yet, unreadable, invalid). */
async function desiredVersionOf(
  aws: Clients,
  desired: DesiredSource,
): Promise<{ version?: string; problem?: string }> {
  const where = s3Uri(desired.bucket, desiredReleaseKey(desired.app, desired.environment))
  try {
    const { S3Client } = await import('@aws-sdk/client-s3')
    const read = await readDesiredRelease(
      aws.client(S3Client),
      desired.bucket,
      desired.app,
      desired.environment,
    )
    return read ? { version: read.record.version } : { problem: `${where} does not exist yet` }
  } catch (error) {
    return { problem: `${where} could not be read: ${errorMessage(error)}` }
  }
}

/** Reads what runs on each instance, and how it stands against the desired release. */
export async function run(inputs: StatusInputs, deps: AwsActionDeps): Promise<StatusResult> {
  const { logger } = deps
  const aws = await deps.awsClients({ component: 'status', aws: inputs.aws })
  try {
    // The SDK is loaded here, not at start-up: a step that fails on its inputs never loads it.
    const { EC2Client } = await import('@aws-sdk/client-ec2')
    const { SSMClient } = await import('@aws-sdk/client-ssm')
    const ssm = aws.client(SSMClient)
    const found = await findInstances({ ec2: aws.client(EC2Client), ssm }, inputs.discovery, logger)
    const desired = inputs.desired ? await desiredVersionOf(aws, inputs.desired) : {}
    if (desired.problem) logger.warning(`${desired.problem}: drift is not judged`)
    else if (desired.version) logger.info(`Desired version: ${desired.version}`)
    const hosts = await inspectFleet(
      new FleetCommands(ssm, logger),
      found,
      {
        deployDir: inputs.deployDir,
        desiredVersion: desired.version,
        timeoutSeconds: Math.ceil(inputs.timeoutMs / 1000),
      },
      logger,
    )
    for (const host of hosts) {
      logger.info(
        `${host.instanceId} ${host.name || '(no Name)'}: ${host.state}` +
          `${host.liveVersion ? `, live ${host.liveVersion}` : ''}${host.reason ? ` (${host.reason})` : ''}`,
      )
    }
    await deps.appendSummary(
      renderStatus({
        environment: inputs.environment,
        desiredVersion: desired.version,
        desiredNote: inputs.desired ? desired.problem : "input 'bucket' is empty",
        hosts,
      }),
    )
    return {
      hosts,
      desiredVersion: desired.version,
      desiredProblem: desired.problem,
      failOnDrift: inputs.failOnDrift,
    }
  } finally {
    aws.destroy()
  }
}

const count = (hosts: readonly HostStatusReport[], test: (h: HostStatusReport) => boolean) =>
  hosts.filter(test).length

/** The action's outputs, by their action.yml names. */
export function outputs({ hosts, desiredVersion }: StatusResult): OutputValues {
  return {
    instances: hosts.map(h => ({
      'instance-id': h.instanceId,
      name: h.name,
      state: h.state,
      reason: h.reason,
      'ping-status': h.pingStatus,
      'live-version': h.liveVersion,
      release: h.release,
      releases: h.releases,
      'rollback-versions': h.rollbackVersions,
      'last-deploy': h.lastDeploy ?? null,
      lock: h.lock ?? null,
      'live-slot': h.liveSlot ?? '',
      drift: h.drift ?? null,
    })),
    count: hosts.length,
    drifted: count(hosts, h => h.drift === true),
    offline: count(hosts, h => h.state === 'offline'),
    'desired-version': desiredVersion ?? '',
  }
}

/** What a status that failed before it could read anything says. */
export const OUTPUTS_ON_FAILURE = outputs({
  hosts: [],
  desiredVersion: undefined,
  desiredProblem: undefined,
  failOnDrift: false,
})

/**
 * With fail-on-drift, the step fails when a host drifted or has no release, or could not be
 * read (its drift is unknown), or desired.json could not be read. Otherwise status only reports.
 */
export function failure(result: StatusResult): unknown {
  if (!result.failOnDrift) return undefined
  if (result.desiredProblem) return new ReportedFailure(result.desiredProblem)
  const bad = result.hosts.filter(
    h => h.drift === true || h.state === 'offline' || h.state === 'unreadable',
  )
  if (bad.length === 0) return undefined
  return new ReportedFailure(
    `${bad.length} of ${result.hosts.length} host(s) drifted from the desired version ${result.desiredVersion} or could not be read: ` +
      bad.map(h => `${h.instanceId} ${h.state}${h.reason ? ` (${h.reason})` : ''}`).join('; '),
  )
}
