export * from './live.js'
export * from './rollback.js'
export * from './summary.js'
