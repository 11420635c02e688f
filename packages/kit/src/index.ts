// The part of the kit that never touches @actions/*: domain packages may import it.
export * from './errors.js'
export * from './html.js'
export * from './inputs.js'
export * from './logger.js'
export * from './names.js'
export * from './retry.js'
export * from './shell.js'
export * from './template.js'
