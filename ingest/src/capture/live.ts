/**
 * Live capture through libpcap with the `cap` addon. `cap` is an optional dependency (it needs libpcap-dev
 * to build), so it is loaded lazily and its absence is a clear error, not a crash at start-up.
 *
 * `cap` hands each packet over in one reused buffer with no capture timestamp, so packets are stamped on
 * arrival with the monotonic clock mapped once to wall time: timestamps never jump backwards with NTP.
 * It exposes no pcap_stats(), so the kernel's own counters for the capture's packet socket (packets that
 * passed the filter, packets dropped because the ring was full) are read with the `@netwatch/packet-stats`
 * addon (packet-stats.ts): the socket is the one that appeared while `cap.open` ran, and it is polled every
 * few seconds and once more right before close.
 */
import { interfaceIndex, loadPacketStats, matchNewSocket } from './packet-stats';

/** Called synchronously for every packet; `data` is reused for the next packet, so it must not be kept. */
export type PacketSink = (linkType: number, data: Buffer, captureLength: number, wireLength: number, tsUs: number) => void;

export interface LiveCaptureOptions {
  interface: string;
  bpf?: string;
  /** libpcap's kernel buffer in bytes. */
  bufferSize?: number;
  /** How often the kernel counters are read. Default 2000 ms. */
  kernelStatsIntervalMs?: number;
  /** Wall clock in epoch ms, for kernelLastDropMs. Default Date.now. */
  now?: () => number;
  /** Called after a read of the kernel counters that found new drops. */
  onKernelDrops?: (newDrops: number, stats: LiveCaptureStats) => void;
}

export interface LiveCaptureStats {
  interface: string;
  linkType: number;
  /** Packets libpcap handed over (captured). */
  received: number;
  receivedBytes: number;
  truncated: number;
  /**
   * The kernel's count of packets that passed the BPF filter, dropped ones included (tp_packets, summed since the
   * socket opened). On `lo` each packet is counted twice: the socket sees its outgoing and its incoming copy, and
   * libpcap discards the outgoing one. Null when unknown (kernelUnavailable says why).
   */
  kernelReceived: number | null;
  /** Packets the kernel dropped because the capture ring was full (tp_drops); null when unknown. */
  kernelDropped: number | null;
  /** TPACKET_V3 ring freezes; null on V1/V2 rings (cap asks for immediate mode, which libpcap serves with V2). */
  kernelFreezes: number | null;
  /** Why the kernel counters are null, else null. */
  kernelUnavailable: string | null;
  /** When (epoch ms) a read last found kernelDropped grown; null if it never has. */
  kernelLastDropMs: number | null;
}

interface CapInstance {
  open(device: string, filter: string, bufSize: number, buffer: Buffer): string;
  close(): void;
  on(event: 'packet', fn: (nbytes: number, truncated: boolean) => void): void;
}
interface CapModule {
  Cap: { new (): CapInstance; deviceList(): Array<{ name: string; addresses: Array<{ addr: string }>; flags?: string }> };
}

export class CaptureUnavailableError extends Error {}

let capModule: CapModule | null | undefined;

/** The `cap` addon, or null with the reason when it is not installed or not built. */
export function loadCap(): { cap: CapModule | null; reason?: string } {
  if (capModule === undefined) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      capModule = require('cap') as CapModule;
    } catch (e) {
      capModule = null;
      return { cap: null, reason: `the cap addon is not available (${(e as Error).message.split('\n')[0]}); install libpcap-dev and run npm ci` };
    }
  }
  return { cap: capModule };
}

/** libpcap's DLT names as `cap` reports them, to LINKTYPE_* numbers (tcpdump.org/linktypes.html). */
export function linkTypeFromCap(name: string): number {
  switch (name) {
    case 'ETHERNET':
      return 1;
    case 'NULL':
      return 0;
    case 'LINKTYPE_LINUX_SLL':
      return 113;
    case 'RAW':
      return 101;
    case 'IEEE802_11_RADIO':
      return 127;
    default: {
      // "Unknown linktype N" carries the DLT number; on Linux DLT and LINKTYPE agree for the ones we decode (SLL2 276).
      const m = /(\d+)$/.exec(name);
      return m ? Number(m[1]) : -1;
    }
  }
}

export function listInterfaces(): string[] {
  const { cap } = loadCap();
  if (!cap) return [];
  return cap.Cap.deviceList().map((d) => d.name);
}

/**
 * cap 0.2.1 on Linux stops its uv_poll handle on close() but never uv_close()s it, and the handle lives inside the
 * native object: once that object is garbage-collected, libuv's handle queue links into freed memory and the next
 * handle opened or closed nearby corrupts the heap (seen: "free(): invalid next size" and "double free or
 * corruption" at exit). So every opened instance is kept reachable for the life of the process, at a few hundred
 * bytes per capture ever opened. The list hangs on the native module's exports object, which Node loads once per
 * process: a module-level array would be dropped with its module (jest, for one, reloads modules per test file).
 */
function retainForever(cap: CapModule, instance: CapInstance): void {
  const holder = cap as unknown as { netwatchRetained?: CapInstance[] };
  (holder.netwatchRetained ??= []).push(instance);
}

export class LiveCapture {
  readonly stats: LiveCaptureStats;
  private cap: CapInstance | null = null;
  private readonly buffer = Buffer.alloc(65536);
  /** The inode of this capture's packet socket, once matched. */
  private socketInode: number | null = null;
  private kernelTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly options: LiveCaptureOptions,
    private readonly sink: PacketSink,
  ) {
    this.stats = {
      interface: options.interface,
      linkType: -1,
      received: 0,
      receivedBytes: 0,
      truncated: 0,
      kernelReceived: null,
      kernelDropped: null,
      kernelFreezes: null,
      kernelUnavailable: 'the capture has not started',
      kernelLastDropMs: null,
    };
  }

  start(): void {
    const { cap, reason } = loadCap();
    if (!cap) throw new CaptureUnavailableError(reason);
    // cap prints a warning and aborts the process later (uv_poll_stop on a poll handle it never started, when the
    // failed instance is closed or collected) if open() is given a device that does not exist: refuse it first.
    const devices = cap.Cap.deviceList().map((d) => d.name);
    if (this.options.interface !== 'any' && !devices.includes(this.options.interface)) {
      throw new CaptureUnavailableError(`cannot capture on ${this.options.interface}: no such interface (known: ${devices.join(', ') || 'none'})`);
    }
    const c = new cap.Cap();
    // Before open(): an instance whose open() failed must not be collected either (see retainForever).
    retainForever(cap, c);
    const { addon: packetStats, reason: noPacketStats } = loadPacketStats();
    let before: Set<number> | string;
    try {
      before = packetStats ? new Set(packetStats.read().map((s) => s.inode)) : (noPacketStats ?? 'unavailable');
    } catch (e) {
      before = `cannot read the packet sockets' counters: ${(e as Error).message}`;
    }
    let linkName: string;
    try {
      linkName = c.open(this.options.interface, this.options.bpf ?? '', this.options.bufferSize ?? 16 * 1024 * 1024, this.buffer);
    } catch (e) {
      throw new CaptureUnavailableError(`cannot capture on ${this.options.interface}: ${(e as Error).message} (live capture needs root or CAP_NET_RAW)`);
    }
    const linkType = linkTypeFromCap(linkName);
    this.stats.linkType = linkType;
    const hr0 = process.hrtime.bigint();
    const wallBaseUs = Date.now() * 1000;
    const buf = this.buffer;
    const stats = this.stats;
    const sink = this.sink;
    c.on('packet', (nbytes: number, truncated: boolean) => {
      const tsUs = wallBaseUs + Number((process.hrtime.bigint() - hr0) / 1000n);
      stats.received++;
      stats.receivedBytes += nbytes;
      if (truncated) stats.truncated++;
      sink(linkType, buf, nbytes, nbytes, tsUs);
    });
    this.cap = c;

    // cap.open() runs synchronously on this thread, so the packet socket that appeared meanwhile is libpcap's.
    if (typeof before === 'string') {
      this.stats.kernelUnavailable = before;
    } else {
      try {
        const m = matchNewSocket(before, packetStats!.read(), interfaceIndex(this.options.interface));
        if (typeof m === 'string') this.stats.kernelUnavailable = m;
        else {
          this.socketInode = m.inode;
          this.stats.kernelUnavailable = null;
          this.pollKernelStats();
          this.kernelTimer = setInterval(() => this.pollKernelStats(), this.options.kernelStatsIntervalMs ?? 2000);
          this.kernelTimer.unref();
        }
      } catch (e) {
        this.stats.kernelUnavailable = `cannot read the packet sockets' counters: ${(e as Error).message}`;
      }
    }
  }

  /**
   * Reads the kernel counters of this capture's packet socket into `stats`. Safe to call at any time and from
   * anywhere: the values are totals since the socket opened, so a read only ever adds what is new.
   */
  pollKernelStats(): void {
    if (this.socketInode === null || this.cap === null) return;
    const { addon } = loadPacketStats();
    let mine;
    try {
      mine = addon!.read().find((s) => s.inode === this.socketInode);
    } catch (e) {
      this.stats.kernelUnavailable = `cannot read the packet sockets' counters: ${(e as Error).message}`;
      return;
    }
    if (!mine) return;
    if (mine.error !== null) {
      this.stats.kernelUnavailable = `PACKET_STATISTICS failed: ${mine.error}`;
      return;
    }
    const s = this.stats;
    const newDrops = mine.drops - (s.kernelDropped ?? 0);
    s.kernelReceived = mine.packets;
    s.kernelDropped = mine.drops;
    s.kernelFreezes = mine.freezes;
    s.kernelUnavailable = null;
    if (newDrops > 0) {
      s.kernelLastDropMs = (this.options.now ?? Date.now)();
      this.options.onKernelDrops?.(newDrops, s);
    }
  }

  stop(): void {
    if (this.kernelTimer) clearInterval(this.kernelTimer);
    this.kernelTimer = null;
    // Last read before close: a closed socket's counts since the previous read are gone with it.
    this.pollKernelStats();
    this.socketInode = null;
    if (this.cap) {
      this.cap.close();
    }
    this.cap = null;
  }
}
