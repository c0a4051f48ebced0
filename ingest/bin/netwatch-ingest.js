#!/usr/bin/env node
'use strict';
// `logs`: V8 inlines less into the functions it optimizes. An offline parse lasts a few hundred milliseconds, and
// in that time the optimizing compiler, on the scan's ~60 hot functions, takes more CPU than the optimized scan
// itself (a background thread, competing with the scan for the machine's cores). With at most 60 bytes of
// bytecode inlined per call (the default is 460) it compiles them for much less, and the scan runs as fast: on the
// 200,000-line benchmark log the lines took 15% fewer instructions in all and 25% less time. Set before any bundle
// is loaded, for this command only: the service's long-running code keeps V8's defaults.
if (process.argv[2] === 'logs') require('node:v8').setFlagsFromString('--max-inlined-bytecode-size=60');
// Runs the built CLI; the build (npm run build) bundles ingest/src into dist/cli.js.
const path = require('node:path');
const fs = require('node:fs');
const cli = path.join(__dirname, '..', 'dist', 'cli.js');
if (!fs.existsSync(cli)) {
  process.stderr.write('netwatch-ingest: not built yet; run `npm run build` at the repository root\n');
  process.exit(1);
}
// `flows` runs from a bundle of its own (dist/flows.js): an offline pass over a capture should not spend 15 ms
// loading the service's 650 KB bundle first.
const argv = process.argv.slice(2);
const flows = path.join(__dirname, '..', 'dist', 'flows.js');
const logs = path.join(__dirname, '..', 'dist', 'logs.js');
if (argv[0] === 'flows' && fs.existsSync(flows)) require(flows).runFlows(argv.slice(1));
else if (argv[0] === 'logs' && fs.existsSync(logs)) require(logs).runLogs(argv.slice(1));
else require(cli).run();
