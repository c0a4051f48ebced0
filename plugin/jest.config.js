const base = require('../jest.base.js');
const path = require('node:path');
module.exports = {
  ...base,
  displayName: 'plugin',
  roots: ['<rootDir>/src'],
  moduleNameMapper: { '^@netwatch/ingest/protocol$': path.join(__dirname, '../ingest/src/protocol/index.ts') },
};
