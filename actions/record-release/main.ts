import { awsClientsFromInputs, runAction } from '../../packages/github/src/index.js'
import { getInputs } from './inputs.js'
import { outputs, run } from './run.js'

await runAction({ getInputs, run, outputs }, { awsClients: awsClientsFromInputs })
