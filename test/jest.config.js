const base = require('../jest.base.js');
module.exports = { ...base, displayName: 'e2e', rootDir: __dirname, roots: ['<rootDir>'], testTimeout: 60000 };
