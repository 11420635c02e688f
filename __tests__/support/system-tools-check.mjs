// Jest's globalSetup: when jest runs without `npm test` (whose pretest installs them), name the
// missing system tools and their Debian packages up front; the tests that run them will fail.
import { installHint, missingTools } from '../../scripts/system-tools.mjs'

export default function warnAboutMissingTools() {
  const missing = missingTools()
  if (missing.length === 0) return
  process.stderr.write(
    `\n${missing.map(installHint).join('\n')}\nThe tests that run these will fail; \`npm test\` as root installs them first.\n`,
  )
}
