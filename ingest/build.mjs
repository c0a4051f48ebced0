// Bundles the ingest service's own sources into dist/; npm packages stay external (resolved from node_modules).
import { build } from 'esbuild';

const common = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', packages: 'external', sourcemap: true, logLevel: 'warning' };

await build({ ...common, entryPoints: ['src/cli.ts'], outfile: 'dist/cli.js', loader: { '.sql': 'text' } });

// The offline `flows` and `logs` commands on their own (bin/netwatch-ingest.js runs them without loading
// dist/cli.js), and the `flows` reader thread (src/flows/offline-worker.ts).
await build({ ...common, entryPoints: ['src/commands/flows.ts'], outfile: 'dist/flows.js' });
await build({ ...common, entryPoints: ['src/commands/logs.ts'], outfile: 'dist/logs.js' });
await build({ ...common, entryPoints: ['src/flows/offline-worker.ts'], outfile: 'dist/flows-worker.js' });
