/**
 * The decoder over the shared real captures, checked flow by flow against the tshark-based reference
 * (reference/gen_ref.py: TCP/UDP only, directed 5-tuple, outer header only, non-first fragments attributed to
 * their first fragment's flow).
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { CaptureFileReader, createPacketRecord } from '../capture/pcap-file';
import { formatIPv4, formatIPv6 } from '../protocol/ip';
import { describeWithData, hasTestData, testDataPath } from '../testing/data';
import { PacketDecoder, SKIP_REASONS } from './decoder';
import { DecodedPacket } from './packet';

const PCAP_DIR = testDataPath('pcap');
const captures = hasTestData() ? readdirSync(PCAP_DIR).filter((f) => /\.pcap(ng)?$/.test(f)) : [];

interface CaptureResult {
  /** Reference TSV rows: proto src sport dst dport packets l3_bytes l2_bytes first_frame, in first-frame order. */
  flows: string[];
  decoder: PacketDecoder;
  frames: number;
  linkTypes: number[];
}

function address(p: DecodedPacket, w: Uint32Array): string {
  return p.family === 4 ? formatIPv4(w[0]) : formatIPv6(w[0], w[1], w[2], w[3]);
}

function decodeCapture(file: string): CaptureResult {
  const reader = CaptureFileReader.open(path.join(PCAP_DIR, file));
  const rec = createPacketRecord();
  const decoder = new PacketDecoder();
  const out = new DecodedPacket();
  const flows = new Map<string, { packets: number; l3: number; l2: number; firstFrame: number }>();
  const linkTypes = new Set<number>();
  let frames = 0;
  try {
    while (reader.next(rec)) {
      frames++;
      linkTypes.add(rec.linkType);
      if (!decoder.decode(rec.linkType, rec.data, rec.offset, rec.captureLength, rec.originalLength, rec.tsUs, out)) continue;
      if (out.protocol !== 6 && out.protocol !== 17) continue;
      const key = [out.protocol === 6 ? 'tcp' : 'udp', address(out, out.src), out.srcPort, address(out, out.dst), out.dstPort].join('\t');
      let f = flows.get(key);
      if (!f) flows.set(key, (f = { packets: 0, l3: 0, l2: 0, firstFrame: frames }));
      f.packets++;
      f.l3 += out.ipLength;
      f.l2 += out.wireLength;
    }
    expect(reader.truncated).toBe(false);
  } finally {
    reader.close();
  }
  return {
    flows: [...flows].map(([k, f]) => `${k}\t${f.packets}\t${f.l3}\t${f.l2}\t${f.firstFrame}`),
    decoder,
    frames,
    linkTypes: [...linkTypes],
  };
}

function referenceFlows(file: string): string[] {
  const tsv = path.join(PCAP_DIR, 'reference', `${file.replace(/\.pcap(ng)?$/, '')}.tcpudp_flows.tsv`);
  return readFileSync(tsv, 'utf8').split('\n').slice(1).filter((l) => l !== '');
}

/** tshark's per-capture frame counts by family (SMALL_STATS.tsv: ipv4_pkts, ipv6_pkts, other_pkts). */
function tsharkFamilies(file: string): { ipv4: number; ipv6: number; other: number } {
  const [header, ...lines] = readFileSync(path.join(PCAP_DIR, 'SMALL_STATS.tsv'), 'utf8').trim().split('\n').map((l) => l.split('\t'));
  const row = lines.find((r) => r[0] === file);
  if (!row) throw new Error(`${file} is not in SMALL_STATS.tsv`);
  const col = (name: string) => Number(row[header.indexOf(name)]);
  return { ipv4: col('ipv4_pkts'), ipv6: col('ipv6_pkts'), other: col('other_pkts') };
}

/**
 * tshark also decodes Ethernet carried in MPLS pseudowires (RFC 4448) and finds IP inside; those frames have no
 * outer IP header, so they are not IP flows here (10 frames of tcpreplay_test.pcap).
 */
const PSEUDOWIRE_FRAMES: Record<string, number> = { 'tcpreplay_test.pcap': 10 };

describeWithData('PacketDecoder on the shared captures', () => {
  const results = new Map<string, CaptureResult>();
  const result = (file: string) => {
    let r = results.get(file);
    if (!r) results.set(file, (r = decodeCapture(file)));
    return r;
  };

  it('has captures to decode', () => {
    expect(captures.length).toBeGreaterThanOrEqual(16);
  });

  it.each(captures)('matches the reference TCP/UDP flows of %s exactly', (file) => {
    expect(result(file).flows).toEqual(referenceFlows(file));
  });

  it.each(captures)('knows the link type of %s and counts every frame once', (file) => {
    const { decoder, frames } = result(file);
    const c = decoder.counters;
    const skipped = SKIP_REASONS.reduce((sum, r) => sum + c[r], 0);
    expect({ unknownLinkType: c.unknownLinkType, packets: c.packets, accounted: c.decoded + skipped }).toEqual({ unknownLinkType: 0, packets: frames, accounted: frames });
  });

  it.each(captures)('finds in %s the IPv4, IPv6 and other frames that tshark finds', (file) => {
    const c = result(file).decoder.counters;
    const want = tsharkFamilies(file);
    const pw = PSEUDOWIRE_FRAMES[file] ?? 0;
    expect({ ipv4: c.ipv4, ipv6: c.ipv6, other: c.packets - c.decoded }).toEqual({ ipv4: want.ipv4 - pw, ipv6: want.ipv6, other: want.other + pw });
  });

  it('decodes the link types of the collection: Ethernet, Linux SLL2 and BSD null', () => {
    expect(new Set(captures.flatMap((f) => result(f).linkTypes))).toEqual(new Set([1, 276, 0]));
  });
});
