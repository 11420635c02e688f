import { describe, expect, it } from '@jest/globals'
import { ConfigurationError } from '../../packages/kit/src/index.js'
import { getInputs } from '../../actions/ssm-deploy/inputs.js'

// ssm-deploy's load balancer inputs: target-group-arns (each ARN checked) and drain-timeout.
const INSTANCE = 'i-0123456789abcdef0'
const WEB = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef'
const API =
  'arn:aws-us-gov:elasticloadbalancing:us-gov-west-1:123456789012:targetgroup/api-2/fedcba9876543210'
const read = (values: Record<string, string>) =>
  getInputs(name => ({ 'instance-ids': INSTANCE, 'app-name': 'web', ...values })[name] ?? '', {})

function refusal(values: Record<string, string>): Error {
  try {
    read(values)
  } catch (error) {
    return error as Error
  }
  throw new Error('expected getInputs to refuse the inputs')
}

describe('target-group-arns', () => {
  it('is off when empty', () => {
    expect(read({}).loadBalancer).toBeUndefined()
  })

  it('takes ARNs separated by commas or newlines, once each, and drain-timeout with them', () => {
    expect(read({ 'target-group-arns': `${WEB},\n${API}\n${WEB}` }).loadBalancer).toEqual({
      targetGroupArns: [WEB, API],
      drainTimeoutMs: 360_000,
    })
    expect(
      read({ 'target-group-arns': WEB, 'drain-timeout': '90s' }).loadBalancer?.drainTimeoutMs,
    ).toBe(90_000)
  })

  it.each([
    ['a name', 'web'],
    ['a load balancer', WEB.replace('targetgroup/', 'loadbalancer/app/')],
    ['a short id', WEB.replace(/0123456789abcdef$/, '0123')],
    ['another service', WEB.replace('elasticloadbalancing', 'ec2')],
    ['a shell word', `${WEB};reboot`],
    ['a newline inside', WEB.replace('web', 'we\u0085b')],
  ])('refuses %s, naming the input, the value and the rule', (_what, value) => {
    const error = refusal({ 'target-group-arns': value })
    expect(error).toBeInstanceOf(ConfigurationError)
    expect(error.message).toBe(
      `input 'target-group-arns': ${JSON.stringify(value).replace('\u0085', '\\u0085')} is not valid: ` +
        "use ELBv2 target group ARNs such as 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef', " +
        'separated by commas or newlines',
    )
  })

  it('refuses a drain-timeout beyond the longest deregistration delay', () => {
    expect(refusal({ 'target-group-arns': WEB, 'drain-timeout': '2h' }).message).toBe(
      `input 'drain-timeout': "2h" is not valid: use a duration from 0s to 1h`,
    )
    expect(refusal({ 'target-group-arns': WEB, 'drain-timeout': 'soon' }).message).toContain(
      `input 'drain-timeout': "soon" is not valid`,
    )
  })
})
