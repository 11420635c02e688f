// ssm-deploy's load balancer inputs, bundled, against the sandbox: the step reaches ELBv2
// through the standard endpoint variable, describes its target groups before it sends anything,
// and a bad ARN or a missing group fails the step with nothing deployed. (The drains around each
// wave are __tests__/fleet/target-groups.test.ts.)
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { startSandbox, type Sandbox, type TargetGroup } from '../../dev/aws-sandbox/src/index.js'
import { runBundledAction } from '../support/bundled-action.js'

let sandbox: Sandbox
let group: TargetGroup
const HOST = 'i-0000000000000e001'

beforeAll(async () => {
  sandbox = await startSandbox({
    instances: [{ id: HOST, name: 'web-1' }],
    commandMode: 'fast',
    targetGroups: [
      { name: 'web', port: 8080, healthCheckIntervalSeconds: 5, deregistrationDelaySeconds: 20 },
    ],
  })
  group = sandbox.elbv2.get('web')!
})
afterAll(async () => {
  await sandbox?.close()
})

const inputs = (targetGroupArns: string) => ({
  'instance-ids': HOST,
  mode: 'rollback',
  'app-name': 'sample',
  timeout: '1m',
  'target-group-arns': targetGroupArns,
  'drain-timeout': '10s',
})
const sentCommands = () => sandbox.ssm.listCommands({}).Commands ?? []

describe('ssm-deploy with target-group-arns, bundled', () => {
  it('refuses an ARN of the wrong shape, naming the input, the value and the rule', async () => {
    const run = await runBundledAction('ssm-deploy', {
      inputs: inputs(`${group.arn}\nweb`),
      env: { ...sandbox.env },
    })
    expect(run.exitCode).toBe(1)
    expect(run.errors.join('\n')).toContain(
      `input 'target-group-arns': "web" is not valid: use ELBv2 target group ARNs such as`,
    )
    expect(run.outputs.status).toBe('failed')
    expect(sentCommands()).toEqual([])
  })

  it('fails before sending anything when a target group does not exist', async () => {
    const missing = group.arn.replace(/[0-9a-f]{16}$/, '0123456789abcdef')
    const run = await runBundledAction('ssm-deploy', {
      inputs: inputs(missing),
      env: { ...sandbox.env },
    })
    expect(run.exitCode).toBe(1)
    expect(run.errors.join('\n')).toContain(
      `input 'target-group-arns': ELBv2 did not find "${missing}" (TargetGroupNotFound`,
    )
    expect(run.outputs.status).toBe('failed')
    expect(sentCommands()).toEqual([])
  })

  it('describes its target groups through the ELBv2 endpoint before the deploy starts', async () => {
    const run = await runBundledAction('ssm-deploy', {
      inputs: inputs(group.arn),
      env: { ...sandbox.env },
    })
    const described = run.stdout.indexOf(
      'load balancer: target group web: deregistration delay 20 s, healthy after 2 check(s) 5 s apart',
    )
    expect(described).toBeGreaterThanOrEqual(0)
    expect(run.warnings).toContain(
      'load balancer: drain-timeout 10s is shorter than the deregistration delay of target group web (20 s): requests still in flight to a host after drain-timeout may be cut',
    )
    expect(described).toBeLessThan(run.stdout.indexOf('Rolling back'))
    expect(sentCommands()).toHaveLength(1)
  })
})
