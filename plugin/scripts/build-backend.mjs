#!/usr/bin/env node
// Builds the plugin backend: one bundled file dist/gpx_netwatch.js (grpc-js, proto-loader, protobufjs, the
// query protocol with its Arrow writer and flatbuffers, and the .proto texts inside it; no node_modules in
// dist) and the launchers Grafana executes, dist/gpx_netwatch_linux_amd64 and dist/gpx_netwatch_linux_arm64
// (plugin.json "executable": "gpx_netwatch").
import { build } from 'esbuild';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const pluginDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(pluginDir, 'dist');
mkdirSync(dist, { recursive: true });

await build({
  entryPoints: [path.join(pluginDir, 'backend', 'index.ts')],
  outfile: path.join(dist, 'gpx_netwatch.js'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  loader: { '.proto': 'text' },
  // The licence notices of the bundled packages stay with the code.
  legalComments: 'eof',
  sourcemap: false,
  logLevel: 'warning',
  // protobufjs probes optional modules through eval("require"); that is intended, not a bundling mistake.
  logOverride: { 'direct-eval': 'silent' },
});

// The backend is JavaScript, so both architectures run the same launcher; what differs is the node binary
// the host provides. Grafana may start plugins with an empty environment (no PATH; skipHostEnvVars), so
// node is also looked for beside the launcher and in the usual install locations.
const launcher = `#!/bin/sh
# Netwatch data source plugin backend launcher (Linux, any CPU). Runs gpx_netwatch.js with Node.js >= 20.
here=\${0%/*}
[ "$here" = "$0" ] && here=.
for node in "$here/node" "$NETWATCH_NODE" "$(command -v node 2>/dev/null)" /usr/local/bin/node /usr/bin/node; do
  if [ -n "$node" ] && [ -f "$node" ] && [ -x "$node" ]; then
    exec "$node" "$here/gpx_netwatch.js" "$@"
  fi
done
echo "netwatch plugin backend: Node.js (>= 20) not found: install it as /usr/local/bin/node or /usr/bin/node, or copy a node binary to $here/node" >&2
exit 1
`;
for (const arch of ['amd64', 'arm64']) {
  const file = path.join(dist, `gpx_netwatch_linux_${arch}`);
  writeFileSync(file, launcher);
  chmodSync(file, 0o755);
}
console.log(`plugin backend: ${path.relative(process.cwd(), path.join(dist, 'gpx_netwatch.js'))} and launchers gpx_netwatch_linux_{amd64,arm64}`);
