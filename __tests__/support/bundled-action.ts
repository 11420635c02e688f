// The end-to-end tests run bundles as the GitHub runner does, through the runner stand-in (also
// used by the demo).
export * from '../../dev/github-runner/src/index.js'
