// The sandbox: AWS on this machine for tests, benchmarks and the demo (see README.md).
export * from './clients.js'
export * from './ec2.js'
export * from './faults.js'
export * from './instances.js'
export * from './protocol.js'
export * from './runner.js'
export * from './server.js'
export * from './ssm.js'
