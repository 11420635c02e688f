import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { startSandbox, type Sandbox } from '../../dev/aws-sandbox/src/index.js'
import { Site, sampleEntries } from '../remote/support/site.js'
import { runBundledAction } from '../support/bundled-action.js'
import { readAsRunner } from '../support/workflow-commands.js'

// An EC2 tag is anyone's text who may tag instances: logged by the bundled actions, it must
// read as text in the runner's log and never run a workflow command (here: mask "v1").
const HOSTILE_NAME = 'web\n::add-mask::v1'
const HOST = 'i-0000000000000e001'
let sandbox: Sandbox
let site: Site

beforeAll(async () => {
  site = await Site.create()
  sandbox = await startSandbox({ instances: [{ id: HOST, name: HOSTILE_NAME }] })
})
afterAll(async () => {
  await sandbox?.close()
  await site?.close()
})

const env = () => ({ ...sandbox.env, GITHUB_REPOSITORY: 'acme/app' }) as Record<string, string>

function expectShownAsText(stdout: string) {
  const log = readAsRunner(stdout)
  expect(log.masks).toEqual([])
  expect(log.commands.filter(c => c.name === 'add-mask')).toEqual([])
  // The tag's second line is shown as it is, at the start of a line.
  expect(log.text.filter(line => line.startsWith('::add-mask::v1'))).not.toEqual([])
}

describe('untrusted tags in the log, read as the runner reads it', () => {
  it('find-instance prints a hostile Name tag as text', async () => {
    const run = await runBundledAction('find-instance', {
      inputs: { 'instance-ids': HOST },
      env: env(),
    })
    expect(run.exitCode).toBe(0)
    expect(JSON.parse(run.outputs.instances ?? '[]')[0].name).toBe(HOSTILE_NAME)
    expect(run.stdout).toContain(HOSTILE_NAME)
    expectShownAsText(run.stdout)
  })

  it('ssm-deploy prints a hostile Name tag as text', async () => {
    const artifact = site.artifact('v1.0.0', sampleEntries('v1.0.0'))
    const run = await runBundledAction('ssm-deploy', {
      inputs: {
        'instance-ids': JSON.stringify([HOST]),
        version: 'v1.0.0',
        'app-name': 'sample',
        'deploy-dir': site.deployDir,
        'artifact-uri': artifact.artifactUri,
        'artifact-sha256': artifact.artifactSha256,
        download: 'presigned',
      },
      env: env(),
    })
    expect(run.errors).toEqual([])
    expect(JSON.parse(run.outputs.results ?? '[]')[0]).toMatchObject({
      name: HOSTILE_NAME,
      status: 'success',
    })
    expect(run.stdout).toContain(`${HOST} (${HOSTILE_NAME}): success`)
    expectShownAsText(run.stdout)
  })
})
