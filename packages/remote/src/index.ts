// The host release engine: the bash script embedded at build time, its renderer into SSM
// commands, and the parser of its result line; and the host bootstrap that runs the
// environment's desired release; and the read-only status probe.
export { BOOTSTRAP_SCRIPT } from './bootstrap-script.generated.js'
export * from './bootstrap.js'
export { ENGINE_SCRIPT } from './engine-script.generated.js'
export * from './options.js'
export * from './render.js'
export * from './result.js'
export { STATUS_SCRIPT } from './status-script.generated.js'
export * from './status.js'
