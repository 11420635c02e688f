import js from '@eslint/js'
import tseslint from 'typescript-eslint'

/** The stand-ins in dev/, as an import path names them (relative, so any number of ../). */
const STAND_INS = {
  regex: '(^|/)dev/',
  message: 'actions/ and packages/ ship: they never import the dev-only stand-ins in dev/',
}
/** Another package behind its index, as a path through packages/ names it (from actions/). */
const BEHIND_INDEX = {
  regex: '(^|/)packages/[^/]+/(?!src/index\\.js$)',
  message:
    'import another package through its index, packages/<name>/src/index.js (the public API its README lists)',
}
/** From packages/<name>/src/, a neighbour package is ../../<other>/: only its src/index.js. */
const NEIGHBOUR_BEHIND_INDEX = {
  regex: '^\\.\\./\\.\\./(?!\\.\\./)[^/]+/(?!src/index\\.js$)',
  message: BEHIND_INDEX.message,
}
/** actions/ stand on the packages: no arrow goes back up. */
const UP_TO_ACTIONS = {
  regex: '(^|/)actions/',
  message: 'packages/ never import actions/: the actions stand on the packages, not the other way',
}
/** The walls of every package (packages/github included). */
const PACKAGE_WALLS = [STAND_INS, UP_TO_ACTIONS, BEHIND_INDEX, NEIGHBOUR_BEHIND_INDEX]
const OTHER_STAND_IN =
  'the AWS sandbox and the GitHub-runner stand-in import nothing of each other: the caller composes them'

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
    },
  },
  {
    // The demo's service is plain CommonJS for Node.
    files: ['examples/**/*.js'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { require: 'readonly', __dirname: 'readonly', module: 'writable' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { module: 'writable', require: 'readonly' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  // The walls of what ships. A file gets one list of patterns for a rule (the last block that
  // names the rule for it wins), so each block below lists every wall of its files, and no two
  // of them match the same file:
  // - actions/ and packages/ import nothing from dev/ (the AWS sandbox and the GitHub-runner
  //   stand-in are dev-only, built on devDependencies, never bundled);
  // - another package is imported through its index only (docs/adr/0012-package-walls.md);
  // - packages/ never import actions/;
  // - domain packages stay free of GitHub: only packages/github and actions/ import @actions/*.
  // __tests__/repo/package-graph.test.ts checks the same walls on the resolved import graph,
  // with the packages' layering and their cycles.
  {
    files: ['actions/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [STAND_INS, BEHIND_INDEX] }] },
  },
  {
    files: ['packages/github/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: PACKAGE_WALLS }] },
  },
  {
    files: ['packages/**/*.ts'],
    ignores: ['packages/github/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@actions/*'],
              message: 'only actions/ and packages/github import @actions/*',
            },
            ...PACKAGE_WALLS,
          ],
        },
      ],
    },
  },
  {
    // The two stand-ins know nothing of each other: a caller (the demo, a test) starts both
    // and hands the token service to the sandbox's STS as its identity provider.
    files: ['dev/aws-sandbox/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ regex: '(^|/)github-runner/', message: OTHER_STAND_IN }] },
      ],
    },
  },
  {
    files: ['dev/github-runner/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ regex: '(^|/)aws-sandbox/', message: OTHER_STAND_IN }] },
      ],
    },
  },
  {
    // The tests, scripts and benchmarks use a stand-in through its index (the public API its
    // README lists), never a file behind it.
    files: ['**/*.ts'],
    ignores: ['dev/**', 'actions/**', 'packages/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '(^|/)dev/[^/]+/src/(?!index\\.js$)',
              message: 'import a stand-in through its index: dev/<name>/src/index.js',
            },
          ],
        },
      ],
    },
  },
  {
    // Start-up time: the heavy packages are loaded with import() where a step needs them,
    // so a step that fails on its inputs never loads them (bench/startup). Types are free.
    files: ['actions/**/*.ts', 'packages/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                '@aws-sdk/client-*',
                '@aws-sdk/credential-providers',
                '@aws-sdk/lib-storage',
                '@aws-sdk/s3-request-presigner',
                '@actions/artifact',
                '@actions/github',
              ],
              allowTypeImports: true,
              message:
                "load it with `await import('…')` where a step needs it (start-up time, bench/startup); `import type` is fine",
            },
          ],
        },
      ],
    },
  },
)
