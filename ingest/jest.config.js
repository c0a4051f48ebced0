const base = require('../jest.base.js');
module.exports = { ...base, displayName: 'ingest', roots: ['<rootDir>/src'], testTimeout: 20000 };
