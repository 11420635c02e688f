export * from './http.js'
export * from './ssm.js'
