export * from './live.js'
export * from './results.js'
export * from './rollback.js'
export * from './summary.js'
