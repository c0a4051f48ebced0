#!/usr/bin/env node
// `npm run bench -- <suite>...`: runs benchmark suites side by side with their reference tools and prints the
// figures that go into docs/benchmarks.md. Each suite lives in ingest/bench/<suite>.ts.
'use strict';
const { execFileSync } = require('node:child_process');
const { readdirSync, existsSync } = require('node:fs');
const path = require('node:path');

const dir = path.join(__dirname, '..', 'ingest', 'bench');
const suites = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.bench.ts')).map((f) => f.replace('.bench.ts', '')) : [];
// Suite names; --name=value options are passed on to every suite.
const wanted = process.argv.slice(2).filter((a) => !a.startsWith('--'));
if (wanted.length === 0 || process.argv.includes('--help')) {
  console.log(`usage: npm run bench -- <suite>...\nsuites: ${suites.join(', ') || '(none yet)'}`);
  process.exit(wanted.length === 0 ? 2 : 0);
}
for (const s of wanted) {
  if (!suites.includes(s)) {
    console.error(`unknown bench suite "${s}"; available: ${suites.join(', ') || '(none yet)'}`);
    process.exit(2);
  }
}
for (const s of wanted) {
  const out = path.join(dir, '.build', `${s}.js`);
  // esbuild's JS API: its bin/esbuild may be the native executable (npm installs it in place of the JS shim), which node cannot run.
  require('esbuild').buildSync({ entryPoints: [path.join(dir, `${s}.bench.ts`)], bundle: true, platform: 'node', target: 'node20', packages: 'external', loader: { '.sql': 'text' }, outfile: out, logLevel: 'warning' });
  execFileSync(process.execPath, ['--expose-gc', out, ...process.argv.slice(2).filter((a) => a.startsWith('--'))], { stdio: 'inherit' });
}
