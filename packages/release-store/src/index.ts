// The release store: immutable release archives in S3 under keys made from templates, the
// if-exists policy, rollback lookups, presigned downloads and the deployment records.
// Built on packages/aws (clients and error translation); no @actions imports.
export * from './desired.js'
export * from './engine-store.js'
export * from './hashing.js'
export * from './names.js'
export * from './objects.js'
export * from './presign.js'
export * from './publish.js'
export * from './records.js'
export * from './upload.js'
