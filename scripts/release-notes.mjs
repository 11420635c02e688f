#!/usr/bin/env node
/**
 * Prints the CHANGELOG.md section of a release tag, the release's notes:
 *   node scripts/release-notes.mjs v1.2.3 [CHANGELOG.md]
 * Fails, naming the tag, when the tag is not vX.Y.Z or CHANGELOG.md has no `## [X.Y.Z]` section
 * with some text in it: a release is never published without its notes.
 */
import { readFileSync } from 'node:fs'
import { URL } from 'node:url'

/** The body of the `## [version]` section of `changelog`, or undefined. */
function releaseNotes(changelog, version) {
  const lines = changelog.split('\n')
  const start = lines.findIndex(line => line.startsWith(`## [${version}]`))
  if (start < 0) return undefined
  const end = lines.findIndex((line, index) => index > start && line.startsWith('## '))
  const body = lines
    .slice(start + 1, end < 0 ? undefined : end)
    .join('\n')
    .trim()
  return body === '' ? undefined : body
}

const tag = process.argv[2] ?? ''
const match = /^v(\d+\.\d+\.\d+)$/.exec(tag)
if (!match) {
  console.error(`release-notes: tag ${JSON.stringify(tag)} is not valid: use vX.Y.Z, e.g. v1.2.3`)
  process.exit(1)
}
const changelog = process.argv[3] ?? new URL('../CHANGELOG.md', import.meta.url)
const notes = releaseNotes(readFileSync(changelog, 'utf8'), match[1])
if (notes === undefined) {
  console.error(
    `release-notes: CHANGELOG.md has no "## [${match[1]}]" section for tag ${tag}: add one before tagging`,
  )
  process.exit(1)
}
console.log(notes)
