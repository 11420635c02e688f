// What the actions' getInputs tests give them: a run's GITHUB_* variables, and inputs by name.
import type { InputSource } from '../../packages/kit/src/index.js'

/** The GitHub run a record names. */
export const RUN_ENV = {
  GITHUB_SERVER_URL: 'https://github.com',
  GITHUB_REPOSITORY: 'octo-org/octo-repo',
  GITHUB_RUN_ID: '42',
  GITHUB_SHA: 'c0ffee0000000000000000000000000000000001',
  GITHUB_ACTOR: 'octocat',
}

/** Inputs by name; an unset one reads as empty, as on the runner. */
export const inputSource =
  (values: Record<string, string>): InputSource =>
  name =>
    values[name] ?? ''
