/** Entry point of the bundled backend (dist/gpx_netwatch.js), started by the gpx_netwatch_linux_* launchers. */
import { main } from './main';

const major = Number(process.versions.node.split('.')[0]);
if (major < 20) {
  process.stderr.write(`netwatch plugin backend: Node.js ${process.version} is too old; version 20 or later is required\n`);
  process.exit(1);
}
void main();
