// node-api: the small HTTP API of the node-pm2 example. /health answers with the version of
// the release this process was started from, so a stale process is caught by the health check.
const { createServer } = require('node:http')
const { releaseVersion, readEnvFile } = require('./release.js')

const settings = { ...readEnvFile(), ...process.env }
const version = releaseVersion()
const port = Number(settings.PORT || 3000)
const host = settings.HOST || '127.0.0.1'

const server = createServer((request, response) => {
  if (request.url === '/health') {
    response.writeHead(200, { 'content-type': 'application/json' })
    response.end(JSON.stringify({ status: 'ok', version, pid: process.pid }))
    return
  }
  response.writeHead(404, { 'content-type': 'application/json' })
  response.end(JSON.stringify({ error: 'not found' }))
})

server.listen(port, host, () => {
  console.log(`node-api ${version} on ${host}:${port}`)
  // pm2 (wait_ready) stops the old worker only once the new one says it is listening.
  if (process.send) process.send('ready')
})
process.on('SIGINT', () => server.close(() => process.exit(0)))
process.on('SIGTERM', () => server.close(() => process.exit(0)))
