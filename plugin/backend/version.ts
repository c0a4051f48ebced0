/** The plugin's version, from plugin/package.json (bundled by esbuild, read by jest). */
import pkg from '../package.json';

export const PLUGIN_VERSION: string = pkg.version;
