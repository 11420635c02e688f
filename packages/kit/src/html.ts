const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
}

/** Escapes text for HTML (and so for GitHub's Markdown job summary), so it shows as text. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, c => HTML_ESCAPES[c] ?? c)
}

const MARKDOWN_ESCAPES: Record<string, string> = {
  '[': '&#91;',
  ']': '&#93;',
  '|': '&#124;',
  '`': '&#96;',
  '*': '&#42;',
  _: '&#95;',
  '\\': '&#92;',
  '~': '&#126;',
  '#': '&#35;',
  '!': '&#33;',
}

/**
 * Escapes text for one line of GitHub Markdown, e.g. a table cell: HTML is escaped, Markdown
 * syntax (links, emphasis, code, table pipes) is written as entities, and line breaks become
 * spaces, so untrusted text can neither inject markup nor break the table.
 */
export function escapeMarkdown(value: string): string {
  return escapeHtml(value)
    .replace(/[[\]|`*_\\~#!]/g, c => MARKDOWN_ESCAPES[c] ?? c)
    .replace(/\r\n|\r|\n/g, ' ')
}
