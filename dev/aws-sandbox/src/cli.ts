/**
 * `npm run sandbox`: starts the sandbox, prints the `export` lines to paste into another
 * shell and the instances it created, and runs until Ctrl-C.
 *
 *   npm run sandbox -- [--instances N] [--name PREFIX] [--tag KEY=VALUE]… [--bucket NAME]…
 *                      [--target-group NAME:PORT]… [--dir PATH] [--fast] [--region REGION]
 */
import { parseArgs } from 'node:util'
import { exportLines, startSandbox, type SandboxOptions } from './server.js'

const USAGE =
  'usage: npm run sandbox -- [--instances N] [--name PREFIX] [--tag KEY=VALUE]… [--bucket NAME]… [--target-group NAME:PORT]… [--dir PATH] [--fast] [--region REGION]'

function fail(message: string): never {
  console.error(`sandbox: ${message}\n${USAGE}`)
  process.exit(2)
}

function optionsFromArgs(args: string[]): SandboxOptions {
  let parsed
  try {
    parsed = parseArgs({
      args,
      options: {
        instances: { type: 'string', default: '3' },
        name: { type: 'string', default: 'sandbox' },
        tag: { type: 'string', multiple: true, default: [] },
        bucket: { type: 'string', multiple: true, default: [] },
        'target-group': { type: 'string', multiple: true, default: [] },
        dir: { type: 'string' },
        region: { type: 'string', default: 'us-east-1' },
        fast: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    }).values
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error))
  }
  if (parsed.help) {
    console.log(USAGE)
    process.exit(0)
  }
  if (!/^[1-9][0-9]{0,3}$/.test(parsed.instances)) {
    fail(
      `--instances ${JSON.stringify(parsed.instances)} is not valid: use a whole number from 1 to 9999`,
    )
  }
  const tags: Record<string, string> = {}
  for (const tag of parsed.tag) {
    const at = tag.indexOf('=')
    if (at <= 0) fail(`--tag ${JSON.stringify(tag)} is not valid: use KEY=VALUE`)
    tags[tag.slice(0, at)] = tag.slice(at + 1)
  }
  for (const bucket of parsed.bucket) {
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
      fail(
        `--bucket ${JSON.stringify(bucket)} is not valid: use 3-63 lower-case letters, digits, '.' and '-'`,
      )
    }
  }
  const targetGroups = parsed['target-group'].map(value => {
    const match = /^([A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?):([1-9][0-9]{0,4})$/.exec(value)
    if (!match || Number(match[2]) > 65535)
      fail(
        `--target-group ${JSON.stringify(value)} is not valid: use NAME:PORT, a name of 1-32 letters, digits and inner hyphens and a port from 1 to 65535`,
      )
    return { name: match[1]!, port: Number(match[2]) }
  })
  return {
    instances: Number(parsed.instances),
    namePrefix: parsed.name,
    tags,
    region: parsed.region,
    commandMode: parsed.fast ? 'fast' : 'shell',
    ...(parsed.dir !== undefined ? { rootDir: parsed.dir } : {}),
    ...(parsed.bucket.length > 0 ? { s3: { buckets: parsed.bucket } } : {}),
    ...(targetGroups.length > 0 ? { targetGroups } : {}),
  }
}

const sandbox = await startSandbox(optionsFromArgs(process.argv.slice(2)))
console.log('# AWS sandbox running. Paste these lines into another shell:')
for (const line of exportLines(sandbox.env)) console.log(line)
console.log('\n# Instances (each is a directory; SSM commands run there under sh):')
for (const instance of sandbox.instances) {
  console.log(
    `#   ${instance.id}  Name=${instance.name ?? ''}  ${instance.privateIpAddress}  ${instance.availabilityZone}  ${instance.dir}`,
  )
}
if (sandbox.elbv2.list().length > 0)
  console.log(
    '\n# Target groups (register instances with aws elbv2; send traffic to the listener):',
  )
for (const group of sandbox.elbv2.list())
  console.log(`#   ${group.name}  port ${group.settings.port}  ${group.arn}  listener ${group.url}`)
console.log('\n# Ctrl-C stops the sandbox and everything its instances started.')

let stopping = false
const stop = () => {
  if (stopping) return
  stopping = true
  void sandbox.close().then(() => process.exit(0))
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
