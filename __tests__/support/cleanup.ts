// After each test file: remove the temp dirs of the actions it ran (see removeActionWorkDirs).
import { afterAll } from '@jest/globals'
import { removeActionWorkDirs } from '../../dev/github-runner/src/index.js'

afterAll(() => removeActionWorkDirs())
