#!/usr/bin/env node
// Writes the generated reference tables, so the docs cannot drift from the metadata:
//   - each action's inputs and outputs into docs/actions/NAME.md from its action.yml, between
//     `<!-- action-docs:NAME -->` and `<!-- /action-docs:NAME -->`;
//   - the reusable workflow's inputs and outputs into docs/workflow.md from
//     .github/workflows/deploy.yml, between `<!-- workflow-docs:deploy -->` and its end mark.
// Usage: node scripts/docs.mjs          rewrite the files
//        node scripts/docs.mjs --check  exit 1 when a file is out of date
import { readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'

const root = resolve(fileURLToPath(import.meta.url), '../..')

const cell = text =>
  String(text ?? '')
    .replace(/\s*\n\s*/g, ' ')
    .replace(/\|/g, '\\|')
    .trim()
const code = value =>
  value === undefined || value === '' ? '' : `\`${cell(value).replace(/`/g, "'")}\``

function outputRows(outputs) {
  const lines = ['| Output | Description |', '|---|---|']
  for (const [output, spec] of Object.entries(outputs ?? {})) {
    lines.push(`| \`${output}\` | ${cell(spec.description)} |`)
  }
  return lines
}

function actionTables(name) {
  const action = parse(readFileSync(join(root, 'actions', name, 'action.yml'), 'utf8'))
  const lines = [
    `_${cell(action.description)}_`,
    '',
    '| Input | Required | Default | Description |',
    '|---|---|---|---|',
  ]
  for (const [input, spec] of Object.entries(action.inputs ?? {})) {
    lines.push(
      `| \`${input}\` | ${spec.required ? 'yes' : 'no'} | ${code(spec.default)} | ${cell(spec.description)} |`,
    )
  }
  lines.push('', ...outputRows(action.outputs))
  return lines.join('\n')
}

function workflowTables(name) {
  const workflow = parse(readFileSync(join(root, '.github/workflows', `${name}.yml`), 'utf8'))
  const call = workflow.on?.workflow_call ?? {}
  const lines = ['| Input | Type | Required | Default | Description |', '|---|---|---|---|---|']
  for (const [input, spec] of Object.entries(call.inputs ?? {})) {
    lines.push(
      `| \`${input}\` | ${spec.type} | ${spec.required ? 'yes' : 'no'} | ${code(spec.default)} | ${cell(spec.description)} |`,
    )
  }
  if (call.secrets) {
    lines.push('', '| Secret | Required | Description |', '|---|---|---|')
    for (const [secret, spec] of Object.entries(call.secrets)) {
      lines.push(
        `| \`${secret}\` | ${spec?.required ? 'yes' : 'no'} | ${cell(spec?.description)} |`,
      )
    }
  }
  lines.push('', ...outputRows(call.outputs))
  return lines.join('\n')
}

/** Replaces every `<!-- KIND:NAME -->` block of `file` with `render(NAME)`. */
function fill(file, kind, names, render) {
  const before = readFileSync(join(root, file), 'utf8')
  let after = before
  const missing = []
  for (const name of names) {
    const block = new RegExp(`(<!-- ${kind}:${name} -->)[\\s\\S]*?(<!-- /${kind}:${name} -->)`)
    if (!block.test(after)) missing.push(name)
    else after = after.replace(block, (_all, open, close) => `${open}\n${render(name)}\n${close}`)
  }
  if (missing.length > 0) {
    console.error(`${file} has no <!-- ${kind}:NAME --> block for: ${missing.join(', ')}`)
    process.exitCode = 1
  }
  return { file, before, after }
}

const actions = readdirSync(join(root, 'actions'), { withFileTypes: true })
  .filter(
    entry => entry.isDirectory() && existsSync(join(root, 'actions', entry.name, 'action.yml')),
  )
  .map(entry => entry.name)

const files = [
  ...actions.map(name => fill(`docs/actions/${name}.md`, 'action-docs', [name], actionTables)),
  fill('docs/workflow.md', 'workflow-docs', ['deploy'], workflowTables),
]
const stale = files.filter(({ before, after }) => before !== after)
if (process.argv.includes('--check')) {
  for (const { file } of stale)
    console.error(`${file}: tables are out of date: run \`npm run docs\`.`)
  if (stale.length > 0) process.exit(1)
  console.log('The tables in docs/ match every action.yml and deploy.yml.')
} else {
  for (const { file, after } of stale) {
    writeFileSync(join(root, file), after)
    console.log(`${file} tables updated.`)
  }
}
