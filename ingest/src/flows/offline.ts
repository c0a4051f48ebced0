/**
 * The offline flow pass behind `netwatch-ingest flows`: capture files -> the service's decoder and flow table
 * -> every flow, once, on the capture's own clock.
 *
 * Nothing is cut by retention: a flow leaves the table only when it is finished (past every idle timeout, the
 * table's expiry) or to make room (eviction at --max-flows), and the table hands it over just before it drops
 * it (`onRemove`); what is still in the table at the end follows. The table therefore stays bounded however long
 * the capture is, and the output is in the order flows finish, not sorted.
 */
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { CaptureFileReader, createPacketRecord } from '../capture/pcap-file';
import { PacketDecoder, type DecodeCounters } from '../decode/decoder';
import { DecodedPacket } from '../decode/packet';
import { formatIPv4, formatIPv6 } from '../protocol/ip';
import { protocolName } from '../protocol/ip-protocols';
import { CompiledFilter, NO_FLOW_FILTER, type FlowFilter } from './filter';
import { FLOW_STATE_NAMES } from './flow-writer';
import { LIST_STATE_SHIFT, type FormatRequest, type OfflineWorkerData, type OfflineWorkerMessage } from './offline-worker';
import { CTRL_FORMATTED, CTRL_HEAD, CTRL_PROGRESS_KIB, RingReader, STATE_DONE, createPacketRing } from './packet-ring';
import { F_V6, FLOW_COLUMNS, FLOW_TABLE_DEFAULTS, FlowTable, type IdleTimeouts } from './table';

export interface OfflineFlowOptions {
  idleTimeoutMs?: Partial<IdleTimeouts>;
  /** Flows held at once. Default 1,000,000. */
  maxFlows?: number;
  filter?: FlowFilter;
  /** Called once per flow that passes the filter, while its fields are readable (`state` is FLOW_*). */
  onFlow: (t: FlowTable, slot: number, state: number) => void;
  /** Keep the table's columns shared, for finish() to let the reader thread format half the output. */
  shared?: boolean;
  /** Flows below which finish() formats everything on this thread (default 20,000: below, the split does not pay). */
  minSplit?: number;
}

export interface OfflineFileResult {
  packets: number;
  truncated: boolean;
  warnings: string[];
}

/** Flows below which finish() formats everything itself: the reader thread's start-up cost would not pay. */
const MIN_SPLIT = 20_000;
const SLOT_OF_LIST = (1 << LIST_STATE_SHIFT) - 1;

/** An hour, or twice the longest idle timeout: a flow quiet for that long is finished and can be printed. */
const MIN_HOLD_MS = 3_600_000;

export class OfflineFlowPass {
  readonly table: FlowTable;
  readonly decoder = new PacketDecoder();
  private readonly packet = new DecodedPacket();
  private readonly filter: CompiledFilter;
  private readonly onFlow: OfflineFlowOptions['onFlow'];
  flowsPrinted = 0;
  private readonly minSplit: number;

  constructor(opts: OfflineFlowOptions) {
    this.filter = new CompiledFilter(opts.filter ?? NO_FLOW_FILTER);
    this.onFlow = opts.onFlow;
    this.minSplit = opts.minSplit ?? MIN_SPLIT;
    const t: IdleTimeouts = { ...FLOW_TABLE_DEFAULTS.idleTimeoutMs, ...opts.idleTimeoutMs };
    const holdMs = Math.max(MIN_HOLD_MS, 2 * Math.max(t.tcp, t.tcpClosed, t.udp, t.icmp, t.other));
    this.table = new FlowTable({
      maxFlows: opts.maxFlows ?? 1_000_000,
      retentionMs: holdMs,
      // No series offline: two buckets and no bucket log.
      bucketMs: holdMs,
      series: false,
      shared: opts.shared,
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
        if (decoder.decodeRecord(rec, p)) table.add(p);
        if ((++n & 0xffff) === 0 && progress) progress(reader.bytesRead);
      }
    } finally {
      reader.close();
    }
    return { packets: n, truncated: reader.truncated, warnings: reader.warnings };
  }

  /**
   * Feeds every file through a worker thread that reads and decodes them (`workerScript`, the built
   * offline-worker.ts) while this thread runs the table: the same decoder and table as addFile, on two cores.
   * `onFile` gets each file's result once its packets are all in the table; `progress` is called while waiting
   * with the KiB read of the current file.
   */
  addFilesPipelined(
    workerScript: string,
    files: string[],
    onFile: (index: number, r: OfflineFileResult) => void,
    progress?: (kib: number) => void,
  ): void {
    const ring = createPacketRing();
    const { port1, port2 } = new MessageChannel();
    const data: OfflineWorkerData & { kind: string } = { kind: 'netwatch-offline-flows', files, ring, port: port2 };
    const worker = new Worker(workerScript, { workerData: data, transferList: [port2] });
    worker.unref();
    const reader = new RingReader(ring);
    const next = (): OfflineWorkerMessage => {
      // The worker posts before it publishes the marker or state that makes us look, so the message is there;
      // it may take a moment to be delivered to this end of the channel.
      for (let i = 0; i < 1000; i++) {
        const m = receiveMessageOnPort(port1);
        if (m !== undefined) return m.message as OfflineWorkerMessage;
        Atomics.wait(reader.ctrl, CTRL_HEAD, Atomics.load(reader.ctrl, CTRL_HEAD), 1);
      }
      throw new Error('the capture reader thread stopped answering');
    };
    const table = this.table;
    const state = reader.drain(
      table,
      () => {
        const m = next();
        if (m.kind !== 'file') throw new Error(m.kind === 'failed' ? m.message : 'capture reader thread out of step');
        onFile(m.index, { packets: m.packets, truncated: m.truncated, warnings: m.warnings });
      },
      progress ? () => progress(Atomics.load(reader.ctrl, CTRL_PROGRESS_KIB)) : undefined,
    );
    const last = next();
    if (state !== STATE_DONE || last.kind !== 'done') {
      port1.close();
      throw new Error(last.kind === 'failed' ? last.message : 'capture reader thread failed');
    }
    this.workerCounters = last.counters;
    this.reader = { port: port1, ctrl: reader.ctrl };
  }

  private workerCounters: DecodeCounters | null = null;
  /** The idle reader thread after addFilesPipelined, until finish. */
  private reader: { port: MessagePort; ctrl: Int32Array } | null = null;

  /** The decoder's counters, from the worker thread after addFilesPipelined. */
  get decodeCounters(): DecodeCounters {
    return this.workerCounters ?? this.decoder.counters;
  }

  /**
   * Hands over the flows still in the table, in slot order (the order they started, while no slot was reused).
   * With `split` (and the reader thread of addFilesPipelined idle, the table's columns shared, and enough flows
   * for it to pay), the reader thread formats the second half of them meanwhile and its output is handed to
   * `split.write` after the first half has gone through onFlow: the same lines in the same order.
   */
  finish(split?: { format: 'json' | 'csv'; write: (chunks: Uint8Array[]) => void }): void {
    const t = this.table;
    const n = t.scanLimit;
    const reader = this.reader;
    this.reader = null;
    if (split === undefined || reader === null || !(t.status.buffer instanceof SharedArrayBuffer)) {
      reader?.port.close();
      for (let s = 0; s < n; s++) if (t.status[s] !== 0) this.emit(s);
      return;
    }
    const list = new Int32Array(new SharedArrayBuffer(4 * Math.max(1, t.size)));
    let m = 0;
    const now = t.nowRel();
    for (let s = 0; s < n; s++) {
      if (t.status[s] === 0 || !this.filter.matches(t, s)) continue;
      list[m++] = s | (t.flowState(s, now) << LIST_STATE_SHIFT);
    }
    this.flowsPrinted += m;
    if (m < this.minSplit) {
      reader.port.close();
      for (let i = 0; i < m; i++) this.onFlow(t, list[i] & SLOT_OF_LIST, list[i] >>> LIST_STATE_SHIFT);
      return;
    }
    // The reader thread starts cold (its formatter not yet optimised): give it a little less.
    const half = Math.floor(m * 0.55);
    const columns = Object.fromEntries(FLOW_COLUMNS.map((k) => [k, t[k]])) as FormatRequest['columns'];
    const req: FormatRequest = { kind: 'format', columns, epochMs: t.epochMs, list, from: half, to: m, format: split.format };
    reader.port.postMessage(req);
    for (let i = 0; i < half; i++) this.onFlow(t, list[i] & SLOT_OF_LIST, list[i] >>> LIST_STATE_SHIFT);
    while (Atomics.load(reader.ctrl, CTRL_FORMATTED) === 0) Atomics.wait(reader.ctrl, CTRL_FORMATTED, 0, 100);
    const msg = receiveMessageOnPort(reader.port)?.message as OfflineWorkerMessage | undefined;
    reader.port.close();
    if (msg?.kind !== 'formatted') throw new Error(msg?.kind === 'failed' ? msg.message : 'capture reader thread did not format its part');
    split.write(msg.chunks);
  }

  private emit(slot: number): void {
    const t = this.table;
    if (!this.filter.matches(t, slot)) return;
    this.flowsPrinted++;
    this.onFlow(t, slot, t.flowState(slot));
  }
}

const STATES = FLOW_STATE_NAMES;

export function stateName(state: number): string {
  return STATES[state];
}

export function flowAddress(t: FlowTable, dst: boolean, slot: number): string {
  if ((t.status[slot] & F_V6) === 0) return formatIPv4(t.addrWord(dst, slot, 0));
  return formatIPv6(t.addrWord(dst, slot, 0), t.addrWord(dst, slot, 1), t.addrWord(dst, slot, 2), t.addrWord(dst, slot, 3));
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
