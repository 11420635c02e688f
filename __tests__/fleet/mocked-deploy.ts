// A deploy of v2 by the real FleetDeploy over a mocked SSM, for the corners the sandbox cannot
// show: every host is listed as given and prints the given output.
import {
  GetCommandInvocationCommand,
  ListCommandInvocationsCommand,
  SSMClient,
  SendCommandCommand,
  type CommandInvocation,
} from '@aws-sdk/client-ssm'
import { mockClient } from 'aws-sdk-client-mock'
import { memoryLogger } from '../../packages/kit/src/index.js'
import {
  FleetCommands,
  FleetDeploy,
  type DeployReport,
  type FleetDeployOptions,
} from '../../packages/fleet/src/index.js'

/** How SSM lists one host's invocation, and what the host printed. */
export interface MockedHost {
  invocation: Omit<CommandInvocation, 'InstanceId'>
  stdout: string
}

/**
 * Deploys v2 to the hosts (by instance id), all in one wave unless `options` say otherwise,
 * and returns FleetDeploy's report.
 */
export async function deployOverMockedSsm(
  hosts: Record<string, MockedHost>,
  commandId = 'c0ffee00-0000-4000-8000-000000000002',
  options: Partial<FleetDeployOptions> = {},
): Promise<DeployReport> {
  const ssm = mockClient(SSMClient)
  try {
    ssm.on(SendCommandCommand).resolves({ Command: { CommandId: commandId } })
    ssm.on(ListCommandInvocationsCommand).resolves({
      CommandInvocations: Object.entries(hosts).map(([id, host]) => ({
        InstanceId: id,
        ...host.invocation,
      })),
    })
    for (const [id, host] of Object.entries(hosts)) {
      ssm
        .on(GetCommandInvocationCommand, { InstanceId: id })
        .resolves({ StandardOutputContent: host.stdout, StandardErrorContent: '' })
    }
    const logger = memoryLogger()
    const deploy = new FleetDeploy(
      new FleetCommands(ssm as unknown as SSMClient, logger, { sleep: async () => {} }),
      logger,
    )
    return await deploy.run(
      {
        instanceIds: Object.keys(hosts),
        remote: {
          deployDir: '/opt/app',
          mode: 'deploy',
          version: 'v2',
          artifactUri: 's3://artifacts/app/v2.zip',
          artifactSha256: 'a'.repeat(64),
        },
        maxConcurrency: '100%',
        maxErrors: '100%',
        executionTimeoutSeconds: 60,
        ...options,
      },
      async () => {},
    )
  } finally {
    ssm.restore()
  }
}
