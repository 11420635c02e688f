// The host release engine: the bash script embedded at build time, its renderer into SSM
// commands, and the parser of its result line.
export { ENGINE_SCRIPT } from './engine-script.generated.js'
export * from './options.js'
export * from './render.js'
export * from './result.js'
