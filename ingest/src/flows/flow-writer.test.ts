/**
 * The byte-level writer of `flows --format json|csv` must print what JSON.stringify and a plain join of the
 * same values print: checked on flows that reach every formatting branch (both address families, IPv4-mapped
 * IPv6, numbers from 0 to above 2^32, times near 2^53 ms epoch values, every state), across buffer flushes.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { formatIPv4, formatIPv6 } from '../protocol/ip';
import { FLOW_FIELDS, FLOW_STATE_NAMES, FlowLineWriter, type FlowColumns } from './flow-writer';
import { F_LIVE, F_V6 } from './table';

interface Row {
  v6: boolean;
  src: [number, number, number, number];
  dst: [number, number, number, number];
  sp: number;
  dp: number;
  proto: number;
  pf: number;
  bf: number;
  pr: number;
  br: number;
  first: number;
  last: number;
  ff: number;
  fr: number;
  state: number;
}

const EPOCH = 1_704_067_200_000 - 3_600_000;

const ROWS: Row[] = [
  { v6: false, src: [0x0a000001, 0, 0, 0], dst: [0xc0a80001, 0, 0, 0], sp: 40000, dp: 443, proto: 6, pf: 12, bf: 4613, pr: 9, br: 3710, first: 0, last: 8219, ff: 27, fr: 27, state: 2 },
  { v6: false, src: [0, 0, 0, 0], dst: [0xffffffff, 0, 0, 0], sp: 68, dp: 67, proto: 17, pf: 1, bf: 342, pr: 0, br: 0, first: 5, last: 5, ff: 0, fr: 0, state: 1 },
  { v6: false, src: [0x01020304, 0, 0, 0], dst: [0x647a0a09, 0, 0, 0], sp: 0, dp: 65535, proto: 132, pf: 0xffffffff, bf: 2 ** 40 + 7, pr: 2 ** 31, br: 2 ** 32, first: 0xfffffffe, last: 0xffffffff, ff: 255, fr: 128, state: 0 },
  { v6: true, src: [0x20010db8, 0, 0, 1], dst: [0x20010db8, 0, 0, 2], sp: 8, dp: 0, proto: 58, pf: 3, bf: 312, pr: 3, br: 312, first: 100, last: 2100, ff: 0, fr: 0, state: 0 },
  { v6: true, src: [0, 0, 0xffff, 0xc0000201], dst: [0xfe800000, 0, 0x02163eff, 0xfe5a1b2c], sp: 546, dp: 547, proto: 17, pf: 9, bf: 99, pr: 10, br: 1000, first: 1, last: 9_999_999, ff: 0, fr: 0, state: 1 },
  { v6: true, src: [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], dst: [0, 0, 0, 0], sp: 1, dp: 2, proto: 0, pf: 1, bf: 60, pr: 0, br: 0, first: 0, last: 0, ff: 0, fr: 0, state: 2 },
];

function columns(rows: Row[]): FlowColumns {
  const n = rows.length;
  const c = {
    status: Uint8Array.from(rows, (r) => F_LIVE | (r.v6 ? F_V6 : 0)),
    proto: Uint8Array.from(rows, (r) => r.proto),
    srcW0: Uint32Array.from(rows, (r) => r.src[0]),
    srcW123: Uint32Array.from(rows.flatMap((r) => r.src.slice(1))),
    dstW0: Uint32Array.from(rows, (r) => r.dst[0]),
    dstW123: Uint32Array.from(rows.flatMap((r) => r.dst.slice(1))),
    srcPort: Uint16Array.from(rows, (r) => r.sp),
    dstPort: Uint16Array.from(rows, (r) => r.dp),
    tcpFlagsFwd: Uint8Array.from(rows, (r) => r.ff),
    tcpFlagsRev: Uint8Array.from(rows, (r) => r.fr),
    packetsFwd: Uint32Array.from(rows, (r) => r.pf),
    packetsRev: Uint32Array.from(rows, (r) => r.pr),
    bytesFwd: Float64Array.from(rows, (r) => r.bf),
    bytesRev: Float64Array.from(rows, (r) => r.br),
    firstRel: Uint32Array.from(rows, (r) => r.first),
    lastRel: Uint32Array.from(rows, (r) => r.last),
    v6Slot: Int32Array.from(rows, (_, i) => i),
  };
  expect(c.srcW123).toHaveLength(3 * n);
  return {
    ...c,
    epochMs: EPOCH,
    addrWord: (dst, slot, k) => (k === 0 ? (dst ? c.dstW0 : c.srcW0)[slot] : (dst ? c.dstW123 : c.srcW123)[slot * 3 + k - 1]),
  };
}

/** The values of a row in FLOW_FIELDS order, as the reference formatting sees them. */
function values(r: Row): Array<string | number> {
  const ip = (w: number[]) => (r.v6 ? formatIPv6(w[0], w[1], w[2], w[3]) : formatIPv4(w[0]));
  return [ip(r.src), r.sp, ip(r.dst), r.dp, r.proto, r.pf, r.bf, r.pr, r.br, EPOCH + r.first, EPOCH + r.last, r.ff, r.fr, FLOW_STATE_NAMES[r.state]];
}

function written(format: 'json' | 'csv', rows: Row[], slots: number[]): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'netwatch-flow-writer-'));
  try {
    const file = path.join(dir, 'out');
    const fd = openSync(file, 'w');
    const w = new FlowLineWriter(fd, format);
    const t = columns(rows);
    for (const s of slots) w.flow(t, s, rows[s].state);
    w.flush();
    closeSync(fd);
    return readFileSync(file, 'latin1');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('FlowLineWriter', () => {
  it('prints each flow as JSON.stringify prints the same object', () => {
    const want = ROWS.map((r) => `${JSON.stringify(Object.fromEntries(FLOW_FIELDS.map((f, i) => [f, values(r)[i]])))}\n`).join('');
    expect(written('json', ROWS, ROWS.map((_, i) => i))).toEqual(want);
  });

  it('prints each flow as a CSV row of the same values', () => {
    const want = ROWS.map((r) => `${values(r).join(',')}\n`).join('');
    expect(written('csv', ROWS, ROWS.map((_, i) => i))).toEqual(want);
  });

  it('keeps every line whole across buffer flushes (60,000 lines, about 15 MB)', () => {
    const slots = Array.from({ length: 60_000 }, (_, i) => i % ROWS.length);
    const lines = written('json', ROWS, slots).split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((l) => JSON.parse(l) as { src_port: number }).map((o) => o.src_port)).toEqual(slots.map((s) => ROWS[s].sp));
  });

  it('hands its output over as chunks for another writer to write in order', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'netwatch-flow-writer-'));
    try {
      const file = path.join(dir, 'out');
      const fd = openSync(file, 'w');
      const t = columns(ROWS);
      const first = new FlowLineWriter(fd, 'csv');
      const second = new FlowLineWriter(-1, 'csv');
      for (let i = 0; i < 10_000; i++) first.flow(t, 0, 2);
      for (let i = 0; i < 10_000; i++) second.flow(t, 3, 0);
      first.writeChunks(second.takeChunks());
      closeSync(fd);
      const lines = readFileSync(file, 'latin1').trim().split('\n');
      expect([lines.length, lines[0], lines[9_999], lines[10_000], lines[19_999]]).toEqual([
        20_000,
        values(ROWS[0]).join(','),
        values(ROWS[0]).join(','),
        values({ ...ROWS[3], state: 0 }).join(','),
        values({ ...ROWS[3], state: 0 }).join(','),
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
