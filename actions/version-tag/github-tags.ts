import type { TagApi } from '../../packages/refs/src/index.js'

function status(error: unknown): number | undefined {
  return typeof error === 'object' && error !== null && 'status' in error
    ? Number((error as { status: unknown }).status)
    : undefined
}

/**
 * TagApi over the GitHub REST API for the current repository (GITHUB_REPOSITORY).
 * @actions/github is loaded here, only when a tag is pushed, not at start-up (bench/startup).
 */
export async function githubTagApi(token: string): Promise<TagApi> {
  const github = await import('@actions/github')
  const octokit = github.getOctokit(token)
  const { owner, repo } = github.context.repo
  return {
    async getTag(tag) {
      try {
        const { data } = await octokit.rest.git.getRef({ owner, repo, ref: `tags/${tag}` })
        return { sha: data.object.sha, type: data.object.type }
      } catch (error) {
        if (status(error) === 404) return undefined
        throw error
      }
    },
    async peelTagObject(sha) {
      const { data } = await octokit.rest.git.getTag({ owner, repo, tag_sha: sha })
      return data.object.sha
    },
    async createTag(tag, sha) {
      try {
        await octokit.rest.git.createRef({ owner, repo, ref: `refs/tags/${tag}`, sha })
        return true
      } catch (error) {
        // 422 also means "the commit does not exist"; only an existing ref is a lost race.
        if (status(error) === 422 && /already exists/i.test(String((error as Error).message))) {
          return false
        }
        throw error
      }
    },
  }
}
