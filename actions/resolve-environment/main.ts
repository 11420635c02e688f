import * as core from '@actions/core'
import { Inputs } from '../../packages/kit/src/index.js'
import { runAction, runnerLogger, setOutputs } from '../../packages/github/src/index.js'
import { resolveEnvironment } from '../../packages/refs/src/index.js'

await runAction(async () => {
  const inputs = new Inputs()
  const result = resolveEnvironment(
    {
      rules: inputs.required('rules'),
      ref: inputs.string('ref', process.env.GITHUB_REF ?? ''),
      environment: inputs.optional('environment'),
      version: inputs.optional('version'),
      production: inputs.list('production', ['prod', 'production']),
      onNoMatch: inputs.enum('on-no-match', ['skip', 'fail'], 'skip'),
    },
    runnerLogger,
  )
  setOutputs({
    environment: result.environment,
    'ref-name': result.refName,
    'ref-type': result.refType,
    deploy: result.deploy,
    'is-production': result.isProduction,
    'matched-rule': result.matchedRule,
  })
  if (result.noMatch) {
    core.notice(result.noMatch.message, { title: 'Nothing deployed' })
    await core.summary.addRaw(result.noMatch.markdown, true).write()
  }
})
