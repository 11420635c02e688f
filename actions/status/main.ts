import { awsClientsFromInputs, runAction } from '../../packages/github/src/index.js'
import { getInputs } from './inputs.js'
import { OUTPUTS_ON_FAILURE, failure, outputs, run } from './run.js'

await runAction(
  { getInputs, run, outputs, failure, outputsOnFailure: OUTPUTS_ON_FAILURE },
  { awsClients: awsClientsFromInputs },
)
