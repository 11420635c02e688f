// The rollback picker: the versions recorded as deployed to the environment (record-release's
// `rollback-versions`, or s3-upload's after a failed deploy), each with the line that puts it back. Versions are hostile: only those
// the version rule accepts are offered, and every one is escaped.
import { VERSION_RULE, fitsRule } from '../../kit/src/index.js'
import { code, count, text } from './markdown.js'
import { parseDispatchTarget, rollbackCommand } from './rollback.js'
import type { RollbackVersion } from './results.js'

/** The picker offers at most this many versions, newest first. */
export const PICKER_LIMIT = 10

const RECORD_TIME = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})Z$/

/** What the picker needs of the run. */
export interface PickerInput {
  environment?: string | undefined
  rollbackWorkflow?: string | undefined
  rollbackVersions?: RollbackVersion[] | undefined
}

/** The sentence for a reader without a command line: which dispatch inputs to fill in. */
export function dispatchByHand(version: string, environment: string | undefined): string {
  return `Run this workflow from the Actions tab with \`version\` = ${version} and \`environment\` = ${
    environment ? code(environment) : 'the environment to roll back'
  }.`
}

function deployedAt(value: unknown): string {
  const match = typeof value === 'string' ? RECORD_TIME.exec(value) : null
  return match ? `, deployed ${match[1]} ${match[2]} UTC` : ''
}

/**
 * The versions to pick from, under a `### Roll back` heading unless the page has one already
 * (`underHeading`); nothing without versions. The versions in `shown` are not offered: the one
 * every host serves now, and one the page offers already.
 */
export function pickerSection(
  input: PickerInput,
  shown: ReadonlySet<string>,
  underHeading: boolean,
): string[] {
  const versions = (input.rollbackVersions ?? [])
    .filter(
      (v): v is RollbackVersion & { version: string } =>
        typeof v.version === 'string' && fitsRule(v.version, VERSION_RULE) && !shown.has(v.version),
    )
    .slice(0, PICKER_LIMIT)
  if (versions.length === 0) return []
  const { environment } = input
  const target = parseDispatchTarget(input.rollbackWorkflow)
  const where = environment ? ` to ${text(environment)}` : ''
  const lines = underHeading ? [] : ['### Roll back', '']
  const commands = versions.map(v =>
    target && environment ? rollbackCommand(target, environment, v.version) : undefined,
  )
  if (commands.every(c => c !== undefined)) {
    lines.push(
      `<details><summary>${count(versions.length, underHeading ? 'other version' : 'version')} deployed${where} before, newest first, each with the line that puts it back</summary>`,
      '',
    )
    versions.forEach((v, i) =>
      lines.push(
        `${code(v.version)}${deployedAt(v.deployedAt)}`,
        '',
        '```sh',
        commands[i] as string,
        '```',
        '',
      ),
    )
    lines.push('</details>', '')
    return lines
  }
  lines.push(`Versions deployed${where} before, newest first:`, '')
  for (const v of versions) lines.push(`- ${code(v.version)}${deployedAt(v.deployedAt)}`)
  lines.push('', dispatchByHand('one of these', environment), '')
  return lines
}
