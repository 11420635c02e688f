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

// One pass over the text: escaping HTML first and Markdown after would escape the '#' of
// '&#39;' again and show the entity itself.
const MARKDOWN_ESCAPES: Record<string, string> = {
  ...HTML_ESCAPES,
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

/** A zero-width space: it breaks an @mention or an autolink and leaves the text as it reads. */
const BREAK = '&#8203;'

/**
 * Escapes text for one line of GitHub Markdown, e.g. a table cell: HTML and Markdown syntax
 * (links, emphasis, code, table pipes) are written as entities, line breaks become spaces, and
 * @mentions and the bare URLs GFM would link (`http(s)://…`, `ftp://…`, `www.…`, e-mail
 * addresses) stay plain text, so untrusted text can neither inject markup, break the table,
 * notify people nor become a link.
 */
export function escapeMarkdown(value: string): string {
  return value
    .replace(/[&<>"'[\]|`*_\\~#!]/g, c => MARKDOWN_ESCAPES[c] ?? c)
    .replace(/\r\n|\r|\n/g, ' ')
    .replace(/@/g, `@${BREAK}`)
    .replace(/(https?|ftp):\/\//gi, `$1:${BREAK}//`)
    .replace(/(www)\./gi, `$1${BREAK}.`)
}
