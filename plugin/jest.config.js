const base = require('../jest.base.js');
const path = require('node:path');
const ESM_ONLY = [
  'cookie',
  'marked',
  'marked-mangle',
  'd3',
  'd3-.*',
  'internmap',
  'ol',
  'uuid',
  'react-colorful',
  'react-calendar',
  'get-user-locale',
  'memoize',
  'mimic-function',
  '@wojtekmaj/.*',
  '@react-hookz/.*',
  '@ver0/.*',
];
const swcReact = {
  jsc: { target: 'es2022', parser: { syntax: 'typescript', tsx: true }, transform: { react: { runtime: 'automatic' } } },
  module: { type: 'commonjs' },
};
module.exports = {
  ...base,
  displayName: 'plugin',
  roots: ['<rootDir>/src', '<rootDir>/backend'],
  // The backend embeds its .proto files as text (esbuild's text loader in the build).
  moduleFileExtensions: [...base.moduleFileExtensions, 'proto'],
  moduleNameMapper: {
    '^@netwatch/ingest/protocol$': path.join(__dirname, '../ingest/src/protocol/index.ts'),
    // The Arrow encoding is its own subpath (package.json "exports"), so the browser bundle never reaches flatbuffers.
    '^@netwatch/ingest/protocol/arrow$': path.join(__dirname, '../ingest/src/protocol/arrow.ts'),
    // Frontend tests (jsdom per file via the `@jest-environment jsdom` docblock): stylesheets and images are not code.
    '\\.(css|scss|sass)$': path.join(__dirname, 'src/testing/style-mock.js'),
    '\\.(svg|png|jpg|gif|woff2?)$': path.join(__dirname, 'src/testing/file-mock.js'),
    '^react-inlinesvg$': path.join(__dirname, 'src/testing/inline-svg-mock.js'),
  },
  // React 19's automatic JSX runtime, as tsconfig's "jsx": "react-jsx" and the esbuild bundle use.
  transform: {
    ...base.transform,
    '^.+\\.(t|j)sx?$': ['@swc/jest', swcReact],
    '^.+\\.mjs$': ['@swc/jest', swcReact],
    '^.+\\.proto$': path.join(__dirname, '../jest.sql-transform.js'),
  },
  // ESM-only packages under @grafana/data and @grafana/ui (create-plugin's jest config keeps a similar list).
  transformIgnorePatterns: [`/node_modules/(?!(${ESM_ONLY.join('|')})/)`],
  setupFilesAfterEnv: [path.join(__dirname, 'src/testing/setup-tests.ts')],
};
