// Bundles the ingest service's own sources into dist/cli.js; npm packages stay external (resolved from node_modules).
import { build } from 'esbuild';

await build({
  entryPoints: ['src/cli.ts'],
  outfile: 'dist/cli.js',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  packages: 'external',
  loader: { '.sql': 'text' },
  sourcemap: true,
  logLevel: 'warning',
});

// The offline `flows` command on its own (bin/netwatch-ingest.js runs it without loading dist/cli.js), and its
// reader thread (src/flows/offline-worker.ts).
await build({
  entryPoints: ['src/commands/flows.ts'],
  outfile: 'dist/flows.js',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
});

// The offline `logs` command on its own (bin/netwatch-ingest.js runs it without loading dist/cli.js).
await build({
  entryPoints: ['src/commands/logs.ts'],
  outfile: 'dist/logs.js',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
});

await build({
  entryPoints: ['src/flows/offline-worker.ts'],
  outfile: 'dist/flows-worker.js',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
});
