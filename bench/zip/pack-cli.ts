// The writer as a command, for the benchmark: pack-cli <dir> <out.zip> [level] [workers]
// Prints one JSON line: size, sha256, entries, files.
import { consoleLogger } from '../../packages/kit/src/index.js'
import { ZIP_EPOCH_SECONDS, packageZip } from '../../packages/artifact/src/index.js'

const [root, output, level = '5', workers = '0'] = process.argv.slice(2)
if (!root || !output) {
  console.error('usage: pack-cli <dir> <out.zip> [level] [workers]')
  process.exit(2)
}
packageZip({
  root,
  outputFile: output,
  level: Number(level),
  epochSeconds: ZIP_EPOCH_SECONDS,
  exclude: [],
  ...(Number(workers) > 0 ? { workers: Number(workers) } : {}),
  logger: { ...consoleLogger(), info: () => undefined },
}).then(
  result => console.log(JSON.stringify(result)),
  (error: unknown) => {
    console.error(error)
    process.exit(1)
  },
)
