// Shared jest settings: TypeScript through swc, .sql files as text.
const path = require('node:path');
module.exports = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.(t|j)sx?$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript', tsx: true } }, module: { type: 'commonjs' } }],
    '^.+\\.sql$': path.join(__dirname, 'jest.sql-transform.js'),
  },
  moduleFileExtensions: ['ts', 'tsx', 'js', 'json', 'sql'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
};
