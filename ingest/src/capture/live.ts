/**
 * Live capture through libpcap with the `cap` addon. `cap` is an optional dependency (it needs libpcap-dev
 * to build), so it is loaded lazily and its absence is a clear error, not a crash at start-up.
 *
 * `cap` hands each packet over in one reused buffer with no capture timestamp, so packets are stamped on
 * arrival with the monotonic clock mapped once to wall time: timestamps never jump backwards with NTP.
 * It exposes no pcap_stats(); what libpcap delivered is counted here, and kernel-level drops are read by the
 * host metrics from the interface counters.
 */

/** Called synchronously for every packet; `data` is reused for the next packet, so it must not be kept. */
export type PacketSink = (linkType: number, data: Buffer, captureLength: number, wireLength: number, tsUs: number) => void;

export interface LiveCaptureOptions {
  interface: string;
  bpf?: string;
  /** libpcap's kernel buffer in bytes. */
  bufferSize?: number;
}

export interface LiveCaptureStats {
  interface: string;
  linkType: number;
  received: number;
  receivedBytes: number;
  truncated: number;
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

/** See LiveCapture.stop(). */
const CLOSED_CAPTURES: unknown[] = [];

export class LiveCapture {
  readonly stats: LiveCaptureStats;
  private cap: CapInstance | null = null;
  private readonly buffer = Buffer.alloc(65536);

  constructor(
    private readonly options: LiveCaptureOptions,
    private readonly sink: PacketSink,
  ) {
    this.stats = { interface: options.interface, linkType: -1, received: 0, receivedBytes: 0, truncated: 0 };
  }

  start(): void {
    const { cap, reason } = loadCap();
    if (!cap) throw new CaptureUnavailableError(reason);
    const c = new cap.Cap();
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
  }

  stop(): void {
    if (this.cap) {
      this.cap.close();
      // cap 0.2.1 on Linux stops its uv_poll handle on close() but never uv_close()s it; the handle lives inside
      // the native object, so once that object is garbage-collected libuv's handle queue points into freed memory
      // and the process later dies with heap corruption (seen: "free(): invalid next size" at exit). Keeping the
      // closed instances reachable for the life of the process avoids it, at a few hundred bytes per capture opened.
      CLOSED_CAPTURES.push(this.cap);
    }
    this.cap = null;
  }
}
