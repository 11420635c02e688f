// The AWS side of the suite: client factory, OIDC role assumption, error translation and the
// S3 artifact store. No @actions imports: the runner glue is packages/kit/src/github-aws.ts.
export * from './config.js'
export * from './credentials.js'
export * from './deployment-records.js'
export * from './errors.js'
export * from './s3.js'
export * from './s3-names.js'
export * from './version.js'
