import { describe, expect, it } from '@jest/globals'
import { ConfigurationError, Inputs } from '../../packages/kit/src/index.js'
import { readRemoteOptions } from '../../packages/fleet/src/index.js'
import { engineVariables } from '../../packages/remote/src/index.js'

// The inputs ssm-deploy and verify-health's rollback share, read into the engine's options.
const inputsOf = (values: Record<string, string>) => new Inputs(name => values[name] ?? '')
const base = { 'deploy-dir': '/srv/app', version: 'v1.0.0', 'artifact-uri': 's3://bkt/a.zip' }

describe('health-version', () => {
  it('defaults to true and reaches the engine as EC2D_HEALTH_VERSION', () => {
    const options = readRemoteOptions(inputsOf(base))
    expect(options.healthVersion).toBe(true)
    const variables = engineVariables({ ...options, artifactSha256: 'a'.repeat(64) })
    expect(variables['EC2D_HEALTH_VERSION']).toBe('true')
  })

  it("is false with 'false', in deploy and rollback mode", () => {
    const inputs = inputsOf({ ...base, 'health-version': 'false' })
    expect(readRemoteOptions(inputs).healthVersion).toBe(false)
    expect(readRemoteOptions(inputs, 'rollback').healthVersion).toBe(false)
  })

  it('refuses anything else, naming the input, the value and the rule', () => {
    let error: unknown
    try {
      readRemoteOptions(inputsOf({ ...base, 'health-version': 'no' }))
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(ConfigurationError)
    expect((error as Error).message).toBe(
      `input 'health-version': "no" is not valid: use 'true' or 'false'`,
    )
  })
})
