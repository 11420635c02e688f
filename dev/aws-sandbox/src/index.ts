// The AWS sandbox: EC2, SSM, ELBv2, S3 and STS on this machine, for the tests, the benchmarks and
// the demo (see README.md). Dev-only: nothing in actions/ or packages/ imports it.
export * from './access.js'
export * from './agent-script.js'
export * from './clients.js'
export * from './ec2.js'
export * from './ec2-launch.js'
export * from './elbv2.js'
export * from './faults.js'
export * from './iam-policy.js'
export * from './instances.js'
export * from './launch.js'
export * from './load-balancer.js'
export * from './ports.js'
export * from './processes.js'
export * from './protocol.js'
export * from './s3.js'
export * from './server.js'
export * from './ssm.js'
export * from './ssm-associations.js'
export { OUTPUT_LIMITS, pluginOutput } from './ssm-answers.js'
export {
  PLUGIN_NAME,
  RUN_SHELL_SCRIPT,
  type CommandRecord,
  type CommandStatus,
  type InvocationRecord,
  type InvocationStatus,
} from './ssm-records.js'
export * from './sts.js'
