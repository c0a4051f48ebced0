/**
 * Accuracy against tshark, for every capture of the shared collection: the flows that `netwatch-ingest flows
 * --format json` prints, summed per directed TCP/UDP 5-tuple (forward and reverse halves of each flow, over all
 * flows of the 5-tuple), give exactly tshark's packets and frame bytes.
 *
 * Why tshark runs here rather than only reading the committed reference TSVs: the TSVs were made once, with
 * gen_ref.py, from a tshark of one version; running tshark (CI installs it, scripts/setup.sh) checks the
 * numbers against the tool itself on every run, and the decoder test (decode/decoder.captures.test.ts)
 * already holds the decoder to the TSVs. Two tshark outputs are used:
 *
 * 1. Its per-frame dissection (`-T fields`), aggregated with gen_ref.py's rules: outer IP header only, ICMP
 *    and ICMPv6 frames are not TCP/UDP flows (an ICMP error quotes a TCP/UDP header: set aside), reassembly
 *    off, and a non-first fragment counted with the flow of its first fragment (same source, destination and
 *    IP identification). Packets and frame.len must match exactly.
 * 2. Its conversation statistics (`-z conv,tcp -z conv,udp`), the figures the issue names. With reassembly off
 *    they do not see non-first fragments, so those (found in 1) are taken off our side; frames must match
 *    exactly, and bytes as tshark 4.0 prints them (it rounds to kB from 10,000 bytes on).
 *
 * Tunnels (a second IP header that is not an ICMP quote) would be flows of the outer header here and of the
 * inner one in tshark's conversations; the collection has none, which the test checks rather than assumes.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { flowsCommand } from '../commands/flows';
import { formatIPv6, parseIp } from '../protocol/ip';
import { describeWithData, hasTestData, testDataPath } from '../testing/data';

const PCAP_DIR = testDataPath('pcap');
const captures = hasTestData() ? readdirSync(PCAP_DIR).filter((f) => /\.pcap(ng)?$/.test(f)) : [];

type Totals = Map<string, { packets: number; bytes: number }>;

/** Addresses in one canonical text form (tshark prints IPv6 its own way). */
function canon(ip: string): string {
  const p = parseIp(ip);
  if (!p) throw new Error(`not an address: ${ip}`);
  return p.family === 4 ? ip : formatIPv6(p.words[0], p.words[1], p.words[2], p.words[3]);
}

const key = (proto: string, src: string, sport: number, dst: string, dport: number) => `${proto} ${canon(src)}:${sport} > ${canon(dst)}:${dport}`;

function add(m: Totals, k: string, packets: number, bytes: number): void {
  const v = m.get(k) ?? { packets: 0, bytes: 0 };
  v.packets += packets;
  v.bytes += bytes;
  m.set(k, v);
}

function tshark(args: string[]): string {
  const r = spawnSync('tshark', ['-n', '-o', 'ip.defragment:FALSE', '-o', 'ipv6.defragment:FALSE', ...args], { encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new Error(`tshark ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

const FIELDS = [
  'frame.len',
  'ip.src',
  'ip.dst',
  'ipv6.src',
  'ipv6.dst',
  'ip.proto',
  'tcp.srcport',
  'tcp.dstport',
  'udp.srcport',
  'udp.dstport',
  'ip.id',
  'ip.frag_offset',
  'ip.flags.mf',
  'ipv6.fraghdr.ident',
  'ipv6.fraghdr.offset',
  'icmpv6.type',
] as const;

interface TsharkFrames {
  /** Per directed 5-tuple, every TCP/UDP packet by gen_ref.py's rules. */
  flows: Totals;
  /** The non-first fragments among them, which tshark's conversations do not see with reassembly off. */
  laterFragments: Totals;
  /** Frames with a second IP header that is not quoted by ICMP. */
  tunnelFrames: number;
}

function tsharkFrames(file: string): TsharkFrames {
  const text = tshark(['-r', file, '-T', 'fields', '-E', 'separator=/t', '-E', 'occurrence=a', '-E', 'aggregator=,', ...FIELDS.flatMap((f) => ['-e', f])]);
  const flows: Totals = new Map();
  const laterFragments: Totals = new Map();
  const firstFragment = new Map<string, string>();
  let tunnelFrames = 0;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const all = line.split('\t');
    const v = Object.fromEntries(FIELDS.map((f, i) => [f, all[i] ?? ''])) as Record<(typeof FIELDS)[number], string>;
    const first = (f: (typeof FIELDS)[number]) => v[f].split(',')[0];
    const headers = (v['ip.src'] ? v['ip.src'].split(',').length : 0) + (v['ipv6.src'] ? v['ipv6.src'].split(',').length : 0);
    const v4 = v['ip.src'] !== '';
    if (!v4 && v['ipv6.src'] === '') continue;
    // ICMP and ICMPv6 are not TCP/UDP flows, also when an error quotes a TCP/UDP header.
    if ((v4 && first('ip.proto') === '1') || v['icmpv6.type'] !== '') continue;
    if (headers > 1) tunnelFrames++;
    const src = v4 ? first('ip.src') : first('ipv6.src');
    const dst = v4 ? first('ip.dst') : first('ipv6.dst');
    const ident = v4 ? first('ip.id') : first('ipv6.fraghdr.ident');
    const offset = Number((v4 ? first('ip.frag_offset') : first('ipv6.fraghdr.offset')) || 0);
    const len = Number(v['frame.len']);
    const frag = `${src} ${dst} ${ident}`;
    if (offset > 0) {
      const k = firstFragment.get(frag);
      if (k === undefined) continue;
      add(flows, k, 1, len);
      add(laterFragments, k, 1, len);
      continue;
    }
    let k: string;
    if (v['tcp.srcport'] !== '') k = key('tcp', src, Number(first('tcp.srcport')), dst, Number(first('tcp.dstport')));
    else if (v['udp.srcport'] !== '') k = key('udp', src, Number(first('udp.srcport')), dst, Number(first('udp.dstport')));
    else continue;
    const mf = first('ip.flags.mf');
    if (ident !== '' && (mf === '1' || mf === 'True' || (!v4 && v['ipv6.fraghdr.ident'] !== ''))) firstFragment.set(frag, k);
    add(flows, k, 1, len);
  }
  return { flows, laterFragments, tunnelFrames };
}

interface Conversation {
  frames: number;
  /** Bytes as tshark printed them ("5418 bytes", "55 kB"). */
  bytes: string;
}

/** `-z conv,tcp -z conv,udp`: "A:pa <-> B:pb  frames bytes (B to A)  frames bytes (A to B)  total ...". */
function tsharkConversations(file: string): Map<string, Conversation> {
  const text = tshark(['-q', '-r', file, '-z', 'conv,tcp', '-z', 'conv,udp']);
  const out = new Map<string, Conversation>();
  let proto = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('TCP Conversations')) proto = 'tcp';
    else if (line.startsWith('UDP Conversations')) proto = 'udp';
    const m = /^(\S+):(\d+)\s+<->\s+(\S+):(\d+)\s+(\d+) (\d+ (?:bytes|kB|MB|GB))\s+(\d+) (\d+ (?:bytes|kB|MB|GB))/.exec(line);
    if (!m) continue;
    const [, a, pa, b, pb, fromB, bytesFromB, fromA, bytesFromA] = m;
    if (Number(fromA) > 0) out.set(key(proto, a, Number(pa), b, Number(pb)), { frames: Number(fromA), bytes: bytesFromA });
    if (Number(fromB) > 0) out.set(key(proto, b, Number(pb), a, Number(pa)), { frames: Number(fromB), bytes: bytesFromB });
  }
  return out;
}

/** tshark 4.0's format_size with SI prefixes, as the conversation table prints byte counts (truncated). */
function tsharkBytes(n: number): string {
  if (n < 10_000) return `${n} bytes`;
  if (n < 10_000_000) return `${Math.floor(n / 1000)} kB`;
  if (n < 10_000_000_000) return `${Math.floor(n / 1_000_000)} MB`;
  return `${Math.floor(n / 1_000_000_000)} GB`;
}

interface JsonFlow {
  src_ip: string;
  src_port: number;
  dst_ip: string;
  dst_port: number;
  protocol: number;
  packets: number;
  bytes: number;
  packets_rev: number;
  bytes_rev: number;
}

const tmp = hasTestData() ? mkdtempSync(path.join(os.tmpdir(), 'netwatch-accuracy-')) : '';

/** Our flows, as the command prints them, summed per directed TCP/UDP 5-tuple. */
function ourFlows(file: string): { flows: Totals; printed: number } {
  const out = path.join(tmp, `${path.basename(file)}.json`);
  const fd = openSync(out, 'w');
  let stderr = '';
  let code: number;
  try {
    code = flowsCommand(['--format', 'json', file], { stdout: fd, stderr: (s) => (stderr += s), stderrIsTTY: false });
  } finally {
    closeSync(fd);
  }
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  const flows: Totals = new Map();
  const lines = readFileSync(out, 'utf8').split('\n').filter((l) => l !== '');
  for (const line of lines) {
    const f = JSON.parse(line) as JsonFlow;
    if (f.protocol !== 6 && f.protocol !== 17) continue;
    const proto = f.protocol === 6 ? 'tcp' : 'udp';
    if (f.packets > 0) add(flows, key(proto, f.src_ip, f.src_port, f.dst_ip, f.dst_port), f.packets, f.bytes);
    if (f.packets_rev > 0) add(flows, key(proto, f.dst_ip, f.dst_port, f.src_ip, f.src_port), f.packets_rev, f.bytes_rev);
  }
  return { flows, printed: lines.length };
}

// Each capture is dissected and passed once; the tests below compare the results in different ways.
const memo = <T>(fn: (file: string) => T) => {
  const cache = new Map<string, T>();
  return (file: string): T => {
    if (!cache.has(file)) cache.set(file, fn(file));
    return cache.get(file)!;
  };
};
const framesOf = memo((file) => tsharkFrames(path.join(PCAP_DIR, file)));
const oursOf = memo((file) => ourFlows(path.join(PCAP_DIR, file)));

const sorted = (m: Totals) => new Map([...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

describeWithData('netwatch-ingest flows against tshark, per directed TCP/UDP 5-tuple', () => {
  it('has the whole collection, and tshark to compare with', () => {
    expect(captures.length).toBeGreaterThanOrEqual(16);
    expect(spawnSync('tshark', ['-v'], { encoding: 'utf8' }).stdout).toMatch(/^TShark/);
  });

  it.each(captures)('%s: packets and frame bytes equal tshark per frame', (file) => {
    const want = framesOf(file);
    const got = oursOf(file);
    expect(want.tunnelFrames).toBe(0);
    expect(sorted(got.flows)).toEqual(sorted(want.flows));
  }, 60_000);

  it.each(captures)('%s: frames and bytes equal tshark conversation statistics', (file) => {
    const frames = framesOf(file);
    const conv = tsharkConversations(path.join(PCAP_DIR, file));
    const got = oursOf(file);
    const ours = new Map<string, Conversation>();
    for (const [k, v] of got.flows) {
      const later = frames.laterFragments.get(k) ?? { packets: 0, bytes: 0 };
      if (v.packets - later.packets > 0) ours.set(k, { frames: v.packets - later.packets, bytes: tsharkBytes(v.bytes - later.bytes) });
    }
    const order = (m: Map<string, Conversation>) => new Map([...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    expect(order(ours)).toEqual(order(conv));
  }, 60_000);

  it('agrees with the committed reference totals (SUMMARY.tsv) on the whole collection', () => {
    const [head, ...rows] = readFileSync(path.join(PCAP_DIR, 'reference', 'SUMMARY.tsv'), 'utf8').trim().split('\n').map((l) => l.split('\t'));
    const col = (r: string[], name: string) => Number(r[head.indexOf(name)]);
    const want = rows.map((r) => ({ file: r[0], flows: col(r, 'uni_tcpudp_flows'), packets: col(r, 'tcpudp_packets'), bytes: col(r, 'tcpudp_l2_bytes') }));
    const got = want.map(({ file }) => {
      const { flows } = oursOf(file);
      let packets = 0;
      let bytes = 0;
      for (const v of flows.values()) {
        packets += v.packets;
        bytes += v.bytes;
      }
      return { file, flows: flows.size, packets, bytes };
    });
    expect(got).toEqual(want);
  }, 60_000);
});
