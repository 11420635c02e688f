// What ncc leaves undone in a bundle with chunk files. A dynamic import() of an npm package
// (the AWS SDK, @actions/artifact, @actions/github: loaded only when a step needs them, so a
// step that fails on its inputs never loads them) becomes a chunk, `<id>.index.js` next to
// index.js, and ncc then
//   - minifies index.js only: each chunk is minified here, with ncc's own terser options;
//   - writes licenses.txt once per chunk to that one name, so the last chunk's list wins:
//     licenses.txt is written again here from webpack's stats for every chunk, in the format
//     of ncc's license plugin (one entry per package: name, license id, license text).
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { minify } from 'terser'

/** Chunk files ncc emitted into `dir`. */
export function chunkFiles(dir) {
  return readdirSync(dir)
    .filter(name => /^\d+\.index\.js$/.test(name))
    .sort()
}

/** Minifies each chunk in place, as ncc minifies index.js (`ncc build -m`, ESM). */
export async function minifyChunks(dir) {
  for (const name of chunkFiles(dir)) {
    const file = join(dir, name)
    const result = await minify(readFileSync(file, 'utf8'), {
      module: true,
      compress: false,
      mangle: { keep_classnames: true, keep_fnames: true },
    })
    if (result.code === undefined) throw new Error(`terser returned nothing for ${file}`)
    writeFileSync(file, result.code)
  }
}

/**
 * The source file of every module the bundle holds, in any chunk, those concatenated into
 * another module too (webpack's stats also list orphans: modules left out of every chunk).
 */
function moduleFiles(modules, files = new Set(), nested = false) {
  for (const module of modules ?? []) {
    if (!nested && module.chunks.length === 0) continue
    if (module.nameForCondition?.startsWith('/')) files.add(module.nameForCondition)
    moduleFiles(module.modules, files, true)
  }
  return files
}

/** The package a file belongs to: the nearest package.json with a name, above the file. */
function packageOf(file, root, cache) {
  let dir = dirname(file)
  const seen = []
  for (;;) {
    if (cache.has(dir)) return cache.get(dir)
    seen.push(dir)
    const manifest = join(dir, 'package.json')
    const json = existsSync(manifest) ? JSON.parse(readFileSync(manifest, 'utf8')) : undefined
    const parent = dirname(dir)
    if (json?.name || parent === dir) {
      // The project itself (the build root) is not a third-party package.
      const found = json?.name && dir !== root ? { name: json.name, dir, json } : undefined
      for (const d of seen) cache.set(d, found)
      return found
    }
    dir = parent
  }
}

/** The license id as the plugin reads it from package.json. */
function licenseId({ json }) {
  if (json.license) return typeof json.license === 'string' ? json.license : json.license.type
  if (Array.isArray(json.licenses) && json.licenses.length > 0) return json.licenses[0].type
  return null
}

/** The license text: `SEE LICENSE IN <file>`, else the first file named LICENSE… or LICENCE… */
function licenseText(pkg, id) {
  const read = name => readFileSync(join(pkg.dir, name), 'utf8').replace(/\r\n/g, '\n')
  if (id?.startsWith('SEE LICENSE IN ')) {
    const name = id.split(' ')[3]
    return name && existsSync(join(pkg.dir, name)) ? read(name) : null
  }
  const name = readdirSync(pkg.dir).find(
    entry => /^licen[cs]e/i.test(entry) && !statSync(join(pkg.dir, entry)).isDirectory(),
  )
  return name === undefined ? null : read(name)
}

/** licenses.txt for every npm package in the bundle, from ncc's `--stats-out` file. */
export function renderLicenses(statsFile, root) {
  const stats = JSON.parse(readFileSync(statsFile, 'utf8'))
  const cache = new Map()
  const packages = new Map()
  for (const file of moduleFiles(stats.modules)) {
    const pkg = packageOf(file, root, cache)
    if (pkg && !packages.has(pkg.name)) packages.set(pkg.name, pkg)
  }
  const entries = [...packages.values()]
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .map(pkg => {
      const id = licenseId(pkg)
      const text = licenseText(pkg, id)
      return `${pkg.name}${id ? `\n${id}` : ''}${text ? `\n${text}` : ''}\n\n`
    })
  return `${entries.join('').trim()}\n`
}
