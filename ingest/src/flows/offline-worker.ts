/**
 * The reading half of the offline `flows` pass, run on a worker thread (built to dist/flows-worker.js): reads
 * and decodes the capture files in order into the packet ring, while the main thread feeds the flow table from
 * it (offline.ts). Before each file's end-of-file marker it posts that file's result on the port, so the main
 * thread can take it synchronously (receiveMessageOnPort) when it reaches the marker.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { CaptureFileReader, createPacketRecord } from '../capture/pcap-file';
import { PacketDecoder } from '../decode/decoder';
import { DecodedPacket } from '../decode/packet';
import { FlowLineWriter, type FlowColumns } from './flow-writer';
import { CTRL_FORMATTED, RingWriter, STATE_DONE, STATE_FAILED, type PacketRing } from './packet-ring';
import { F_V6, type FLOW_COLUMNS } from './table';

export interface OfflineWorkerData {
  files: string[];
  ring: PacketRing;
  port: MessagePort;
}

/**
 * Posted after each file, then once at the end with the decoder's counters (or the error that stopped it), and
 * in answer to a FormatRequest the formatted output.
 */
export type OfflineWorkerMessage =
  | { kind: 'file'; index: number; packets: number; truncated: boolean; warnings: string[] }
  | { kind: 'done'; counters: PacketDecoder['counters'] }
  | { kind: 'failed'; message: string }
  | { kind: 'formatted'; chunks: Uint8Array[] };

/**
 * Sent by the main thread once the pass is over: format flows `list[from, to)` (slot | state << 26) of the table
 * whose shared columns are given, as the main thread formats the ones before.
 */
export interface FormatRequest {
  kind: 'format';
  columns: { [K in (typeof FLOW_COLUMNS)[number]]: FlowColumns[K] };
  epochMs: number;
  list: Int32Array;
  from: number;
  to: number;
  format: 'json' | 'csv';
}

export const LIST_STATE_SHIFT = 26;

function formatFlows(req: FormatRequest): Uint8Array[] {
  const c = req.columns;
  const view: FlowColumns = {
    ...c,
    epochMs: req.epochMs,
    addrWord: (dst, slot, k) => (k === 0 ? (dst ? c.dstW0 : c.srcW0)[slot] : (c.status[slot] & F_V6) === 0 ? 0 : (dst ? c.dstW123 : c.srcW123)[c.v6Slot[slot] * 3 + k - 1]),
  };
  const out = new FlowLineWriter(-1, req.format);
  const list = req.list;
  const mask = (1 << LIST_STATE_SHIFT) - 1;
  for (let i = req.from; i < req.to; i++) out.flow(view, list[i] & mask, list[i] >>> LIST_STATE_SHIFT);
  return out.takeChunks();
}

export function runOfflineWorker(data: OfflineWorkerData): void {
  const ring = new RingWriter(data.ring);
  const port = data.port;
  const decoder = new PacketDecoder();
  const p = new DecodedPacket();
  const rec = createPacketRecord();
  try {
    data.files.forEach((file, index) => {
      const reader = CaptureFileReader.open(file);
      let n = 0;
      try {
        while (reader.next(rec)) {
          if (decoder.decodeRecord(rec, p)) ring.packet(p);
          if ((++n & 0xffff) === 0) ring.progress(reader.bytesRead);
        }
      } finally {
        reader.close();
      }
      const msg: OfflineWorkerMessage = { kind: 'file', index, packets: n, truncated: reader.truncated, warnings: reader.warnings };
      port.postMessage(msg);
      ring.endOfFile(index);
    });
    port.postMessage({ kind: 'done', counters: decoder.counters } satisfies OfflineWorkerMessage);
    ring.finish(STATE_DONE);
    port.on('message', (req: FormatRequest) => {
      if (req.kind !== 'format') return;
      let msg: OfflineWorkerMessage;
      try {
        const chunks = formatFlows(req);
        msg = { kind: 'formatted', chunks };
        port.postMessage(msg, chunks.map((b) => b.buffer as ArrayBuffer));
      } catch (e) {
        port.postMessage({ kind: 'failed', message: (e as Error).message } satisfies OfflineWorkerMessage);
      }
      // The main thread waits on this word rather than on its event loop.
      Atomics.store(ring.ctrl, CTRL_FORMATTED, 1);
      Atomics.notify(ring.ctrl, CTRL_FORMATTED);
    });
  } catch (e) {
    port.postMessage({ kind: 'failed', message: (e as Error).message } satisfies OfflineWorkerMessage);
    ring.finish(STATE_FAILED);
  }
}

if (parentPort !== null && workerData !== undefined && (workerData as { kind?: string }).kind === 'netwatch-offline-flows') {
  runOfflineWorker(workerData as OfflineWorkerData);
}
