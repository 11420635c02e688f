/** Jest in ESM mode: run with NODE_OPTIONS=--experimental-vm-modules (see package.json). */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': [
      'ts-jest',
      { useESM: true, tsconfig: 'tsconfig.json', diagnostics: { ignoreCodes: [151002] } },
    ],
  },
  testMatch: ['<rootDir>/__tests__/**/*.test.ts'],
  globalSetup: '<rootDir>/__tests__/support/system-tools-check.mjs',
  setupFilesAfterEnv: ['<rootDir>/__tests__/support/cleanup.ts'],
  testTimeout: 60_000,
  reporters: ['default', '<rootDir>/scripts/jest-closing-line.cjs'],
}
