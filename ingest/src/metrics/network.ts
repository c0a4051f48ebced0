/**
 * network collector: per-interface traffic counters from /proc/net/dev (made monotonic across 32/64-bit wraps
 * and resets), their host-wide total, and TCP connections by state from /proc/net/tcp and /proc/net/tcp6.
 */
import { existsSync } from 'node:fs';
import { readProcInto, readProcText, type Collector, type HostPaths, type ProcBuffer } from './collector';
import { CounterExtender, CounterTotal } from './counters';
import { NET, type Sample } from './sample';

export interface NetDevCounters {
  name: string;
  bytesRecv: number;
  packetsRecv: number;
  errin: number;
  dropin: number;
  bytesSent: number;
  packetsSent: number;
  errout: number;
  dropout: number;
}

/**
 * /proc/net/dev: two header lines, then `name: rx bytes packets errs drop fifo frame compressed multicast
 * tx bytes packets errs drop fifo colls carrier compressed`. The name may run into the first number when it is
 * wide ("eth0:123"), so the split is at the last colon of the name part.
 */
export function parseNetDev(text: string): NetDevCounters[] {
  const out: NetDevCounters[] = [];
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    const f = line.slice(colon + 1).trim().split(/\s+/);
    if (name === '' || f.length < 16) continue;
    const n = f.map(Number);
    if (n.some((x) => !Number.isFinite(x))) throw new Error(`/proc/net/dev: bad counters for ${name}`);
    out.push({ name, bytesRecv: n[0], packetsRecv: n[1], errin: n[2], dropin: n[3], bytesSent: n[8], packetsSent: n[9], errout: n[10], dropout: n[11] });
  }
  return out;
}

/** TCP states as the kernel numbers them in /proc/net/tcp's `st` column (include/net/tcp_states.h). */
export const TCP_STATES = [
  '',
  'established',
  'syn_sent',
  'syn_recv',
  'fin_wait1',
  'fin_wait2',
  'time_wait',
  'close',
  'close_wait',
  'last_ack',
  'listen',
  'closing',
  'new_syn_recv',
] as const;

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/**
 * Adds the sockets of one /proc/net/tcp or tcp6 content (bytes [0, len) of buf) to counts[state]; counts has
 * TCP_STATES.length slots. Only the fourth column is read, scanning bytes rather than splitting lines, since a
 * busy host has tens of thousands of them. Returns the number of lines it could not read.
 */
export function countTcpStatesBytes(buf: Uint8Array, len: number, counts: Float64Array): number {
  let bad = 0;
  let pos = buf.indexOf(10) + 1; // after the header line
  while (pos > 0 && pos < len) {
    let end = buf.indexOf(10, pos);
    if (end < 0 || end > len) end = len;
    // Skip three space-separated columns (sl, local, remote), then read the state's two hex digits.
    let i = pos;
    let col = 0;
    while (i < end) {
      while (i < end && buf[i] === 32) i++;
      if (col === 3) break;
      while (i < end && buf[i] !== 32) i++;
      col++;
    }
    if (i + 2 < end) {
      const hi = hexDigit(buf[i]);
      const lo = hexDigit(buf[i + 1]);
      const st = hi * 16 + lo;
      if (hi >= 0 && lo >= 0 && st > 0 && st < counts.length && buf[i + 2] === 32) counts[st]++;
      else bad++;
    } else if (end > pos) {
      bad++;
    }
    pos = end + 1;
  }
  return bad;
}

/** The same over text (fixtures). */
export function countTcpStates(text: string, counts: Float64Array): number {
  const b = Buffer.from(text, 'latin1');
  return countTcpStatesBytes(b, b.length, counts);
}

/** The counter fields of a network row, in NET order (the connection fields are host-wide and not counters). */
const COUNTERS = NET.connections_established;

export interface NetworkCollectorOptions {
  maxInterfaces: number;
}

export class NetworkCollector implements Collector {
  readonly name = 'network';
  private readonly extender: CounterExtender;
  private readonly total = new CounterTotal(COUNTERS);
  private readonly deltas = new Float64Array(COUNTERS);
  private readonly initial = new Float64Array(COUNTERS);
  private readonly states = new Float64Array(TCP_STATES.length);
  private physical = new Map<string, boolean>();
  private tcpBuf: ProcBuffer = { buf: Buffer.allocUnsafe(64 * 1024), len: 0 };
  /** Lines of /proc/net/tcp* that could not be read, since start. */
  badTcpLines = 0;

  constructor(
    private readonly paths: HostPaths,
    opts: NetworkCollectorOptions,
  ) {
    this.extender = new CounterExtender(COUNTERS, opts.maxInterfaces);
  }

  update(sample: Sample): void {
    const devs = parseNetDev(readProcText(`${this.paths.proc}/net/dev`));
    // Netdata's rule for the host total: physical interfaces only (a bridge or veth carries the same bytes
    // again); where there are none (a container's veth eth0), every interface but loopback.
    const anyPhysical = devs.some((d) => this.isPhysical(d.name));
    this.deltas.fill(0);
    this.initial.fill(0);
    const ifs = sample.interfaces;
    for (const d of devs) {
      const base = ifs.add(d.name);
      if (base < 0) continue;
      const v = ifs.values;
      v[base + NET.bytes_sent] = d.bytesSent;
      v[base + NET.bytes_recv] = d.bytesRecv;
      v[base + NET.packets_sent] = d.packetsSent;
      v[base + NET.packets_recv] = d.packetsRecv;
      v[base + NET.errin] = d.errin;
      v[base + NET.errout] = d.errout;
      v[base + NET.dropin] = d.dropin;
      v[base + NET.dropout] = d.dropout;
      const counted = anyPhysical ? this.isPhysical(d.name) : d.name !== 'lo';
      if (counted) for (let k = 0; k < COUNTERS; k++) this.initial[k] += v[base + k];
      this.extender.extend(d.name, v, base, counted ? this.deltas : undefined);
    }
    this.extender.sweep();
    if (this.physical.size > 4 * ifs.max) this.physical.clear();
    this.total.add(this.initial, this.deltas);
    sample.netTotal.set(this.total.values, 0);

    this.states.fill(0);
    // The kernel walks its whole socket hash table for each read of these files (about 2.5 ms here, whatever the
    // number of sockets): read into one reused buffer, never decoded to a string.
    this.tcpBuf = readProcInto(`${this.paths.proc}/net/tcp`, this.tcpBuf);
    this.badTcpLines += countTcpStatesBytes(this.tcpBuf.buf, this.tcpBuf.len, this.states);
    // tcp6 is absent when IPv6 is disabled; that is not a failure.
    const tcp6 = `${this.paths.proc}/net/tcp6`;
    if (existsSync(tcp6)) {
      this.tcpBuf = readProcInto(tcp6, this.tcpBuf);
      this.badTcpLines += countTcpStatesBytes(this.tcpBuf.buf, this.tcpBuf.len, this.states);
    }
    sample.netTotal[NET.connections_established] = this.states[1];
    sample.netTotal[NET.connections_time_wait] = this.states[6];
    sample.netTotal[NET.connections_listen] = this.states[10];
  }

  /** Connections by every state of the last round (the three stored ones and the rest). */
  connectionStates(): Record<string, number> {
    const out: Record<string, number> = {};
    for (let i = 1; i < TCP_STATES.length; i++) out[TCP_STATES[i]] = this.states[i];
    return out;
  }

  private isPhysical(name: string): boolean {
    let p = this.physical.get(name);
    if (p === undefined) {
      p = existsSync(`${this.paths.sys}/class/net/${name}/device`);
      this.physical.set(name, p);
    }
    return p;
  }
}
