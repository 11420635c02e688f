import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import {
  Inputs,
  VERSION_RULE,
  assertSafeName,
  renderTemplate,
} from '../../packages/kit/src/index.js'
import { runAction, runnerLogger, setOutputs } from '../../packages/github/src/index.js'
import { uploadWorkflowArtifact } from '../../packages/github/src/index.js'
import {
  APP_RULE,
  DEFAULT_LEVEL,
  ARTIFACT_NAME_RULE,
  SYMLINK_POLICIES,
  ZIP_NAME_RULE,
  packageZip,
  resolveTimestamp,
} from '../../packages/artifact/src/index.js'

await runAction(async () => {
  const inputs = new Inputs()
  const optionalName = (input: string, rule: typeof APP_RULE): string | undefined => {
    const value = inputs.optional(input)
    return value === undefined ? undefined : assertSafeName(`input '${input}'`, value, rule)
  }
  const app = optionalName('app', APP_RULE)
  const version = optionalName('version', VERSION_RULE)
  const name = assertSafeName(
    "input 'name'",
    renderTemplate('name', inputs.string('name', '{app}-{version}.zip'), { app, version }),
    ZIP_NAME_RULE,
  )
  const root = inputs.string('path', '.')
  const include = inputs.lines('include')
  const exclude = inputs.lines('exclude')
  const level = inputs.integer('level', DEFAULT_LEVEL, { min: 0, max: 9 })
  const symlinks = inputs.enum('symlinks', SYMLINK_POLICIES, 'error')
  const artifactName = optionalName('artifact-name', ARTIFACT_NAME_RULE)
  const retentionDays = inputs.integer('retention-days', 0, { min: 0, max: 90 })
  const outputDir = inputs.string('output-dir', process.env.RUNNER_TEMP || tmpdir())

  const timestamp = await resolveTimestamp({
    sourceDateEpoch: process.env.SOURCE_DATE_EPOCH,
    sha: process.env.GITHUB_SHA,
    cwd: resolve(root),
  })
  runnerLogger.info(
    `Entry timestamp: ${new Date(timestamp.epochSeconds * 1000).toISOString()} (${timestamp.source})`,
  )
  const result = await packageZip({
    root,
    include: include.length > 0 ? include : ['**'],
    exclude,
    symlinks,
    level,
    outputFile: join(resolve(outputDir), name),
    epochSeconds: timestamp.epochSeconds,
    logger: runnerLogger,
  })
  runnerLogger.info(`Wrote ${result.file}: ${result.size} bytes, sha256 ${result.sha256}`)

  let artifact = { id: '', digest: '' }
  if (artifactName !== undefined) {
    const { id, digest } = await uploadWorkflowArtifact(artifactName, result.file, {
      retentionDays,
    })
    artifact = { id: String(id), digest }
    runnerLogger.info(
      `Uploaded workflow artifact ${artifactName} (id ${id}, digest ${digest || 'not reported'})`,
    )
  }
  setOutputs({
    file: result.file,
    sha256: result.sha256,
    size: result.size,
    files: result.files,
    'artifact-id': artifact.id,
    'artifact-digest': artifact.digest,
  })
})
