import type { ActionDeps, OutputValues } from '../../packages/github/src/index.js'
import {
  computeVersion,
  ensureTag,
  isShallow,
  reachableTags,
  type VersionResult,
} from '../../packages/refs/src/index.js'
import { githubTagApi } from './github-tags.js'
import type { VersionTagInputs } from './inputs.js'

/** Computes the build's version from the ref and the reachable tags, and pushes its tag if asked. */
export async function run(inputs: VersionTagInputs, deps: ActionDeps): Promise<VersionResult> {
  const { logger } = deps
  const { cwd } = inputs
  const explicit = inputs.version.version
  const tags = explicit === undefined ? await reachableTags(cwd, inputs.version.sha) : []
  if (tags !== undefined && tags.length === 0 && explicit === undefined && (await isShallow(cwd))) {
    logger.warning(
      "This is a shallow checkout, so tags may be missing: use actions/checkout with 'fetch-depth: 0'.",
    )
  }
  const result = computeVersion({ ...inputs.version, reachableTags: tags }, logger)
  if (inputs.pushToken !== undefined) {
    await ensureTag(await githubTagApi(inputs.pushToken), result.version, result.sha, logger)
  }
  logger.info(`Version: ${result.version} (semver ${result.semver})`)
  return result
}

/** The action's outputs, by their action.yml names. */
export function outputs(result: VersionResult): OutputValues {
  return {
    version: result.version,
    semver: result.semver,
    sha: result.sha,
    'short-sha': result.shortSha,
    'branch-slug': result.branchSlug,
    'is-release': result.isRelease,
  }
}
