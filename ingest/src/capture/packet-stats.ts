/**
 * The kernel's counters for our live captures: the `@netwatch/packet-stats` addon (ingest/native/packet-stats)
 * reads PACKET_STATISTICS of every AF_PACKET socket of the process, because the `cap` binding never calls
 * pcap_stats(). The addon is an optional dependency (it needs a C compiler and Linux), so it is loaded lazily
 * and its absence is a reason string, never a zero count.
 *
 * The addon returns running totals per socket (the kernel resets its counters on every read, the addon adds
 * each read to one table), so any number of readers can poll it without counting a packet twice.
 */
import { readFileSync } from 'node:fs';
// Types only, from the addon's own declarations (in the repository whether or not the addon was built).
import type * as PacketStatsModule from '../../native/packet-stats';

export type PacketSocketStats = PacketStatsModule.PacketSocketStats;

let addon: typeof PacketStatsModule | null | undefined;
let addonReason = '';

/** The addon, or null with the reason it cannot be used. */
export function loadPacketStats(): { addon: typeof PacketStatsModule | null; reason?: string } {
  if (addon === undefined) {
    if (process.platform !== 'linux') {
      addon = null;
      addonReason = `kernel capture counters are read from Linux packet sockets; not available on ${process.platform}`;
    } else {
      try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        addon = require('@netwatch/packet-stats') as typeof PacketStatsModule;
      } catch (e) {
        addon = null;
        addonReason = `the @netwatch/packet-stats addon is not available (${(e as Error).message.split('\n')[0]}); it builds at npm ci with a C compiler`;
      }
    }
  }
  return addon ? { addon } : { addon: null, reason: addonReason };
}

/** if_nametoindex through sysfs; 0 for `any`, null when the name is unknown. */
export function interfaceIndex(name: string): number | null {
  if (name === 'any') return 0;
  try {
    if (name.includes('/') || name.startsWith('.')) return null;
    const n = Number(readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8').trim());
    return Number.isInteger(n) ? n : null;
  } catch {
    return null;
  }
}

/**
 * Which of the packet sockets in `after` and not in `before` (inodes) belongs to the capture just opened on
 * `ifindex`: the only new one, or among several new ones (another thread opening captures) the only one on that
 * interface. A string when it cannot be told.
 */
export function matchNewSocket(before: ReadonlySet<number>, after: readonly PacketSocketStats[], ifindex: number | null): PacketSocketStats | string {
  const fresh = after.filter((s) => !before.has(s.inode));
  if (fresh.length === 1) return fresh[0];
  if (fresh.length === 0) return 'no new packet socket appeared when libpcap opened the capture';
  const onIf = ifindex === null ? [] : fresh.filter((s) => s.ifindex === ifindex);
  if (onIf.length === 1) return onIf[0];
  return `${fresh.length} packet sockets appeared when libpcap opened the capture; cannot tell which is this one`;
}
