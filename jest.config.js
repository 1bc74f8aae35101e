/** Tests are TypeScript, transpiled by ts-jest without type-checking (the build's `tsc` does that). */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/spec'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
  // Also bounds beforeAll hooks: starting a gateway with the stock plugin server took 13 s at load 10 and over 30 s
  // on a CI machine shared with other jobs. A timeout is a failure, never a pass, so a generous one hides nothing.
  testTimeout: 60000,
};
