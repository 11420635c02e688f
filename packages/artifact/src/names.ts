// Allow-patterns for the values package-zip turns into file names (and, later, S3 keys).
import type { NameRule } from '../../kit/src/index.js'

/** The zip's file name after placeholders are filled in: one path part, no directories. */
export const ZIP_NAME_RULE: NameRule = {
  pattern: /^[A-Za-z0-9][A-Za-z0-9._+-]*$/,
  rule:
    "use a plain file name: start with a letter or digit, then letters, digits, '.', '_', " +
    "'-' and '+' (no '/'; put the directory in 'output-dir')",
  maxLength: 200,
}

/** Workflow artifact names, kept to what every tool that handles them accepts. */
export const ARTIFACT_NAME_RULE: NameRule = {
  pattern: /^[A-Za-z0-9][A-Za-z0-9._+-]*$/,
  rule: "start with a letter or digit, then use letters, digits, '.', '_', '-' and '+'",
  maxLength: 128,
}
