import { describe, expect, it } from '@jest/globals'
import type { DeployReport, WaveReport } from '../../packages/fleet/src/index.js'
import type { TargetResult } from '../../packages/health/src/index.js'
import {
  healthResultFromJson,
  healthResultsToJson,
  instanceResultFromJson,
  instanceResultsToJson,
  waveResultFromJson,
  waveResultsToJson,
} from '../../actions/shared/results-json.js'
import { deployOverMockedSsm } from '../fleet/mocked-deploy.js'

// The `results` outputs are the contract: the domain's camelCase results become the same
// kebab-case JSON, byte for byte, that the actions have always written, and the summary
// reads that JSON back without losing anything.

const [A, B, C] = ['i-0000000000000e001', 'i-0000000000000e002', 'i-0000000000000e003']
const engineLine = (fields: Record<string, unknown>) =>
  `DEPLOY_RESULT ${JSON.stringify({ mode: 'deploy', phases: {}, ...fields })}`

/** A fleet of three, deployed with the real FleetDeploy over a mocked SSM. */
async function deployThree(): Promise<DeployReport> {
  const deployed = engineLine({
    status: 'deployed',
    'exit-code': 0,
    'previous-version': 'v1',
    version: 'v2',
    'rolled-back': false,
    'duration-ms': 1500,
    warnings: ['hooks run as root'],
  })
  const rolledBack = engineLine({
    status: 'rolled-back',
    'exit-code': 20,
    'previous-version': 'v1',
    version: 'v2',
    'rolled-back': true,
    reason: 'health check failed',
    'duration-ms': 4200,
  })
  return deployOverMockedSsm(
    {
      [A]: {
        invocation: { Status: 'Success', CommandPlugins: [{ ResponseCode: 0 }] },
        stdout: deployed,
      },
      [B]: {
        invocation: { Status: 'Failed', CommandPlugins: [{ ResponseCode: 20 }] },
        stdout: `restarting\n${rolledBack}`,
      },
      // SSM stopped at max-errors before it reached this host.
      [C]: { invocation: { Status: 'Cancelled', StatusDetails: 'Cancelled' }, stdout: '' },
    },
    'c0ffee00-0000-4000-8000-00000000e001',
  )
}

const DEPLOY_RESULTS_JSON =
  '[{"instance-id":"i-0000000000000e001","name":"","status":"success","exit-code":0,' +
  '"previous-version":"v1","version":"v2","rolled-back":false,"duration-ms":1500,"reason":"",' +
  '"warnings":["hooks run as root"],"wave":1},' +
  '{"instance-id":"i-0000000000000e002","name":"","status":"rolled-back","exit-code":20,' +
  '"previous-version":"v1","version":"v2","rolled-back":true,"duration-ms":4200,' +
  '"reason":"health check failed","warnings":[],"output":"restarting\\nDEPLOY_RESULT ' +
  '{\\"mode\\":\\"deploy\\",\\"phases\\":{},\\"status\\":\\"rolled-back\\",\\"exit-code\\":20,' +
  '\\"previous-version\\":\\"v1\\",\\"version\\":\\"v2\\",\\"rolled-back\\":true,' +
  '\\"reason\\":\\"health check failed\\",\\"duration-ms\\":4200}","wave":1},' +
  '{"instance-id":"i-0000000000000e003","name":"","status":"untouched","exit-code":null,' +
  '"previous-version":"","version":"","rolled-back":false,"duration-ms":null,' +
  '"reason":"not deployed: SSM stopped dispatching after \'max-errors\' was reached; this host ' +
  'keeps its previous release","warnings":[],"output":"","wave":1}]'

const healthResults: TargetResult[] = [
  {
    target: 'https://dev.example.com/health',
    healthy: true,
    status: '200',
    attempts: 2,
    durationMs: 812,
    detail: '',
  },
  {
    target: 'i-0000000000000e002',
    healthy: false,
    status: 'TimedOut',
    attempts: 10,
    durationMs: 30_000,
    detail: 'the command timed out',
  },
]
const HEALTH_RESULTS_JSON =
  '[{"target":"https://dev.example.com/health","healthy":true,"status":"200","attempts":2,' +
  '"duration-ms":812,"detail":""},' +
  '{"target":"i-0000000000000e002","healthy":false,"status":"TimedOut","attempts":10,' +
  '"duration-ms":30000,"detail":"the command timed out"}]'

const waves: WaveReport[] = [
  { wave: 1, instanceIds: [A], succeeded: 1, failed: 0, durationMs: 812, outcome: 'passed' },
  { wave: 2, instanceIds: [B], succeeded: 0, failed: 1, durationMs: 4300, outcome: 'failed' },
  { wave: 3, instanceIds: [C], succeeded: 0, failed: 0, durationMs: 0, outcome: 'not-started' },
  { wave: 0, instanceIds: [A], succeeded: 1, failed: 0, durationMs: 950, outcome: 'reverted' },
]
const WAVES_JSON =
  '[{"wave":1,"instances":["i-0000000000000e001"],"succeeded":1,"failed":0,"duration-ms":812,"outcome":"passed"},' +
  '{"wave":2,"instances":["i-0000000000000e002"],"succeeded":0,"failed":1,"duration-ms":4300,"outcome":"failed"},' +
  '{"wave":3,"instances":["i-0000000000000e003"],"succeeded":0,"failed":0,"duration-ms":0,"outcome":"not-started"},' +
  '{"wave":0,"instances":["i-0000000000000e001"],"succeeded":1,"failed":0,"duration-ms":950,"outcome":"reverted"}]'

describe('the results outputs, made at the edge', () => {
  it("writes ssm-deploy's waves in the contract's shape, and reads them back", () => {
    expect(JSON.stringify(waveResultsToJson(waves))).toBe(WAVES_JSON)
    expect((JSON.parse(WAVES_JSON) as object[]).map(waveResultFromJson)).toEqual(waves)
  })

  it("writes ssm-deploy's results as it always has, byte for byte", async () => {
    const report = await deployThree()
    expect(report.results[1]).toMatchObject({ instanceId: B, exitCode: 20, rolledBack: true })
    expect(JSON.stringify(instanceResultsToJson(report.results))).toBe(DEPLOY_RESULTS_JSON)
  })

  it("writes verify-health's results as it always has, byte for byte", () => {
    expect(JSON.stringify(healthResultsToJson(healthResults))).toBe(HEALTH_RESULTS_JSON)
  })

  it('reads the JSON back into camelCase, and writes it again without a loss', () => {
    const deployed = (JSON.parse(DEPLOY_RESULTS_JSON) as object[]).map(instanceResultFromJson)
    expect(deployed[0]).toEqual({
      instanceId: A,
      name: '',
      status: 'success',
      exitCode: 0,
      previousVersion: 'v1',
      version: 'v2',
      rolledBack: false,
      durationMs: 1500,
      reason: '',
      warnings: ['hooks run as root'],
      wave: 1,
    })
    expect(JSON.stringify(instanceResultsToJson(deployed))).toBe(DEPLOY_RESULTS_JSON)
    const health = (JSON.parse(HEALTH_RESULTS_JSON) as object[]).map(healthResultFromJson)
    expect(health).toEqual(healthResults)
    expect(JSON.stringify(healthResultsToJson(health))).toBe(HEALTH_RESULTS_JSON)
  })

  it('reads malformed entries as they are, for the report to judge, and drops unknown keys', () => {
    expect(
      instanceResultFromJson({
        'instance-id': 7,
        status: ['x'],
        'rolled-back': 'yes',
        instanceId: 'i-camel',
        extra: true,
      }),
    ).toEqual({ instanceId: 7, status: ['x'], rolledBack: 'yes' })
    expect(healthResultFromJson({})).toEqual({})
  })
})
