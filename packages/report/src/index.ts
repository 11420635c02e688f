export * from './summary.js'
