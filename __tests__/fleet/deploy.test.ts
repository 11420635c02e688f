import { describe, expect, it } from '@jest/globals'
import {
  GetCommandInvocationCommand,
  ListCommandInvocationsCommand,
  SSMClient,
  SendCommandCommand,
} from '@aws-sdk/client-ssm'
import { mockClient } from 'aws-sdk-client-mock'
import { memoryLogger } from '../../packages/kit/src/index.js'
import { FleetCommands, FleetDeploy } from '../../packages/fleet/src/index.js'
import { deployOverMockedSsm } from './mocked-deploy.js'

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
      new FleetCommands(ssm as unknown as SSMClient, logger, { sleep: async () => {} }),
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

  it('names each host by what it serves, and the fleet by all of them', async () => {
    const ids = ['i-0000000000000a001', 'i-0000000000000a002', 'i-0000000000000a003']
    const result = (status: string, exitCode: number, rolledBack: boolean) =>
      `DEPLOY_RESULT ${JSON.stringify({ status, mode: 'deploy', 'exit-code': exitCode, 'rolled-back': rolledBack, 'duration-ms': 1, phases: {}, 'previous-version': 'v1' })}`
    const report = await deployOverMockedSsm({
      [ids[0] as string]: {
        invocation: { Status: 'Failed', CommandPlugins: [{ ResponseCode: 20 }] },
        stdout: result('rolled-back', 20, true),
      },
      [ids[1] as string]: {
        invocation: { Status: 'Failed', CommandPlugins: [{ ResponseCode: 10 }] },
        stdout: result('failed', 10, false),
      },
      // SSM stopped at max-errors before it reached this host.
      [ids[2] as string]: {
        invocation: { Status: 'Cancelled', StatusDetails: 'Cancelled' },
        stdout: '',
      },
    })
    expect(report.results.map(r => r.status)).toEqual([
      'rolled-back',
      'failed-before-switch',
      'untouched',
    ])
    expect(report).toMatchObject({
      status: 'rolled-back',
      succeeded: 0,
      rolledBack: 1,
      failed: 1,
      untouched: 1,
    })
  })
})
