/**
 * TCP connect probe: the time from connect() to the completed three-way handshake (SYN, SYN-ACK seen, ACK sent).
 * The connection is then reset at once (destroy), so a probed service sees no request.
 */
import net from 'node:net';
import type { ProbeResult } from './round';

export function tcpConnect(address: string, port: number, family: 4 | 6, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = net.connect({ host: address, port, family });
    let settled = false;
    const done = (r: ProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done({ rttMs: null, ttl: null, error: 'timeout' }), timeoutMs);
    socket.once('connect', () => done({ rttMs: performance.now() - started, ttl: null }));
    socket.once('error', (err: NodeJS.ErrnoException) => done({ rttMs: null, ttl: null, error: `connect: ${err.code ?? err.message}` }));
  });
}
