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
  // cookie 2 (under fastify's light-my-request) ships ESM only; Node 20.19+ loads it natively, jest needs it transformed.
  transformIgnorePatterns: ['/node_modules/(?!cookie/)'],
};
