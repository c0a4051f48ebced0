/**
 * ICMP echo over raw sockets in this process (needs root or CAP_NET_RAW): one socket per family for every target,
 * requests told apart by sequence number, so a thousand targets cost two file descriptors.
 *
 * The sockets come from `raw-socket`, the binding `net-ping` is built on (an optional dependency). net-ping itself
 * is not used: it reports neither the reply TTL nor ICMP errors per probe, and it allocates a session per target.
 * An IPv4 raw socket receives the whole datagram, so the reply TTL is read from its header; an IPv6 raw socket
 * never sees the IPv6 header (RFC 3542 §3), and raw-socket has no recvmsg for IPV6_RECVHOPLIMIT, so the IPv6
 * hop limit comes from a companion echo (icmp-ttl.ts).
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { canonicalIPv6 } from './targets';
import { ECHO_LENGTH, parseIcmp4, parseIcmp6, sleep, writeEchoRequest, type BurstOptions, type IcmpPinger } from './icmp';
import type { ProbeResult } from './round';

interface RawSocket {
  on(event: 'message', fn: (buf: Buffer, source: string) => void): void;
  on(event: 'error', fn: (err: Error) => void): void;
  on(event: 'close', fn: () => void): void;
  send(buf: Buffer, offset: number, length: number, address: string, before: () => void, after: (err: Error | null, bytes: number) => void): void;
  close(): void;
}

interface RawSocketModule {
  createSocket(opts: { protocol: number; addressFamily: number; bufferSize?: number }): RawSocket;
  Protocol: { ICMP: number; ICMPv6: number };
  AddressFamily: { IPv4: number; IPv6: number };
}

/** Loads raw-socket through net-ping, the package that declares it, so its copy is found wherever npm put it. */
export function loadRawSocket(): RawSocketModule {
  const req = createRequire(__filename);
  const netPing = req.resolve('net-ping');
  return req(req.resolve('raw-socket', { paths: [path.dirname(netPing)] })) as RawSocketModule;
}

interface Pending {
  address: string;
  sentAt: number;
  timer: NodeJS.Timeout;
  resolve: (r: ProbeResult) => void;
}

/** Sequence numbers are 16 bits; bounding what is in flight keeps a number from being reused while still awaited. */
const MAX_IN_FLIGHT = 16_384;

export class RawIcmpPinger implements IcmpPinger {
  readonly mechanism = 'raw' as const;
  private readonly mod: RawSocketModule;
  private readonly sockets: { 4?: RawSocket; 6?: RawSocket } = {};
  /** Identifier of our echoes: raw sockets receive every ICMP message of the host, other pingers' replies too. */
  private readonly id: number;
  private seq = 0;
  private readonly pending = new Map<number, Pending>();
  private closed = false;
  private readonly c = { sent: 0, replies: 0, timeouts: 0, errors: 0, late_replies: 0, socket_errors: 0, refused_in_flight: 0 };

  /**
   * Opens the sockets now; throws (EPERM) without the privilege, which is what the choice at start measures. A host
   * without IPv6 still pings over IPv4: the IPv6 socket is then tried again at each IPv6 probe, which fails with why.
   */
  constructor(mod: RawSocketModule = loadRawSocket()) {
    this.mod = mod;
    this.id = (process.pid ^ Math.floor(Math.random() * 0x10000)) & 0xffff;
    this.socket(4);
    try {
      this.socket(6);
    } catch (err) {
      if (/not permitted/i.test((err as Error).message)) {
        this.close();
        throw err;
      }
    }
  }

  echoBurst(address: string, family: 4 | 6, opts: BurstOptions): Promise<ProbeResult[]> {
    const addr = family === 6 ? canonicalIPv6(address) : address;
    const probes: Array<Promise<ProbeResult>> = [];
    const run = async () => {
      for (let i = 0; i < opts.count; i++) {
        if (i > 0) await sleep(opts.spacingMs);
        probes.push(this.echo(addr, family, opts.timeoutMs));
      }
      return Promise.all(probes);
    };
    return run();
  }

  counters(): Record<string, number> {
    return { ...this.c, in_flight: this.pending.size };
  }

  close(): void {
    this.closed = true;
    for (const [key, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(key);
      p.resolve({ rttMs: null, ttl: null, error: 'stopped' });
    }
    for (const f of [4, 6] as const) {
      this.sockets[f]?.close();
      delete this.sockets[f];
    }
  }

  private socket(family: 4 | 6): RawSocket {
    const existing = this.sockets[family];
    if (existing) return existing;
    const m = this.mod;
    const s = m.createSocket({
      protocol: family === 4 ? m.Protocol.ICMP : m.Protocol.ICMPv6,
      addressFamily: family === 4 ? m.AddressFamily.IPv4 : m.AddressFamily.IPv6,
    });
    s.on('message', (buf, source) => this.onMessage(family, buf, source));
    // raw-socket closes a socket after an error; the next probe opens a new one.
    s.on('error', () => {
      this.c.socket_errors++;
      if (this.sockets[family] === s) delete this.sockets[family];
    });
    this.sockets[family] = s;
    return s;
  }

  private echo(address: string, family: 4 | 6, timeoutMs: number): Promise<ProbeResult> {
    return new Promise<ProbeResult>((resolve) => {
      if (this.closed) return resolve({ rttMs: null, ttl: null, error: 'stopped' });
      if (this.pending.size >= MAX_IN_FLIGHT) {
        this.c.refused_in_flight++;
        return resolve({ rttMs: null, ttl: null, error: 'too many probes in flight' });
      }
      let seq = this.seq;
      // Skip numbers still awaited (possible only after a wrap with long timeouts).
      while (this.pending.has(family * 0x10000 + seq)) seq = (seq + 1) & 0xffff;
      this.seq = (seq + 1) & 0xffff;
      const key = family * 0x10000 + seq;
      const buf = Buffer.allocUnsafe(ECHO_LENGTH);
      writeEchoRequest(buf, family, this.id, seq);
      const settle = (r: ProbeResult) => {
        const p = this.pending.get(key);
        if (!p) return;
        clearTimeout(p.timer);
        this.pending.delete(key);
        p.resolve(r);
      };
      const p: Pending = {
        address,
        sentAt: performance.now(),
        resolve,
        timer: setTimeout(() => {
          this.c.timeouts++;
          settle({ rttMs: null, ttl: null, error: 'timeout' });
        }, timeoutMs),
      };
      this.pending.set(key, p);
      let sock: RawSocket;
      try {
        sock = this.socket(family);
      } catch (err) {
        this.c.errors++;
        return settle({ rttMs: null, ttl: null, error: `socket: ${(err as Error).message}` });
      }
      sock.send(
        buf,
        0,
        ECHO_LENGTH,
        address,
        // Stamped right before the send(2) call, not when queued behind other requests.
        () => {
          p.sentAt = performance.now();
        },
        (err) => {
          if (err) {
            this.c.errors++;
            settle({ rttMs: null, ttl: null, error: `send: ${err.message}` });
          } else this.c.sent++;
        },
      );
    });
  }

  private onMessage(family: 4 | 6, buf: Buffer, source: string): void {
    const now = performance.now();
    const m = family === 4 ? parseIcmp4(buf) : parseIcmp6(buf);
    if (!m || m.id !== this.id) return;
    const key = family * 0x10000 + m.seq;
    const p = this.pending.get(key);
    if (!p) {
      this.c.late_replies++;
      return;
    }
    if (m.what === 'reply') {
      // A reply must come from the address asked; anything else with our id and seq is not an answer.
      if ((family === 6 ? canonicalIPv6(source) : source) !== p.address) return;
      clearTimeout(p.timer);
      this.pending.delete(key);
      this.c.replies++;
      p.resolve({ rttMs: now - p.sentAt, ttl: m.ttl });
    } else {
      clearTimeout(p.timer);
      this.pending.delete(key);
      this.c.errors++;
      p.resolve({ rttMs: null, ttl: null, error: `${m.reason} from ${source}` });
    }
  }
}
