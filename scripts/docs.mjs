#!/usr/bin/env node
// Writes each action's input and output tables into README.md from its action.yml, between
// `<!-- action-docs:NAME -->` and `<!-- /action-docs:NAME -->`, so the docs cannot drift.
// Usage: node scripts/docs.mjs          rewrite README.md
//        node scripts/docs.mjs --check  exit 1 when README.md is out of date
import { readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'

const root = resolve(fileURLToPath(import.meta.url), '../..')
const readmePath = join(root, 'README.md')

const cell = text =>
  String(text ?? '')
    .replace(/\s*\n\s*/g, ' ')
    .replace(/\|/g, '\\|')
    .trim()
const code = value =>
  value === undefined || value === '' ? '' : `\`${cell(value).replace(/`/g, "'")}\``

function tables(name) {
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
  lines.push('', '| Output | Description |', '|---|---|')
  for (const [output, spec] of Object.entries(action.outputs ?? {})) {
    lines.push(`| \`${output}\` | ${cell(spec.description)} |`)
  }
  return lines.join('\n')
}

const names = readdirSync(join(root, 'actions'), { withFileTypes: true })
  .filter(
    entry => entry.isDirectory() && existsSync(join(root, 'actions', entry.name, 'action.yml')),
  )
  .map(entry => entry.name)

const before = readFileSync(readmePath, 'utf8')
let after = before
const missing = []
for (const name of names) {
  const block = new RegExp(
    `(<!-- action-docs:${name} -->)[\\s\\S]*?(<!-- /action-docs:${name} -->)`,
  )
  if (!block.test(after)) missing.push(name)
  else after = after.replace(block, (_all, open, close) => `${open}\n${tables(name)}\n${close}`)
}
if (missing.length > 0) {
  console.error(`README.md has no <!-- action-docs:NAME --> block for: ${missing.join(', ')}`)
  process.exitCode = 1
}
if (process.argv.includes('--check')) {
  if (after !== before) {
    console.error('README.md action tables are out of date: run `npm run docs`.')
    process.exit(1)
  }
  console.log('README.md action tables match action.yml.')
} else if (after !== before) {
  writeFileSync(readmePath, after)
  console.log('README.md action tables updated.')
}
