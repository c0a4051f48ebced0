/**
 * A burst of UDP datagrams from another process, sent as fast as it can: what fills a capture ring while the
 * capturing thread (or the whole service, stopped) drains nothing, so the kernel's drop counters move. Used by
 * the live capture tests here and by the cross-component flows test.
 */
import { spawnSync } from 'node:child_process';

const SCRIPT = `
const dgram = require('node:dgram');
const [port, count, size] = process.argv.slice(1).map(Number);
const s = dgram.createSocket('udp4');
const payload = Buffer.alloc(size, 7);
let done = 0, ok = 0;
for (let i = 0; i < count; i++) s.send(payload, port, '127.0.0.1', (err) => {
  if (!err) ok++;
  if (++done === count) { process.stdout.write(String(ok)); s.close(); }
});`;

/** Sends `count` datagrams of `size` bytes to 127.0.0.1:`port` and waits for the sender: how many went out ('' if it was killed at `timeoutMs`). */
export function floodUdp(port: number, count: number, size: number, timeoutMs: number): string {
  return spawnSync(process.execPath, ['-e', SCRIPT, String(port), String(count), String(size)], { encoding: 'utf8', timeout: timeoutMs }).stdout;
}
