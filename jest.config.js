// Jest in ESM mode (run with --experimental-vm-modules); TypeScript is stripped by SWC.
const swc = ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2023' }, module: { type: 'es6' } }];
const common = {
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': swc },
  testEnvironment: 'node',
};
export default {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/**/*.test.ts'], testPathIgnorePatterns: ['<rootDir>/test/k8s/'] },
    { ...common, displayName: 'k8s', testMatch: ['<rootDir>/test/k8s/**/*.test.ts'] },
  ],
};
