import { describe, expect, it } from '@jest/globals'
import {
  GetCommandInvocationCommand,
  ListCommandInvocationsCommand,
  SSMClient,
  SendCommandCommand,
} from '@aws-sdk/client-ssm'
import { mockClient } from 'aws-sdk-client-mock'
import { memoryLogger } from '../../packages/kit/src/index.js'
import { FleetCommandRunner } from '../../packages/fleet/src/command.js'
import { FleetDeploy } from '../../packages/fleet/src/deploy.js'

// The corners of FleetDeploy that the sandbox cannot show: SSM cutting a host's output at
// 24,000 characters. (Everything else runs against the sandbox in the e2e tests.)
const ID = 'i-0123456789abcdef0'

describe('FleetDeploy', () => {
  it('says when SSM cut the output, and how to get all of it', async () => {
    const ssm = mockClient(SSMClient)
    ssm
      .on(SendCommandCommand)
      .resolves({ Command: { CommandId: 'c0ffee00-0000-4000-8000-000000000001' } })
    ssm.on(ListCommandInvocationsCommand).resolves({
      CommandInvocations: [
        {
          InstanceId: ID,
          Status: 'Success',
          StatusDetails: 'Success',
          CommandPlugins: [{ ResponseCode: 0, Output: 'x' }],
        },
      ],
    })
    ssm
      .on(GetCommandInvocationCommand)
      .resolves({ StandardOutputContent: 'x'.repeat(24_000), StandardErrorContent: '' })
    const logger = memoryLogger()
    const printed: string[] = []
    const deploy = new FleetDeploy(
      new FleetCommandRunner(ssm as unknown as SSMClient, logger, { sleep: async () => {} }),
      logger,
    )
    const report = await deploy.run(
      {
        instanceIds: [ID],
        remote: { deployDir: '/opt/app', mode: 'rollback' },
        maxConcurrency: '1',
        maxErrors: '0',
        executionTimeoutSeconds: 60,
      },
      async (_id, _title, output) => void printed.push(output),
    )
    expect(logger.lines.join('\n')).toContain('SSM cut this output at 24,000 characters')
    expect(logger.lines.join('\n')).toContain("set 'output-s3-bucket' or 'cloudwatch-log-group'")
    expect(printed[0]).toMatch(/\[SSM cut this output/)
    // The result line was cut off: a host that exited 0 without one is not called deployed.
    expect(report.results[0]).toMatchObject({
      status: 'failed',
      reason: 'the host printed no result line: the engine did not finish normally',
    })
    expect(report.status).toBe('failed')
  })
})
