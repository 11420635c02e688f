// The end-to-end tests run bundles through the sandbox's local runner (also used by the demo).
export * from '../../dev/github-runner/src/local-action.js'
