import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { repoRoot } from './bundled-action.js'

/**
 * `tool`, once checked to be installed; otherwise an error that names it and its Debian
 * package (scripts/system-tools.json), instead of a test failing on a missing program.
 */
export function requireTool(tool: string): string {
  try {
    execFileSync(process.execPath, [join(repoRoot, 'scripts/system-tools.mjs'), '--check'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    })
  } catch (error) {
    const report = String((error as { stderr?: Buffer }).stderr ?? '')
    const line = report.split('\n').find(text => text.startsWith(`missing system tool: ${tool} `))
    if (line) throw new Error(`${line}; \`npm test\` installs it when run as root`)
  }
  return tool
}
