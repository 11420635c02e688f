import { describe, expect, it } from '@jest/globals'
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2'
import { SSMClient, SendCommandCommand } from '@aws-sdk/client-ssm'
import { mockClient } from 'aws-sdk-client-mock'
import { ConfigurationError, memoryLogger } from '../../packages/kit/src/index.js'
import { FleetCommands } from '../../packages/fleet/src/index.js'
import { explainFleetCall } from '../../packages/aws/src/index.js'

// SSM and EC2 errors explained. The sandbox allows every call, so a refused SendCommand is
// mocked; a region that does not exist is a real DNS failure (.invalid never resolves).
const ID = 'i-0123456789abcdef0'
const command = {
  instanceIds: [ID],
  commands: ['true'],
  executionTimeoutSeconds: 60,
  deliveryTimeoutSeconds: 60,
  maxConcurrency: '1',
  maxErrors: '0',
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise
  } catch (error) {
    return error as Error
  }
  throw new Error('expected a rejection')
}

describe('SSM and EC2 errors', () => {
  it('names the tag conditions of the policy when SendCommand is refused', async () => {
    const ssm = mockClient(SSMClient)
    const denied = Object.assign(
      new Error(
        `User: arn:aws:sts::123456789012:assumed-role/deploy-develop/run is not authorized to perform: ssm:SendCommand on resource: arn:aws:ec2:eu-west-1:123456789012:instance/${ID}`,
      ),
      { name: 'AccessDeniedException' },
    )
    ssm.on(SendCommandCommand).rejects(denied)
    const client = new SSMClient({ region: 'eu-west-1' })
    const commands = new FleetCommands(client, memoryLogger())
    const error = await rejection(commands.send(command))
    expect(error).toBeInstanceOf(ConfigurationError)
    expect(error.message).toContain(
      `access denied: SendCommand (instances ${ID}) in region eu-west-1`,
    )
    expect(error.message).toContain('DeployApp=<app> and DeployEnvironment=<environment>')
    expect(error.message).toContain('docs/iam/deploy-role-policy.json')
    ssm.restore()
  })

  it('says the region is probably wrong when the endpoint does not resolve', async () => {
    const region = 'eu-nowhere-9'
    const ec2 = new EC2Client({
      region,
      endpoint: `http://ec2.${region}.invalid`,
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'x' },
      maxAttempts: 1,
    })
    const error = await rejection(
      explainFleetCall(ec2, 'DescribeInstances', [], () =>
        ec2.send(new DescribeInstancesCommand({})),
      ),
    )
    expect(error).toBeInstanceOf(ConfigurationError)
    expect(error.message).toContain(
      `cannot reach "ec2.${region}.invalid" (getaddrinfo ENOTFOUND): region "${region}" is probably wrong`,
    )
    expect(error.message).toContain("check input 'aws-region'")
  })
})
