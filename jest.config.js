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
};
