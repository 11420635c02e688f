// Renders a job summary the way GitHub does (CommonMark + GFM: tables, autolink literals, raw
// HTML) and tells what a reader sees, so tests assert on the page rather than the markdown.
import { micromark } from 'micromark'
import { gfm, gfmHtml } from 'micromark-extension-gfm'

export interface RenderedSummary {
  html: string
  /** The page's text as a reader sees it (tags dropped, entities decoded, no zero-width spaces). */
  text: string
  /** Links on the page. */
  links: string[]
  /** `@name` a GitHub page would turn into a mention (text outside code, pre and links). */
  mentions: string[]
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }

function decode(html: string): string {
  return html.replace(/&(#x[0-9a-f]+|#\d+|\w+);/gi, (whole, name: string) => {
    if (name.startsWith('#x') || name.startsWith('#X'))
      return String.fromCodePoint(parseInt(name.slice(2), 16))
    if (name.startsWith('#')) return String.fromCodePoint(Number(name.slice(1)))
    return ENTITIES[name] ?? whole
  })
}

export function renderSummaryHtml(markdown: string): RenderedSummary {
  const html = micromark(markdown, {
    allowDangerousHtml: true,
    extensions: [gfm()],
    htmlExtensions: [gfmHtml()],
  })
  const text = decode(html.replace(/<[^>]*>/g, '')).replace(/\u200b/g, '')
  const links = [...html.matchAll(/<a href="([^"]*)"/g)].map(m => decode(m[1] ?? ''))
  const outsideCode = html.replace(/<(code|pre|a)\b[^>]*>[\s\S]*?<\/\1>/g, '')
  const mentions = [
    ...decode(outsideCode.replace(/<[^>]*>/g, '')).matchAll(/(?<![\w`])@[A-Za-z0-9][\w-]*/g),
  ].map(m => m[0])
  return { html, text, links, mentions }
}

/** The cells of the first table on the page, row by row, as text. */
export function tableRows(html: string): string[][] {
  const table = /<table>([\s\S]*?)<\/table>/.exec(html)?.[1] ?? ''
  return [...table.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map(row =>
    [...(row[1] ?? '').matchAll(/<t[hd][^>]*>([\s\S]*?)<\/t[hd]>/g)].map(cell =>
      decode((cell[1] ?? '').replace(/<[^>]*>/g, '')).replace(/\u200b/g, ''),
    ),
  )
}

/** The items of every list on the page, as text. */
export function listItems(html: string): string[] {
  return [...html.matchAll(/<li>([\s\S]*?)<\/li>/g)].map(item =>
    decode((item[1] ?? '').replace(/<[^>]*>/g, '')).replace(/\u200b/g, ''),
  )
}
