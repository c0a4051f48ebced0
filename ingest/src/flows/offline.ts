/**
 * The offline flow pass behind `netwatch-ingest flows`: capture files -> the service's decoder and flow table
 * -> every flow, once, on the capture's own clock.
 *
 * Nothing is cut by retention: a flow leaves the table only when it is finished (past every idle timeout, the
 * table's expiry) or to make room (eviction at --max-flows), and the table hands it over just before it drops
 * it (`onRemove`); what is still in the table at the end follows. The table therefore stays bounded however long
 * the capture is, and the output is in the order flows finish, not sorted.
 */
import { CaptureFileReader, createPacketRecord } from '../capture/pcap-file';
import { PacketDecoder } from '../decode/decoder';
import { DecodedPacket } from '../decode/packet';
import { formatIPv4, formatIPv6 } from '../protocol/ip';
import { protocolName } from '../protocol/ip-protocols';
import { CompiledFilter, NO_FLOW_FILTER, type FlowFilter } from './filter';
import { F_V6, FLOW_TABLE_DEFAULTS, FlowTable, type IdleTimeouts } from './table';

export interface OfflineFlowOptions {
  idleTimeoutMs?: Partial<IdleTimeouts>;
  /** Flows held at once. Default 1,000,000. */
  maxFlows?: number;
  filter?: FlowFilter;
  /** Called once per flow that passes the filter, while its fields are readable (`state` is FLOW_*). */
  onFlow: (t: FlowTable, slot: number, state: number) => void;
}

export interface OfflineFileResult {
  packets: number;
  truncated: boolean;
  warnings: string[];
}

/** An hour, or twice the longest idle timeout: a flow quiet for that long is finished and can be printed. */
const MIN_HOLD_MS = 3_600_000;

export class OfflineFlowPass {
  readonly table: FlowTable;
  readonly decoder = new PacketDecoder();
  private readonly packet = new DecodedPacket();
  private readonly filter: CompiledFilter;
  private readonly onFlow: OfflineFlowOptions['onFlow'];
  flowsPrinted = 0;

  constructor(opts: OfflineFlowOptions) {
    this.filter = new CompiledFilter(opts.filter ?? NO_FLOW_FILTER);
    this.onFlow = opts.onFlow;
    const t: IdleTimeouts = { ...FLOW_TABLE_DEFAULTS.idleTimeoutMs, ...opts.idleTimeoutMs };
    const holdMs = Math.max(MIN_HOLD_MS, 2 * Math.max(t.tcp, t.tcpClosed, t.udp, t.icmp, t.other));
    this.table = new FlowTable({
      maxFlows: opts.maxFlows ?? 1_000_000,
      retentionMs: holdMs,
      // No series offline: two buckets and no bucket log.
      bucketMs: holdMs,
      series: false,
      idleTimeoutMs: opts.idleTimeoutMs,
      onRemove: (slot) => this.emit(slot),
    });
  }

  /**
   * Feeds every packet of one file (already opened, so format errors surfaced before any output). `progress`
   * is called about every 64k packets with the bytes of the file read so far.
   */
  addFile(reader: CaptureFileReader, progress?: (bytesRead: number) => void): OfflineFileResult {
    const rec = createPacketRecord();
    const decoder = this.decoder;
    const table = this.table;
    const p = this.packet;
    let n = 0;
    try {
      while (reader.next(rec)) {
        if (decoder.decode(rec.linkType, rec.data, rec.offset, rec.captureLength, rec.originalLength, rec.tsUs, p)) table.add(p);
        if ((++n & 0xffff) === 0 && progress) progress(reader.bytesRead);
      }
    } finally {
      reader.close();
    }
    return { packets: n, truncated: reader.truncated, warnings: reader.warnings };
  }

  /** Hands over the flows still in the table, in slot order (the order they started, while no slot was reused). */
  finish(): void {
    const t = this.table;
    const n = t.scanLimit;
    for (let s = 0; s < n; s++) if (t.status[s] !== 0) this.emit(s);
  }

  private emit(slot: number): void {
    const t = this.table;
    if (!this.filter.matches(t, slot)) return;
    this.flowsPrinted++;
    this.onFlow(t, slot, t.flowState(slot));
  }
}

const STATES = ['active', 'idle', 'closed'];

export function stateName(state: number): string {
  return STATES[state];
}

export function flowAddress(t: FlowTable, dst: boolean, slot: number): string {
  if ((t.status[slot] & F_V6) === 0) return formatIPv4(t.addrWord(dst, slot, 0));
  return formatIPv6(t.addrWord(dst, slot, 0), t.addrWord(dst, slot, 1), t.addrWord(dst, slot, 2), t.addrWord(dst, slot, 3));
}

/** The fields `--format json` prints, in order: protocol as its IANA number, times as epoch ms. */
export const FLOW_FIELDS = [
  'src_ip',
  'src_port',
  'dst_ip',
  'dst_port',
  'protocol',
  'packets',
  'bytes',
  'packets_rev',
  'bytes_rev',
  'first_seen',
  'last_seen',
  'tcp_flags',
  'tcp_flags_rev',
  'state',
] as const;

/** One JSON object (no newline). Built by hand: addresses and the state are the only strings, and need no escaping. */
export function flowJson(t: FlowTable, s: number, state: number): string {
  const e = t.epochMs;
  return (
    `{"src_ip":"${flowAddress(t, false, s)}","src_port":${t.srcPort[s]},"dst_ip":"${flowAddress(t, true, s)}","dst_port":${t.dstPort[s]},` +
    `"protocol":${t.proto[s]},"packets":${t.packetsFwd[s]},"bytes":${t.bytesFwd[s]},"packets_rev":${t.packetsRev[s]},"bytes_rev":${t.bytesRev[s]},` +
    `"first_seen":${e + t.firstRel[s]},"last_seen":${e + t.lastRel[s]},"tcp_flags":${t.tcpFlagsFwd[s]},"tcp_flags_rev":${t.tcpFlagsRev[s]},"state":"${STATES[state]}"}`
  );
}

export function flowCsv(t: FlowTable, s: number, state: number): string {
  const e = t.epochMs;
  return (
    `${flowAddress(t, false, s)},${t.srcPort[s]},${flowAddress(t, true, s)},${t.dstPort[s]},${t.proto[s]},${t.packetsFwd[s]},${t.bytesFwd[s]},` +
    `${t.packetsRev[s]},${t.bytesRev[s]},${e + t.firstRel[s]},${e + t.lastRel[s]},${t.tcpFlagsFwd[s]},${t.tcpFlagsRev[s]},${STATES[state]}`
  );
}

/** Column widths of the table format: an IPv6 address takes up to 39 characters. */
const TABLE_COLUMNS: ReadonlyArray<[string, number, 'l' | 'r']> = [
  ['SRC', 39, 'l'],
  ['SPORT', 5, 'r'],
  ['DST', 39, 'l'],
  ['DPORT', 5, 'r'],
  ['PROTO', 6, 'l'],
  ['PACKETS', 8, 'r'],
  ['BYTES', 11, 'r'],
  ['PKTS_REV', 8, 'r'],
  ['BYTES_REV', 11, 'r'],
  ['FIRST_SEEN', 24, 'l'],
  ['LAST_SEEN', 24, 'l'],
  ['STATE', 6, 'l'],
];

function row(values: Array<string | number>): string {
  return values
    .map((v, i) => {
      const [, w, align] = TABLE_COLUMNS[i];
      const s = String(v);
      return align === 'r' ? s.padStart(w) : i === values.length - 1 ? s : s.padEnd(w);
    })
    .join(' ');
}

export function flowTableHeader(): string {
  return row(TABLE_COLUMNS.map((c) => c[0]));
}

export function flowTableRow(t: FlowTable, s: number, state: number): string {
  const e = t.epochMs;
  return row([
    flowAddress(t, false, s),
    t.srcPort[s],
    flowAddress(t, true, s),
    t.dstPort[s],
    protocolName(t.proto[s]),
    t.packetsFwd[s],
    t.bytesFwd[s],
    t.packetsRev[s],
    t.bytesRev[s],
    new Date(e + t.firstRel[s]).toISOString(),
    new Date(e + t.lastRel[s]).toISOString(),
    STATES[state],
  ]);
}
