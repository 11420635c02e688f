/**
 * The entry point for `npx @github/local-action` (see .env.example), which wants a module that
 * exports run(): it imports actions/<name>/main.ts, which runs the action, for the action
 * directory local-action was given (it passes it on as TARGET_ACTION_PATH).
 */
import { basename, dirname, resolve } from 'node:path'

export async function run(): Promise<void> {
  const dir = resolve(process.env.TARGET_ACTION_PATH ?? '')
  const name = basename(dir)
  if (basename(dirname(dir)) !== 'actions' || !/^[a-z][a-z0-9-]*$/.test(name)) {
    throw new Error(
      `action path ${JSON.stringify(dir)} is not valid: give local-action an action's directory, e.g. actions/version-tag`,
    )
  }
  await import(`../actions/${name}/main.js`)
}
