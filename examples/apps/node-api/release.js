// What a release knows about itself: its directory, version and settings.
const { readFileSync } = require('node:fs')
const { join } = require('node:path')

// The release's own directory. Node resolves the main script's symlinks, so a process started
// through current/server.js still reports the release it was started from.
const releaseDir = __dirname

/** The version= line of the release's REVISION file, else DEPLOY_VERSION, else 'unknown'. */
function releaseVersion() {
  try {
    const text = readFileSync(join(releaseDir, 'REVISION'), 'utf8')
    const line = text.split('\n').find(l => l.startsWith('version='))
    if (line && line.length > 'version='.length) return line.slice('version='.length).trim()
  } catch {
    // no REVISION: a release packaged before the engine wrote one
  }
  return process.env.DEPLOY_VERSION || 'unknown'
}

/** KEY=VALUE lines of the release's .env (a shared path); # comments and blank lines skipped. */
function readEnvFile() {
  const values = {}
  let text = ''
  try {
    text = readFileSync(join(releaseDir, '.env'), 'utf8')
  } catch {
    return values
  }
  for (const line of text.split('\n')) {
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line)
    if (match) values[match[1]] = match[2]
  }
  return values
}

module.exports = { releaseDir, releaseVersion, readEnvFile }
