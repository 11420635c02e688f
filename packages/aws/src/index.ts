// The AWS side of the suite: client factory, OIDC role assumption and error translation.
// No @actions imports: the runner glue is packages/github. The S3 release store built on
// it is packages/release-store.
export * from './config.js'
export * from './credentials.js'
export * from './errors.js'
export * from './version.js'
