import { join, resolve } from 'node:path'
import type { ActionDeps, OutputValues } from '../../packages/github/src/index.js'
import { uploadWorkflowArtifact } from '../../packages/github/src/index.js'
import {
  packageZip,
  resolveTimestamp,
  type PackageZipResult,
} from '../../packages/artifact/src/index.js'
import type { PackageZipInputs } from './inputs.js'

/** The zip written, and the workflow artifact it was uploaded as ('' when not uploaded). */
export interface PackageResult {
  zip: PackageZipResult
  artifact: { id: string; digest: string }
}

/** Packs the release into a reproducible zip, and uploads it as a workflow artifact if asked. */
export async function run(inputs: PackageZipInputs, deps: ActionDeps): Promise<PackageResult> {
  const { logger, env } = deps
  const timestamp = await resolveTimestamp({
    sourceDateEpoch: env.SOURCE_DATE_EPOCH,
    sha: env.GITHUB_SHA,
    cwd: resolve(inputs.root),
  })
  logger.info(
    `Entry timestamp: ${new Date(timestamp.epochSeconds * 1000).toISOString()} (${timestamp.source})`,
  )
  const zip = await packageZip({
    root: inputs.root,
    include: inputs.include,
    exclude: inputs.exclude,
    symlinks: inputs.symlinks,
    level: inputs.level,
    outputFile: join(resolve(inputs.outputDir), inputs.name),
    epochSeconds: timestamp.epochSeconds,
    logger,
  })
  logger.info(`Wrote ${zip.file}: ${zip.size} bytes, sha256 ${zip.sha256}`)

  if (inputs.artifactName === undefined) return { zip, artifact: { id: '', digest: '' } }
  const { id, digest } = await uploadWorkflowArtifact(inputs.artifactName, zip.file, {
    retentionDays: inputs.retentionDays,
  })
  logger.info(
    `Uploaded workflow artifact ${inputs.artifactName} (id ${id}, digest ${digest || 'not reported'})`,
  )
  return { zip, artifact: { id: String(id), digest } }
}

/** The action's outputs, by their action.yml names. */
export function outputs({ zip, artifact }: PackageResult): OutputValues {
  return {
    file: zip.file,
    sha256: zip.sha256,
    size: zip.size,
    files: zip.files,
    'artifact-id': artifact.id,
    'artifact-digest': artifact.digest,
  }
}
