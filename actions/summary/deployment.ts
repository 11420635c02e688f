/** What the GitHub Deployment and its status record. */
export interface DeploymentRecord {
  environment: string
  sha: string
  state: 'success' | 'failure' | 'error'
  description: string
  environmentUrl?: string | undefined
  logUrl?: string | undefined
  productionEnvironment?: boolean | undefined
}

/**
 * Creates a GitHub Deployment for the commit and sets its status, so the repository's
 * Environments page shows what is live where. Returns the deployment id.
 */
export async function recordDeployment(token: string, record: DeploymentRecord): Promise<number> {
  // Loaded only when a deployment is recorded, not at start-up (bench/startup).
  const github = await import('@actions/github')
  const octokit = github.getOctokit(token)
  const { owner, repo } = github.context.repo
  const created = await octokit.rest.repos.createDeployment({
    owner,
    repo,
    ref: record.sha,
    environment: record.environment,
    description: record.description.slice(0, 140),
    auto_merge: false,
    required_contexts: [],
    transient_environment: false,
    ...(record.productionEnvironment !== undefined
      ? { production_environment: record.productionEnvironment }
      : {}),
  })
  if (!('id' in created.data))
    throw new Error(`GitHub did not create the deployment: ${JSON.stringify(created.data)}`)
  const id = created.data.id
  await octokit.rest.repos.createDeploymentStatus({
    owner,
    repo,
    deployment_id: id,
    state: record.state,
    description: record.description.slice(0, 140),
    auto_inactive: true,
    ...(record.environmentUrl ? { environment_url: record.environmentUrl } : {}),
    ...(record.logUrl ? { log_url: record.logUrl } : {}),
  })
  return id
}
