import { ConfigurationError, Inputs } from '../../packages/kit/src/index.js'
import { runAction, runnerLogger, setOutputs } from '../../packages/github/src/index.js'
import {
  DEFAULT_BASE_VERSION,
  DEFAULT_FORMAT,
  computeVersion,
  ensureTag,
  isShallow,
  normalizeSha,
  reachableTags,
} from '../../packages/refs/src/index.js'
import { githubTagApi } from './github-tags.js'

await runAction(async () => {
  const inputs = new Inputs()
  // Checked before git sees it, so it can never be read as an option.
  const sha = normalizeSha(inputs.string('sha', process.env.GITHUB_SHA ?? ''))
  const version = inputs.optional('version')
  const cwd = inputs.string('working-directory', '.')
  const pushTag = inputs.boolean('push-tag', false)

  const tags = version === undefined ? await reachableTags(cwd, sha) : []
  if (tags !== undefined && tags.length === 0 && version === undefined && (await isShallow(cwd))) {
    runnerLogger.warning(
      "This is a shallow checkout, so tags may be missing: use actions/checkout with 'fetch-depth: 0'.",
    )
  }
  const result = computeVersion(
    {
      ref: inputs.string('ref', process.env.GITHUB_REF ?? ''),
      sha,
      version,
      baseVersion: inputs.string('base-version', DEFAULT_BASE_VERSION),
      format: inputs.string('format', DEFAULT_FORMAT),
      reachableTags: tags,
      runNumber: process.env.GITHUB_RUN_NUMBER,
    },
    runnerLogger,
  )
  if (pushTag) {
    const token = inputs.optional('token')
    if (token === undefined) {
      throw new ConfigurationError("input 'push-tag' is true but input 'token' is empty")
    }
    await ensureTag(await githubTagApi(token), result.version, result.sha, runnerLogger)
  }
  runnerLogger.info(`Version: ${result.version} (semver ${result.semver})`)
  setOutputs({
    version: result.version,
    semver: result.semver,
    sha: result.sha,
    'short-sha': result.shortSha,
    'branch-slug': result.branchSlug,
    'is-release': result.isRelease,
  })
})
