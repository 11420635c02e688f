// A bare loopback GET, free of jest: the blue-green tests' nginx and the zero-downtime benchmark
// (bench/zero-downtime) use it outside a test too.
import { get } from 'node:http'

/**
 * GETs a loopback URL; resolves with status and body, or status 0 when nothing answers.
 * Each request opens its own connection.
 */
export function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise(resolve => {
    const request = get(url, { timeout: 5000, agent: false }, response => {
      let body = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => (body += chunk))
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }))
    })
    request.on('timeout', () => request.destroy())
    request.on('error', () => resolve({ status: 0, body: '' }))
  })
}
