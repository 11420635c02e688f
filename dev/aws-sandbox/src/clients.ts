import { EC2Client } from '@aws-sdk/client-ec2'
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2'
import { SSMClient } from '@aws-sdk/client-ssm'
import type { Sandbox } from './server.js'

/**
 * Real SDK v3 clients pointed at a sandbox, for tests and benchmarks. `maxAttempts` is 1
 * unless retries are what is being looked at.
 */
export function sandboxClients(
  sandbox: Sandbox,
  maxAttempts = 1,
): { ssm: SSMClient; ec2: EC2Client; elbv2: ElasticLoadBalancingV2Client } {
  const common = {
    region: sandbox.region,
    credentials: {
      accessKeyId: sandbox.env.AWS_ACCESS_KEY_ID,
      secretAccessKey: sandbox.env.AWS_SECRET_ACCESS_KEY,
    },
    maxAttempts,
  }
  return {
    ssm: new SSMClient({ ...common, endpoint: sandbox.env.AWS_ENDPOINT_URL_SSM }),
    ec2: new EC2Client({ ...common, endpoint: sandbox.env.AWS_ENDPOINT_URL_EC2 }),
    elbv2: new ElasticLoadBalancingV2Client({
      ...common,
      endpoint: sandbox.env.AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2,
    }),
  }
}
