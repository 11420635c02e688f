import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { SendCommandCommand } from '@aws-sdk/client-ssm'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { sandboxClients, startSandbox, type Sandbox } from '../../dev/aws-sandbox/src/index.js'

// Several instances can use one absolute path, as separate hosts do: each has its own copy.
const SHARED_PATH = '/srv/ec2d-sandbox-private-test'
let sandbox: Sandbox
beforeAll(async () => {
  sandbox = await startSandbox({ instances: 2, privateDirs: [SHARED_PATH] })
})
afterAll(async () => sandbox?.close())

describe('private directories', () => {
  it('give each instance its own tree at the same path, also for services it starts', async () => {
    const { ssm } = sandboxClients(sandbox)
    const ids = sandbox.instances.map(i => i.id)
    const sent = await ssm.send(
      new SendCommandCommand({
        DocumentName: 'AWS-RunShellScript',
        InstanceIds: ids,
        Parameters: {
          commands: [
            `echo "$AWS_SSM_INSTANCE_ID" > ${SHARED_PATH}/who`,
            // A detached child (like a service) sees the same private tree.
            `setsid sh -c 'sleep 0.2; cat ${SHARED_PATH}/who > ${SHARED_PATH}/child-saw' &`,
            'sleep 0.5',
          ],
        },
      }),
    )
    await sandbox.ssm.whenDone(sent.Command?.CommandId ?? '')
    for (const instance of sandbox.instances) {
      const own = join(instance.dir, 'root', SHARED_PATH)
      expect(readFileSync(join(own, 'who'), 'utf8').trim()).toBe(instance.id)
      expect(readFileSync(join(own, 'child-saw'), 'utf8').trim()).toBe(instance.id)
    }
    // Nothing landed on the machine's own directory.
    expect(existsSync(join(SHARED_PATH, 'who'))).toBe(false)
  })
})
