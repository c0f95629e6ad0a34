// ESM all the way: p-queue is ESM-only, so the sources are ESM and jest runs them through ts-jest's ESM mode
// (node --experimental-vm-modules, see package.json). Type checking is done once by `tsc` in `npm test`.
const tsJest = [
  'ts-jest',
  { useESM: true, tsconfig: 'tsconfig.json', diagnostics: false },
];
const common = {
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': tsJest },
  testEnvironment: 'node',
};
export default {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/tests/**/*.test.ts'], testPathIgnorePatterns: ['\\.int\\.test\\.ts$'] },
    { ...common, displayName: 'integration', testMatch: ['<rootDir>/tests/**/*.int.test.ts'] },
  ],
  testTimeout: 60000,
  // One test file at a time (the integration tests start servers and measure; two cores), in a worker process that
  // is replaced once it holds more than this after a file: every file's module registry stays reachable in one
  // process, so a single process grew past 600 MB and late files spent most of their time in GC (an archiver test
  // took 136 s in the full suite against 17 s alone).
  workerIdleMemoryLimit: '400MB',
};
