// The host bootstrap on a sandbox host, sent through the real SSM front end (sh, as root, no
// HOME, the agent's PATH), reading desired.json and the engine script from the sandbox's S3
// with the host's own credentials. The engine here is a stand-in that records that it ran, so
// "nothing was run" is checked directly; the real engine is run by the scale-out test.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import type { SSMClient } from '@aws-sdk/client-ssm'
import {
  BOOTSTRAP_EXIT_REFUSED,
  BOOTSTRAP_SCRIPT,
  bootstrapCommands,
  renderBootstrap,
} from '../../packages/remote/src/index.js'
import {
  desiredReleaseJson,
  desiredReleaseKey,
  storeEngineScript,
  type DesiredRelease,
  type EngineScriptRef,
} from '../../packages/release-store/src/index.js'
import { sandboxClients, startSandbox, type Sandbox } from '../../dev/aws-sandbox/src/index.js'
import { requireTool } from '../support/system-tools.js'
import { sandboxS3 } from '../sandbox/helpers.js'
import { runOnHosts, webProdRecord, type HostRun } from './support/host-commands.js'

const BUCKET = 'bootstrap-artifacts'
const WHERE = { bucket: BUCKET, app: 'web', environment: 'prod' }

let sandbox: Sandbox
let ssm: SSMClient
let s3: S3Client
let engine: EngineScriptRef

/** Stands in for the rendered engine: records its run, prints a result line, exits 20. */
const STAND_IN_ENGINE = `#!/bin/sh
echo "engine $0 uid=$(id -u) home=\${HOME-unset}" >> ran.txt
echo 'DEPLOY_RESULT {"status":"rolled-back","exit-code":20}'
exit 20
`

beforeAll(async () => {
  sandbox = await startSandbox({
    instances: 1,
    s3: { buckets: [BUCKET] },
    invocationVisibilityDelayMs: 0,
  })
  ssm = sandboxClients(sandbox).ssm
  s3 = sandboxS3(sandbox)
  engine = await storeEngineScript(s3, { ...WHERE, script: STAND_IN_ENGINE })
})
afterAll(async () => {
  ssm?.destroy()
  s3?.destroy()
  await sandbox?.close()
})

const host = () => sandbox.instances[0]!
const ranFile = () => join(host().dir, 'ran.txt')
const ran = () => (existsSync(ranFile()) ? readFileSync(ranFile(), 'utf8') : '')

function desired(overrides: Partial<DesiredRelease> = {}): DesiredRelease {
  return {
    record: {
      ...webProdRecord(BUCKET, 'v2.0.0', { sha256: 'a'.repeat(64), size: 10 }),
      time: '2026-12-01T10:00:00Z',
    },
    recordKey: 'web/prod/deployments/20261201T100000Z-v2.0.0.json',
    engine,
    ...overrides,
  }
}

async function putDesired(body: string): Promise<void> {
  await s3.send(
    new PutObjectCommand({ Bucket: BUCKET, Key: desiredReleaseKey('web', 'prod'), Body: body }),
  )
}

async function bootstrap(): Promise<HostRun> {
  const [run] = await runOnHosts(sandbox, ssm, [host().id], bootstrapCommands(WHERE))
  return run!
}

describe('renderBootstrap', () => {
  it('sets the three values, quoted, above the embedded script; shellcheck passes for sh and bash', () => {
    const script = renderBootstrap(WHERE)
    expect(script.split('\n').slice(0, 4)).toEqual([
      '#!/bin/bash',
      `EC2D_BUCKET='${BUCKET}'`,
      "EC2D_APP='web'",
      "EC2D_ENVIRONMENT='prod'",
    ])
    expect(script.endsWith(BOOTSTRAP_SCRIPT.replace(/^#!.*\n/, ''))).toBe(true)
    expect(bootstrapCommands(WHERE).join('\n') + '\n').toBe(script)
    expect(BOOTSTRAP_SCRIPT).toContain(`\nEXIT_REFUSED=${BOOTSTRAP_EXIT_REFUSED}\n`)
    const dir = mkdtempSync(join(tmpdir(), 'bootstrap-lint-'))
    try {
      const file = join(dir, 'bootstrap.sh')
      writeFileSync(file, script)
      for (const shell of ['sh', 'bash']) {
        const lint = spawnSync(requireTool('shellcheck'), ['-s', shell, file], {
          encoding: 'utf8',
        })
        expect([shell, lint.status, lint.stdout]).toEqual([shell, 0, ''])
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('refuses a bucket, app or environment that is not a plain name, naming the input', () => {
    const cases: [Partial<typeof WHERE>, string][] = [
      [{ bucket: 'My_Bucket' }, `input 'bucket': "My_Bucket" is not valid`],
      [{ bucket: "b'$(reboot)" }, `input 'bucket': "b'$(reboot)" is not valid`],
      [{ bucket: '192.168.0.1' }, `input 'bucket': "192.168.0.1" is not valid`],
      [{ bucket: 'a..b' }, `input 'bucket': "a..b" is not valid`],
      [{ app: "web'; reboot; '" }, `input 'app-name' "web'; reboot; '" is not allowed`],
      [{ environment: '../prod' }, `input 'environment' "../prod" is not allowed`],
      [{ environment: '' }, `input 'environment' is empty`],
    ]
    for (const [override, message] of cases) {
      expect(() => renderBootstrap({ ...WHERE, ...override })).toThrow(message)
    }
  })
})

describe('the bootstrap on a host', () => {
  it('has nothing to converge to before the first deploy: it says so and exits 0', async () => {
    const run = await bootstrap()
    expect([run.code, run.status]).toEqual([0, 'Success'])
    expect(run.stdout).toContain(
      `s3://${BUCKET}/web/prod/desired.json does not exist yet: nothing to converge to`,
    )
    expect(ran()).toBe('')
  })

  it("runs the engine that desired.json names, once its sha256 matches; the engine's exit code and output pass through", async () => {
    await putDesired(desiredReleaseJson(desired()))
    const run = await bootstrap()
    expect([run.code, run.status]).toEqual([20, 'Failed'])
    expect(run.stdout).toContain(
      `bootstrap: desired release of web/prod is v2.0.0 (engine ${engine.sha256})`,
    )
    expect(run.stdout.trimEnd().split('\n').at(-1)).toBe(
      'DEPLOY_RESULT {"status":"rolled-back","exit-code":20}',
    )
    const [line] = ran().split('\n')
    expect(line).toMatch(/^engine \/tmp\/ec2d-bootstrap\.\w+\/engine\.sh uid=0 home=unset$/)
    // Its root-only temp dir is gone once it is done.
    const engineFile = /^engine (\S+) /.exec(line ?? '')?.[1] ?? ''
    expect(existsSync(engineFile.replace(/\/engine\.sh$/, ''))).toBe(false)
  })

  it('refuses a hostile desired.json or a forged engine: exit 12, a clear message, nothing run', async () => {
    rmSync(ranFile(), { force: true })
    const good = desiredReleaseJson(desired())
    const forgedBody = 'echo forged >> ran.txt\n'
    const forgedSha = createHash('sha256').update('other bytes').digest('hex')
    await s3.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: `web/prod/engine/${forgedSha}.sh`,
        Body: forgedBody,
      }),
    )
    const swap = (from: string, to: string) => good.replace(from, to)
    const cases: [string, string][] = [
      [swap('"version":"v2.0.0"', '"version":"$(touch ran.txt)"'), "field 'version' is not valid"],
      [swap('"version":"v2.0.0"', `"version":"v2'; touch ran.txt; '"`), "field 'version'"],
      [
        swap('"version":"v2.0.0"', '"version":"v2.0.0","version":"v1.0.0"'),
        "has 2 'version' fields, not one string",
      ],
      [
        swap(`"engine-key":"${engine.key}"`, `"engine-key":"web/prod/engine/../../dev/x.sh"`),
        "field 'engine-key' is not web/prod/engine/<engine-sha256>.sh",
      ],
      [
        swap(`"engine-key":"${engine.key}"`, `"engine-key":"$(touch ran.txt)"`),
        "field 'engine-key' is not valid",
      ],
      [
        swap(`"engine-sha256":"${engine.sha256}"`, `"engine-sha256":"${engine.sha256}\\""`),
        "field 'engine-sha256' is not valid",
      ],
      [
        good.replaceAll(engine.sha256, forgedSha),
        `web/prod/engine/${forgedSha}.sh does not match its sha256 ${forgedSha}`,
      ],
      [
        swap(`"engine-sha256":"${engine.sha256}"`, `"engine-sha256":"${'0'.repeat(64)}"`),
        `field 'engine-key' is not web/prod/engine/<engine-sha256>.sh`,
      ],
      [`${good}${good}`, 'is not one line of at most 16384 bytes'],
      ['{"version":"v2.0.0"}', "has 0 'engine-sha256' fields, not one string"],
    ]
    for (const [body, message] of cases) {
      await putDesired(body)
      const run = await bootstrap()
      expect([message, run.code, run.stdout.includes('DEPLOY_RESULT')]).toEqual([
        message,
        BOOTSTRAP_EXIT_REFUSED,
        false,
      ])
      expect(run.stderr).toContain(message)
      expect(run.stderr).toContain('nothing was run')
    }
    expect(ran()).toBe('')
  })
})
