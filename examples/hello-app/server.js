// hello-app: the smallest service the demo deploys. It reports the version the release engine
// recorded in .deploy-release.json, and answers 500 on /health when the release has a BROKEN
// file (the demo's broken v3).
const { createServer } = require('node:http')
const { existsSync, readFileSync } = require('node:fs')
const { join } = require('node:path')

function releaseVersion() {
  try {
    return JSON.parse(readFileSync(join(__dirname, '.deploy-release.json'), 'utf8')).version
  } catch {
    return readFileSync(join(__dirname, 'VERSION'), 'utf8').trim()
  }
}

const version = releaseVersion()
const broken = existsSync(join(__dirname, 'BROKEN'))
const port = Number(process.env.HELLO_PORT || 8080)
// Loopback unless told otherwise: a host with a load balancer in front listens on 0.0.0.0.
const host = process.env.HELLO_HOST || '127.0.0.1'

createServer((request, response) => {
  if (request.url === '/health') {
    response.writeHead(broken ? 500 : 200, { 'content-type': 'application/json' })
    response.end(JSON.stringify({ status: broken ? 'broken' : 'ok', version }))
    return
  }
  response.writeHead(200, { 'content-type': 'text/plain' })
  response.end(`Hello from ${version}\n`)
}).listen(port, host, () => console.log(`hello-app ${version} on ${host}:${port}`))
