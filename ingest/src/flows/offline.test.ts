/**
 * The offline pass hands over every flow exactly once, whatever makes it leave the table: the end of the
 * capture, its idle timeout passing (expiry), or room being needed (eviction). Checked on real captures of the
 * shared collection, one of which spans years.
 */
import { buildSync } from 'esbuild';
import { closeSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CaptureFileReader } from '../capture/pcap-file';
import { describeWithData, testDataPath } from '../testing/data';
import { FlowLineWriter } from './flow-writer';
import { OfflineFlowPass, flowAddress, type OfflineFileResult } from './offline';
import type { FlowTable } from './table';

interface Printed {
  /** Directed 5-tuples of the two halves of the flow: a flow split by an eviction may restart the other way round. */
  fwd: string;
  rev: string;
  packetsFwd: number;
  packetsRev: number;
  bytesFwd: number;
  bytesRev: number;
  packets: number;
  bytes: number;
  first: number;
  last: number;
}

function pass(file: string, opts: { maxFlows?: number; idleTimeoutS?: number } = {}) {
  const printed: Printed[] = [];
  const ms = opts.idleTimeoutS === undefined ? undefined : opts.idleTimeoutS * 1000;
  const p = new OfflineFlowPass({
    maxFlows: opts.maxFlows,
    idleTimeoutMs: ms === undefined ? undefined : { tcp: ms, udp: ms, icmp: ms, other: ms },
    onFlow: (t: FlowTable, s: number) =>
      printed.push({
        fwd: `${t.proto[s]} ${flowAddress(t, false, s)}:${t.srcPort[s]} > ${flowAddress(t, true, s)}:${t.dstPort[s]}`,
        rev: `${t.proto[s]} ${flowAddress(t, true, s)}:${t.dstPort[s]} > ${flowAddress(t, false, s)}:${t.srcPort[s]}`,
        packetsFwd: t.packetsFwd[s],
        packetsRev: t.packetsRev[s],
        bytesFwd: t.bytesFwd[s],
        bytesRev: t.bytesRev[s],
        packets: t.packetsFwd[s] + t.packetsRev[s],
        bytes: t.bytesFwd[s] + t.bytesRev[s],
        first: t.epochMs + t.firstRel[s],
        last: t.epochMs + t.lastRel[s],
      }),
  });
  p.addFile(CaptureFileReader.open(testDataPath('pcap', file)));
  p.finish();
  return { printed, table: p.table, decoder: p.decoder };
}

/** Totals per directed 5-tuple, over every flow printed for it. */
function perKey(printed: Printed[]): Map<string, { packets: number; bytes: number }> {
  const m = new Map<string, { packets: number; bytes: number }>();
  const add = (k: string, packets: number, bytes: number) => {
    if (packets === 0) return;
    const v = m.get(k) ?? { packets: 0, bytes: 0 };
    v.packets += packets;
    v.bytes += bytes;
    m.set(k, v);
  };
  for (const f of printed) {
    add(f.fwd, f.packetsFwd, f.bytesFwd);
    add(f.rev, f.packetsRev, f.bytesRev);
  }
  return new Map([...m].sort(([a], [b]) => (a < b ? -1 : 1)));
}

describeWithData('OfflineFlowPass', () => {
  it('prints every packet of a capture once, all decoded packets accounted', () => {
    const { printed, decoder } = pass('ndpi_gnutella.pcap');
    expect(printed.reduce((n, f) => n + f.packets, 0)).toBe(decoder.counters.decoded);
  });

  it('prints flows evicted at a small --max-flows early, losing no packet and no byte of any 5-tuple', () => {
    const whole = pass('ndpi_gnutella.pcap');
    const squeezed = pass('ndpi_gnutella.pcap', { maxFlows: 100 });
    expect(squeezed.table.counters().evictions).toBeGreaterThan(0);
    expect(squeezed.printed.length).toBeGreaterThan(whole.printed.length);
    expect(perKey(squeezed.printed)).toEqual(perKey(whole.printed));
  });

  it('prints flows that went idle during the capture as they expire, with their own times', () => {
    // zeek_dns-edns-ecs.pcap spans three years (SMALL_STATS.tsv: 97,310,566 s) in a few bursts of DNS.
    const { printed, table, decoder } = pass('zeek_dns-edns-ecs.pcap');
    expect(table.counters().expired).toBeGreaterThan(0);
    expect(printed.reduce((n, f) => n + f.packets, 0)).toBe(decoder.counters.decoded);
    const first = Math.min(...printed.map((f) => f.first));
    const last = Math.max(...printed.map((f) => f.last));
    // Nothing was clamped by the table's epoch moving forward: the span is the capture's own.
    expect(Math.round((last - first) / 1000)).toBe(97_310_566);
    expect(printed.every((f) => f.first <= f.last)).toBe(true);
  });

  it('splits UDP flows at --idle-timeout and keeps every 5-tuple\'s totals', () => {
    const long = pass('ndpi_gnutella.pcap');
    const short = pass('ndpi_gnutella.pcap', { idleTimeoutS: 1 });
    expect(short.printed.length).toBeGreaterThan(long.printed.length);
    expect(perKey(short.printed)).toEqual(perKey(long.printed));
  });
});

/**
 * The two-thread pass of `flows` (reader thread decoding into the packet ring, this thread aggregating, and the
 * output formatted half here, half there) against the one-thread pass, on every shared capture: the same lines
 * in the same order, the same decoder counters. The reader thread runs the real worker script, bundled from the
 * sources with esbuild as `npm run build` does.
 */
describeWithData('OfflineFlowPass on two threads', () => {
  let dir: string;
  let worker: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'netwatch-offline-'));
    worker = path.join(dir, 'flows-worker.js');
    buildSync({ entryPoints: [path.join(__dirname, 'offline-worker.ts')], outfile: worker, bundle: true, platform: 'node', target: 'node20', format: 'cjs', packages: 'external', logLevel: 'warning' });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const captures = readdirSync(testDataPath('pcap')).filter((f) => /\.pcap(ng)?$/.test(f));

  /** The JSON lines of a pass over `files`, and the decoder counters. */
  function run(files: string[], threads: 1 | 2, opts: { maxFlows?: number } = {}) {
    const file = path.join(dir, `out-${threads}.json`);
    const fd = openSync(file, 'w');
    const out = new FlowLineWriter(fd, 'json');
    const p = new OfflineFlowPass({ ...opts, shared: threads === 2, minSplit: 1, onFlow: (t, s, state) => out.flow(t, s, state) });
    const results: OfflineFileResult[] = [];
    if (threads === 2) {
      p.addFilesPipelined(worker, files, (i, r) => (results[i] = r));
      p.finish({ format: 'json', write: (chunks) => out.writeChunks(chunks) });
    } else {
      files.forEach((f, i) => (results[i] = p.addFile(CaptureFileReader.open(f))));
      p.finish();
    }
    out.flush();
    closeSync(fd);
    return { lines: readFileSync(file, 'utf8'), counters: { ...p.decodeCounters }, results, printed: p.flowsPrinted };
  }

  it.each(captures)('gives the same output for %s', (name) => {
    const file = testDataPath('pcap', name);
    const one = run([file], 1);
    const two = run([file], 2);
    expect(two).toEqual(one);
    expect(one.lines.split('\n').length - 1).toBe(one.printed);
  });

  it('gives the same output for several files in one pass, with evictions at a small --max-flows', () => {
    const files = ['ndpi_gnutella.pcap', 'zeek_ftp-ipv6.pcap', 'zeek_icmp.pcap', 'ndpi_alexa-app.pcapng'].map((f) => testDataPath('pcap', f));
    const one = run(files, 1, { maxFlows: 1000 });
    expect(run(files, 2, { maxFlows: 1000 })).toEqual(one);
    expect(one.results.map((r) => r.packets)).toEqual(files.map((f) => pass(path.basename(f)).decoder.counters.packets));
  });
});
