// Builds the plugin's frontend into plugin/dist/: module.js (an AMD module, as Grafana's SystemJS loader
// expects), plugin.json with version and date filled in, and img/. Only these files are written, so the
// backend's executables beside them in dist/ are left alone.
//
// esbuild has no AMD output: the bundle is built as CommonJS with Grafana's shared dependencies external, and
// wrapped in `define([...externals], factory)` whose factory hands each dependency to the bundle's `require`.
import { build } from 'esbuild';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const pluginDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const srcDir = path.join(pluginDir, 'src');
const distDir = path.join(pluginDir, 'dist');
const protocolDir = path.resolve(pluginDir, '../ingest/src/protocol');

/**
 * What Grafana's plugin loader provides to plugins (sharedDependenciesMap in grafana/grafana
 * public/app/features/plugins/loader/sharedDependencies.ts). Anything else is bundled: @grafana/schema, for
 * one, is not shared, so a plugin that leaves it external fails to load; we only use its types.
 */
export const EXTERNALS = [
  'react',
  'react/jsx-runtime',
  'react/jsx-dev-runtime',
  'react-dom',
  'react-dom/client',
  '@grafana/data',
  '@grafana/runtime',
  '@grafana/ui',
  '@emotion/css',
  '@emotion/react',
  'rxjs',
  'rxjs/operators',
  'lodash',
  'moment',
  'd3',
  'i18next',
  'react-redux',
  'redux',
  'react-router',
  'react-router-dom',
];

/** The lines an AMD module wraps around a CommonJS bundle whose `require` calls name only externals. */
export function amdWrapper(externals) {
  const deps = JSON.stringify(externals);
  const header = [
    `define(${deps}, function () {`,
    `var __deps = ${deps}, __mods = arguments, require = function (name) {`,
    `  var i = __deps.indexOf(name);`,
    `  if (i < 0) throw new Error('netwatch plugin: module ' + name + ' is not provided by Grafana');`,
    `  return __mods[i];`,
    `};`,
    `var module = { exports: {} }, exports = module.exports;`,
    '',
  ].join('\n');
  return { header, footer: 'return module.exports;\n});\n' };
}

/**
 * The protocol's modules are declarations plus pure helpers: marking them side-effect free lets esbuild drop
 * what the plugin does not use (the normalizer's compiled schema checker is kept only because the editor
 * validates with it).
 */
const protocolSideEffectFree = {
  name: 'protocol-side-effect-free',
  setup(b) {
    b.onResolve({ filter: /.*/ }, async (args) => {
      if (args.pluginData === 'protocol') return undefined;
      const isProtocolImport = args.path === '@netwatch/ingest/protocol' || (args.resolveDir.startsWith(protocolDir) && args.path.startsWith('.'));
      if (!isProtocolImport) return undefined;
      const r = await b.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: 'protocol' });
      return { ...r, sideEffects: false };
    });
  },
};

export async function buildFrontend({ outDir = distDir, minify = true } = {}) {
  const pkg = JSON.parse(await readFile(path.join(pluginDir, 'package.json'), 'utf8'));
  const result = await build({
    entryPoints: [path.join(srcDir, 'module.ts')],
    bundle: true,
    write: false,
    format: 'cjs',
    platform: 'browser',
    target: 'es2022',
    jsx: 'automatic',
    minify,
    // Class and function names survive minification, so Grafana's error messages and React's component stacks stay readable.
    keepNames: true,
    sourcemap: 'external',
    outfile: path.join(outDir, 'module.js'),
    external: EXTERNALS,
    define: { 'process.env.NODE_ENV': '"production"' },
    plugins: [protocolSideEffectFree],
    metafile: true,
    logLevel: 'warning',
  });
  const externalsUsed = new Set();
  for (const input of Object.values(result.metafile.inputs)) {
    for (const imp of input.imports) if (imp.external) externalsUsed.add(imp.path);
  }
  const deps = EXTERNALS.filter((e) => externalsUsed.has(e));
  await mkdir(outDir, { recursive: true });
  const { header, footer } = amdWrapper(deps);
  for (const file of result.outputFiles) {
    if (file.path.endsWith('.js')) {
      const body = file.text.replace(/\/\/# sourceMappingURL=.*\n?$/, '');
      await writeFile(file.path, `${header}${body}${footer}//# sourceMappingURL=module.js.map\n`);
    } else {
      // The header adds whole lines before the bundle: the map stays valid once shifted by as many empty lines.
      const map = JSON.parse(file.text);
      map.mappings = ';'.repeat(header.split('\n').length - 1) + map.mappings;
      await writeFile(file.path, JSON.stringify(map));
    }
  }
  const manifest = (await readFile(path.join(srcDir, 'plugin.json'), 'utf8'))
    .replaceAll('%VERSION%', pkg.version)
    .replaceAll('%TODAY%', new Date().toISOString().slice(0, 10));
  await writeFile(path.join(outDir, 'plugin.json'), manifest);
  await cp(path.join(srcDir, 'img'), path.join(outDir, 'img'), { recursive: true });
  return { deps, bytes: Buffer.byteLength(result.outputFiles.find((f) => f.path.endsWith('.js')).text) };
}

// node scripts/build-frontend.mjs [--out DIR]   (default plugin/dist)
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf('--out');
  const outDir = at > 0 ? path.resolve(process.argv[at + 1]) : distDir;
  const { deps, bytes } = await buildFrontend({ outDir });
  console.error(`plugin frontend: ${path.relative(process.cwd(), path.join(outDir, 'module.js')) || 'module.js'} ${(bytes / 1024).toFixed(0)} KiB, AMD deps ${deps.join(', ')}`);
}
