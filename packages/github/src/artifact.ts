// The GitHub-facing workflow-artifact hand-off between the build job and the deploy job.
// Only actions/ import this file (it uses @actions/artifact, which needs the runner's
// ACTIONS_RUNTIME_TOKEN and ACTIONS_RESULTS_URL). @actions/artifact is by far the largest
// module a bundle holds: it is loaded with import() when an artifact is moved, never at
// start-up (bench/startup).
import { mkdir, mkdtemp, readdir, rename, rm } from 'node:fs/promises'
import { dirname, join, relative, resolve } from 'node:path'
import { ConfigurationError, describeValue, errorMessage } from '../../kit/src/index.js'

/** Options of {@link uploadWorkflowArtifact}. */
export interface UploadWorkflowArtifactOptions {
  /** Days the artifact is kept (1–90); undefined or 0 keeps the repository's default. */
  retentionDays?: number
}

/** What the artifact service answered for an upload. */
export interface UploadedWorkflowArtifact {
  id: number
  /** `sha256:<hex>` of what the service stored, the form a download checks; '' if not given. */
  digest: string
}

/** `sha256:<hex>` from a digest given as `<hex>` or `sha256:<hex>` (any case). */
export function normalizeArtifactDigest(digest: string): string | undefined {
  const hex = /^(?:sha256:)?([0-9a-fA-F]{64})$/.exec(digest)?.[1]
  return hex === undefined ? undefined : `sha256:${hex.toLowerCase()}`
}

/**
 * Uploads one file (the release zip) as the workflow artifact `name` and returns its id and
 * digest.
 *
 * The artifact service always wraps what it stores in a zip of its own; the file is put in
 * it uncompressed (level 0), since a release zip is already compressed, so the wrapping
 * costs time for nothing otherwise. {@link downloadWorkflowArtifact} unwraps it again.
 */
export async function uploadWorkflowArtifact(
  name: string,
  file: string,
  options: UploadWorkflowArtifactOptions = {},
): Promise<UploadedWorkflowArtifact> {
  const { DefaultArtifactClient } = await import('@actions/artifact')
  const client = new DefaultArtifactClient()
  const response = await client.uploadArtifact(name, [file], dirname(file), {
    compressionLevel: 0,
    ...(options.retentionDays ? { retentionDays: options.retentionDays } : {}),
  })
  if (response.id === undefined) {
    throw new Error(`the artifact service did not return an id for artifact ${describeValue(name)}`)
  }
  return { id: response.id, digest: normalizeArtifactDigest(response.digest ?? '') ?? '' }
}

/**
 * Downloads the workflow artifact `name` of this run into `destDir` (created if missing)
 * and returns the absolute paths of the files it held, sorted. A file of the same name
 * already in `destDir` is replaced. An artifact that does not exist is a ConfigurationError
 * that says which job must upload it. With `expectedDigest` (`sha256:<hex>`, the upload's
 * digest), a download whose digest differs is a ConfigurationError and returns nothing.
 */
export async function downloadWorkflowArtifact(
  name: string,
  destDir: string,
  options: { expectedDigest?: string | undefined } = {},
): Promise<string[]> {
  destDir = resolve(destDir)
  const { DefaultArtifactClient } = await import('@actions/artifact')
  const client = new DefaultArtifactClient()
  let id: number
  try {
    id = (await client.getArtifact(name)).artifact.id
  } catch (error) {
    if (error instanceof Error && error.name === 'ArtifactNotFoundError') {
      throw new ConfigurationError(
        `workflow artifact ${describeValue(name)} was not found in this run: ` +
          "upload it in an earlier job (package-zip with 'artifact-name') and make this job " +
          `depend on that one with 'needs' (${errorMessage(error)})`,
      )
    }
    throw error
  }
  await mkdir(destDir, { recursive: true })
  // Extract into a fresh staging directory first, so the paths returned are exactly the
  // artifact's files, not whatever destDir held before.
  const staging = await mkdtemp(join(destDir, '.artifact-'))
  try {
    const download = await client.downloadArtifact(id, {
      path: staging,
      ...(options.expectedDigest ? { expectedHash: options.expectedDigest } : {}),
    })
    if (download.digestMismatch) {
      throw new ConfigurationError(
        `input 'artifact-digest': workflow artifact ${describeValue(name)} (id ${id}) does not ` +
          `have the digest ${options.expectedDigest} that its upload reported: it changed ` +
          'after the build job uploaded it, so nothing was uploaded',
      )
    }
    const files: string[] = []
    for (const entry of await readdir(staging, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile()) continue
      const from = join(entry.parentPath, entry.name)
      const to = join(destDir, relative(staging, from))
      await mkdir(dirname(to), { recursive: true })
      await rename(from, to)
      files.push(to)
    }
    if (files.length === 0) {
      throw new Error(`workflow artifact ${describeValue(name)} (id ${id}) holds no file`)
    }
    return files.sort()
  } finally {
    await rm(staging, { recursive: true, force: true })
  }
}
