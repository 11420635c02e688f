/**
 * What the query-protocol front ends (EC2, ELBv2) share: the form-encoded parameters of a
 * request, its numbered list members, and the XML they answer in.
 */
import type { IncomingMessage } from 'node:http'

/** Text escaped for an XML element or attribute. */
export function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
}

/** `<name>value</name>` with the value escaped. */
export function element(name: string, value: string | number | boolean): string {
  return `<${name}>${escapeXml(String(value))}</${name}>`
}

/** Reads the numbered members `Prefix.1`, `Prefix.2`, … of a query request, in order. */
export function numbered(params: URLSearchParams, prefix: string): Map<number, string> {
  const found = new Map<number, string>()
  const pattern = new RegExp(`^${prefix.replace(/\./g, '\\.')}\\.(\\d+)$`)
  for (const [key, value] of params) {
    const match = pattern.exec(key)
    if (match) found.set(Number(match[1]), value)
  }
  return new Map([...found].sort((a, b) => a[0] - b[0]))
}

/** The indexes N of structured members `Prefix.N.Field…` of a query request, in order. */
export function memberIndexes(params: URLSearchParams, prefix: string): number[] {
  const indexes = new Set<number>()
  const pattern = new RegExp(`^${prefix.replace(/\./g, '\\.')}\\.(\\d+)\\.`)
  for (const key of params.keys()) {
    const match = pattern.exec(key)
    if (match) indexes.add(Number(match[1]))
  }
  return [...indexes].sort((a, b) => a - b)
}

/** The parameters of a query request: the form body of a POST, then the URL's query string. */
export function queryParams(request: IncomingMessage, body: string): URLSearchParams {
  const query = new URL(request.url ?? '/', 'http://sandbox').searchParams
  const params = new URLSearchParams(request.method === 'POST' ? body : '')
  for (const [key, value] of query) if (!params.has(key)) params.set(key, value)
  return params
}
