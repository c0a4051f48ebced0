#!/usr/bin/env node
'use strict';
// Runs the built CLI; the build (npm run build) bundles ingest/src into dist/cli.js.
const path = require('node:path');
const fs = require('node:fs');
const cli = path.join(__dirname, '..', 'dist', 'cli.js');
if (!fs.existsSync(cli)) {
  process.stderr.write('netwatch-ingest: not built yet; run `npm run build` at the repository root\n');
  process.exit(1);
}
require(cli).run();
