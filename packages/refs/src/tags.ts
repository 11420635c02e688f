import { ConfigurationError, describeValue, type Logger } from '../../kit/src/index.js'

/** The few git-ref calls of the GitHub API that pushing a tag needs. */
export interface TagApi {
  /** The object a tag ref points at, or undefined when the tag does not exist. */
  getTag(tag: string): Promise<{ sha: string; type: string } | undefined>
  /** The commit an annotated tag object points at. */
  peelTagObject(sha: string): Promise<string>
  /** Creates refs/tags/<tag>; returns false when it already exists (lost a race). */
  createTag(tag: string, sha: string): Promise<boolean>
}

async function commitOfTag(api: TagApi, tag: string): Promise<string | undefined> {
  const ref = await api.getTag(tag)
  if (!ref) return undefined
  return ref.type === 'tag' ? api.peelTagObject(ref.sha) : ref.sha
}

/**
 * Makes sure tag `tag` points at commit `sha`. Idempotent: an existing tag on the same
 * commit is fine; one on another commit is an error, because versions are immutable.
 */
export async function ensureTag(
  api: TagApi,
  tag: string,
  sha: string,
  logger?: Logger,
): Promise<'created' | 'exists'> {
  const check = (existing: string): 'exists' => {
    if (existing !== sha) {
      throw new ConfigurationError(
        `tag ${describeValue(tag)} already exists on commit ${existing}, not on ${sha}: ` +
          'versions are immutable, so bump the version (or delete the tag if it was a mistake)',
      )
    }
    logger?.info(`Tag ${tag} already points at ${sha.slice(0, 7)}.`)
    return 'exists'
  }
  const existing = await commitOfTag(api, tag)
  if (existing !== undefined) return check(existing)
  if (await api.createTag(tag, sha)) {
    logger?.info(`Created tag ${tag} on ${sha.slice(0, 7)}.`)
    return 'created'
  }
  // Someone created it between our read and our write: judge what they created.
  const raced = await commitOfTag(api, tag)
  if (raced === undefined) throw new Error(`creating tag ${tag} failed and the tag does not exist`)
  return check(raced)
}
