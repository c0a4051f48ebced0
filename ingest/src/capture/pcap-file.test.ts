import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describeWithData, hasTestData, testDataPath } from '../testing/data';
import { CaptureFileReader, CaptureFormatError, createPacketRecord, type CaptureFileOptions } from './pcap-file';
import { PcapngBuilder, capturedPacket, pcapFile, type CapturedPacket } from './test-captures';

/** Wireshark's short encapsulation names (capinfos, SMALL_STATS.tsv) to LINKTYPE_* numbers. */
const LINKTYPE_BY_NAME: Record<string, number> = { null: 0, ether: 1, rawip: 101, 'linux-sll': 113, 'linux-sll2': 276 };

interface SmallStats {
  file: string;
  format: string;
  linktype: string;
  packets: number;
}

function readSmallStats(): SmallStats[] {
  const [head, ...lines] = fs.readFileSync(testDataPath('pcap', 'SMALL_STATS.tsv'), 'utf8').trim().split('\n');
  const cols = head.split('\t');
  return lines.map((line) => {
    const v = line.split('\t');
    const get = (name: string) => v[cols.indexOf(name)];
    return { file: get('file'), format: get('format'), linktype: get('linktype'), packets: Number(get('packets')) };
  });
}

const CAPTURES: SmallStats[] = hasTestData() ? readSmallStats() : [];

interface ReadResult {
  format: 'pcap' | 'pcapng';
  packets: CapturedPacket[];
  truncated: boolean;
  warnings: string[];
  stats: CaptureFileReader['stats'];
}

function readAll(reader: CaptureFileReader): ReadResult {
  const rec = createPacketRecord();
  const packets: CapturedPacket[] = [];
  try {
    while (reader.next(rec)) packets.push(capturedPacket(rec));
  } finally {
    reader.close();
  }
  return { format: reader.format, packets, truncated: reader.truncated, warnings: reader.warnings, stats: reader.stats };
}

const readFile = (file: string, options?: CaptureFileOptions) => readAll(CaptureFileReader.open(file, options));
const readBuffer = (buf: Buffer) => readAll(CaptureFileReader.fromBuffer(buf));

/** tshark prints epoch seconds with nine decimals; the first six are the µs, rounded down like the reader. */
function epochToUs(s: string): number {
  const [sec, frac = ''] = s.split('.');
  return Number(sec) * 1e6 + Number(frac.padEnd(6, '0').slice(0, 6));
}

type Frame = [interfaceId: number, originalLength: number, captureLength: number, tsUs: number];

function tsharkFrames(file: string): Frame[] {
  const out = execFileSync('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.interface_id', '-e', 'frame.len', '-e', 'frame.cap_len', '-e', 'frame.time_epoch'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  return out
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const [ifId, len, capLen, time] = l.split('\t');
      return [Number(ifId || 0), Number(len), Number(capLen), epochToUs(time)];
    });
}

const framesOf = (packets: CapturedPacket[]): Frame[] => packets.map((p) => [p.interfaceId, p.originalLength, p.captureLength, p.tsUs]);

/** Link type of each interface, in Interface ID order, as capinfos reports them. */
function capinfosLinkTypes(file: string): number[] {
  const out = execFileSync('capinfos', [file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return [...out.matchAll(/Encapsulation = .*\(\d+ - ([\w-]+)\)/g)].map((m) => LINKTYPE_BY_NAME[m[1]] ?? -1);
}

const unique = (xs: number[]) => [...new Set(xs)].sort((a, b) => a - b);

/**
 * Packets as compared by the tests: the bytes by digest. Jest compares and, worse, prints Buffers byte by byte;
 * a failing comparison of a few thousand packets would take many minutes to report.
 */
function v(packets: CapturedPacket[]) {
  return packets.map((p) => ({ ...p, bytes: `${p.bytes.length} bytes, sha1 ${createHash('sha1').update(p.bytes).digest('hex')}` }));
}

let tmp = '';
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'netwatch-capture-'));
});
afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

function tmpFile(name: string, content?: Buffer): string {
  const file = path.join(tmp, name);
  if (content) fs.writeFileSync(file, content);
  return file;
}

/** The real packets of one shared capture, read from memory. */
const realPackets = (name: string) => readBuffer(fs.readFileSync(testDataPath('pcap', name))).packets;

describeWithData('CaptureFileReader on the shared captures', () => {
  for (const c of CAPTURES) {
    it(`reads ${c.file} like tshark: ${c.packets} packets of link type ${c.linktype}, same lengths and µs timestamps`, () => {
      const file = testDataPath('pcap', c.file);
      const got = readFile(file);
      expect({
        format: got.format,
        packets: got.packets.length,
        linkTypes: unique(got.packets.map((p) => p.linkType)),
        frames: framesOf(got.packets),
        truncated: got.truncated,
        warnings: got.warnings,
        badRecords: got.stats.badRecords,
      }).toEqual({
        format: c.format,
        packets: c.packets,
        linkTypes: [LINKTYPE_BY_NAME[c.linktype]],
        frames: tsharkFrames(file),
        truncated: false,
        warnings: [],
        badRecords: 0,
      });
      expect(capinfosLinkTypes(file)).toEqual([LINKTYPE_BY_NAME[c.linktype]]);
    });
  }

  it.each(['sv_decode-sll2-02.pcap', 'ndpi_alexa-app.pcapng'])(
    'returns the same records from %s whatever the chunk size, including records larger than a chunk',
    (name) => {
      const file = testDataPath('pcap', name);
      const whole = readBuffer(fs.readFileSync(file));
      for (const chunkSize of [64, 1000, 4096, 100_000, undefined]) {
        const got = readFile(file, { chunkSize });
        expect({ packets: v(got.packets), truncated: got.truncated }).toEqual({ packets: v(whole.packets), truncated: false });
      }
    },
  );

  it('counts the wire bytes of the packets it returned', () => {
    const got = readFile(testDataPath('pcap', 'zeek_icmp.pcap'));
    expect(got.stats).toEqual({ packets: 12, bytes: 12 * 74, skippedBlocks: 0, badRecords: 0 });
  });
});

describeWithData('CaptureFileReader on variants written by editcap and mergecap', () => {
  it('reads editcap -F pcapng output as the same records', () => {
    const src = testDataPath('pcap', 'ndpi_gnutella.pcap');
    const out = tmpFile('gnutella.pcapng');
    execFileSync('editcap', ['-F', 'pcapng', src, out], { stdio: 'ignore' });
    const got = readFile(out);
    expect({ format: got.format, packets: v(got.packets) }).toEqual({ format: 'pcapng', packets: v(realPackets('ndpi_gnutella.pcap')) });
  });

  it('reads nanosecond pcap (editcap -F nsecpcap) and nanosecond pcapng (if_tsresol 9) as the same records', () => {
    const src = testDataPath('pcap', 'sv_tls-subjectaltname.pcap');
    const nsPcap = tmpFile('tls-ns.pcap');
    const nsPcapng = tmpFile('tls-ns.pcapng');
    execFileSync('editcap', ['-F', 'nsecpcap', src, nsPcap], { stdio: 'ignore' });
    execFileSync('editcap', ['-F', 'pcapng', nsPcap, nsPcapng], { stdio: 'ignore' });
    // The variants really carry nanoseconds: ns magic, and an IDB with if_tsresol 9.
    expect(fs.readFileSync(nsPcap).readUInt32LE(0)).toBe(0xa1b23c4d);
    expect(execFileSync('capinfos', [nsPcapng], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })).toMatch(/Time ticks per second = 1000000000/);
    const want = v(realPackets('sv_tls-subjectaltname.pcap'));
    expect(v(readFile(nsPcap).packets)).toEqual(want);
    expect(v(readFile(nsPcapng).packets)).toEqual(want);
  });

  it('gives each packet of a mergecap pcapng the link type of its own interface', () => {
    const inputs = ['sv_decode-sll2-02.pcap', 'gopacket_loopback-null.pcap', 'zeek_icmp.pcap'];
    const out = tmpFile('merged.pcapng');
    execFileSync('mergecap', ['-w', out, ...inputs.map((f) => testDataPath('pcap', f))], { stdio: 'ignore' });
    const got = readFile(out);
    const ifLinkTypes = capinfosLinkTypes(out);
    expect(unique(ifLinkTypes)).toEqual([0, 1, 276]);
    expect({
      format: got.format,
      frames: framesOf(got.packets),
      linkTypes: got.packets.map((p) => p.linkType),
      truncated: got.truncated,
    }).toEqual({
      format: 'pcapng',
      frames: tsharkFrames(out),
      linkTypes: got.packets.map((p) => ifLinkTypes[p.interfaceId]),
      truncated: false,
    });
    expect(got.packets.length).toBe(159 + 24 + 12);
  });
});

describeWithData('CaptureFileReader on byte orders, resolutions and blocks written by the test writer', () => {
  it.each([
    ['big-endian, microseconds', { le: false, nano: false }],
    ['big-endian, nanoseconds', { le: false, nano: true }],
    ['little-endian, nanoseconds', { le: true, nano: true }],
  ])('reads a %s pcap re-serialisation as the same records tshark sees', (_name, order) => {
    const want = realPackets('ndpi_teams.pcap');
    const file = tmpFile(`teams-${order.le}-${order.nano}.pcap`, pcapFile(want, { ...order, linkType: 1, snapLen: 65535 }));
    const got = readFile(file);
    expect(v(got.packets)).toEqual(v(want));
    expect(framesOf(got.packets)).toEqual(tsharkFrames(file));
  });

  it('takes only the low 16 bits of the pcap link type field as the link type (FCS length bits set)', () => {
    const want = realPackets('zeek_icmp.pcap');
    // pcap §4: FCS len = 2 (4 octets) in the top four bits and the P bit set.
    const linkTypeField = (2 << 28) | (1 << 26) | 1;
    const got = readBuffer(pcapFile(want, { le: true, nano: false, linkType: 1, linkTypeField }));
    expect(v(got.packets)).toEqual(v(want));
  });

  it('reads several sections of different byte orders, interfaces and timestamp resolutions in one pcapng', () => {
    const ether = realPackets('zeek_icmp.pcap');
    const loop = realPackets('gopacket_loopback-null.pcap');
    const buf = new PcapngBuilder()
      .section(true)
      .interface(1, { tsresol: 9 })
      .epb(0, ether[0])
      .epb(0, ether[1])
      .section(false)
      .interface(0, { tsresol: 0x80 | 20, tsoffset: 1_000_000_000n }) // 2^-20 s units after an offset
      .interface(1, { snapLen: 65535 })
      .interface(1, { tsresol: 3 }) // milliseconds: the packet below is on a whole millisecond
      .epb(0, loop[0])
      .epb(1, ether[2])
      .epb(0, loop[1])
      .epb(2, { ...ether[3], tsUs: 1309144888024000 })
      .toBuffer();
    const file = tmpFile('sections.pcapng', buf);
    const got = readFile(file);
    const want = [
      { ...ether[0], interfaceId: 0 },
      { ...ether[1], interfaceId: 0 },
      { ...loop[0], interfaceId: 0 },
      { ...ether[2], interfaceId: 1 },
      { ...loop[1], interfaceId: 0 },
      { ...ether[3], interfaceId: 2, tsUs: 1309144888024000 },
    ];
    expect({ packets: v(got.packets), truncated: got.truncated, warnings: got.warnings }).toEqual({ packets: v(want), truncated: false, warnings: [] });
    // tshark numbers interfaces across sections; the format numbers them per section (pcapng §4.2).
    const lengthsAndTimes = (frames: Frame[]) => frames.map((f) => f.slice(1));
    expect(lengthsAndTimes(framesOf(got.packets))).toEqual(lengthsAndTimes(tsharkFrames(file)));
  });

  it('rounds sub-microsecond timestamps down, in nanosecond pcap and pcapng alike', () => {
    const real = realPackets('zeek_icmp.pcap').slice(0, 2);
    const pcap = pcapFile(real, { le: false, nano: true, linkType: 1 });
    const pcapng = new PcapngBuilder().section(true).interface(1, { tsresol: 9 }).epb(0, real[0]).epb(0, real[1]).toBuffer();
    // 999 ns more on the first packet: the same µs when rounded down, the next one when rounded to nearest.
    pcap.writeUInt32BE(pcap.readUInt32BE(24 + 4) + 999, 24 + 4);
    const epb = pcapng.length - 2 * 120;
    const units = ((BigInt(pcapng.readUInt32LE(epb + 12)) << 32n) | BigInt(pcapng.readUInt32LE(epb + 16))) + 999n;
    pcapng.writeUInt32LE(Number(units >> 32n), epb + 12);
    pcapng.writeUInt32LE(Number(units & 0xffffffffn), epb + 16);
    const files = [tmpFile('sub-us.pcap', pcap), tmpFile('sub-us.pcapng', pcapng)];
    for (const file of files) {
      const got = readFile(file);
      expect(v(got.packets)).toEqual(v(real));
      expect(framesOf(got.packets)).toEqual(tsharkFrames(file));
    }
  });

  it('keeps nanosecond timestamps exact far beyond 2^53 ns', () => {
    const p = realPackets('zeek_icmp.pcap')[0];
    // 2200-01-01T00:00:00.999999Z: 7.26e18 ns, more than 2^62.
    const late = { ...p, tsUs: 7258118400_999999 };
    const got = readBuffer(new PcapngBuilder().section(true).interface(1, { tsresol: 9 }).epb(0, late).section(false).interface(1, { tsresol: 9 }).epb(0, late).toBuffer());
    expect(got.packets.map((q) => q.tsUs)).toEqual([late.tsUs, late.tsUs]);
  });

  it('gives Simple Packet Blocks interface 0, the last timestamp seen and their original length, cut at the snap length', () => {
    const real = realPackets('zeek_icmp.pcap');
    // 38 is not a multiple of 4: only the snap length, not the padded block, tells where the data ends (§4.4).
    const snapped = (p: CapturedPacket) => ({ ...p, bytes: p.bytes.subarray(0, 38), captureLength: 38 });
    const buf = new PcapngBuilder()
      .section(true)
      .interface(1, { snapLen: 38 })
      .epb(0, snapped(real[0]))
      .spb(snapped(real[1]))
      .spb(snapped(real[2]))
      .epb(0, snapped(real[3]))
      .spb(snapped(real[4]))
      .toBuffer();
    const got = readBuffer(buf);
    const want = [real[0], { ...real[1], tsUs: real[0].tsUs }, { ...real[2], tsUs: real[0].tsUs }, real[3], { ...real[4], tsUs: real[3].tsUs }].map(snapped);
    expect(v(got.packets)).toEqual(v(want));
    expect(want.map((p) => p.originalLength)).toEqual([74, 74, 74, 74, 74]);
  });

  it('reads the obsolete Packet Block (type 2) like an Enhanced Packet Block', () => {
    const real = realPackets('zeek_icmp.pcap').slice(0, 4);
    const buf = new PcapngBuilder().section(false).interface(1).packetBlock(0, real[0]).epb(0, real[1]).packetBlock(0, real[2]).packetBlock(0, real[3]).toBuffer();
    const file = tmpFile('packet-block.pcapng', buf);
    const got = readFile(file);
    expect(v(got.packets)).toEqual(v(real));
    expect(framesOf(got.packets)).toEqual(tsharkFrames(file));
  });

  it('skips name resolution, statistics, custom, local-use and unknown blocks by their length, even ones larger than a chunk', () => {
    const real = realPackets('ndpi_teams.pcap').slice(0, 6);
    const buf = new PcapngBuilder()
      .section(true)
      .block(4, Buffer.from([1, 0, 8, 0, 10, 0, 0, 1, 104, 111, 115, 116, 0, 0, 0, 0])) // NRB: 10.0.0.1 "host", then nrb_record_end
      .interface(1)
      .epb(0, real[0])
      .block(0x00000bad, Buffer.concat([Buffer.from([0, 0, 0x7f, 0xff]), Buffer.alloc(37, 1)]))
      .epb(0, real[1])
      .block(0x80000001, Buffer.alloc(1024 * 1024, 0x5a))
      .epb(0, real[2])
      .block(0x00001234, Buffer.alloc(0))
      .epb(0, real[3])
      .epb(0, real[4])
      .block(5, Buffer.alloc(20)) // ISB
      .epb(0, real[5])
      .toBuffer();
    const file = tmpFile('unknown-blocks.pcapng', buf);
    const want = { packets: v(real), truncated: false, warnings: [], stats: { packets: 6, bytes: real.reduce((s, p) => s + p.originalLength, 0), skippedBlocks: 5, badRecords: 0 } };
    const strip = (r: ReadResult) => ({ packets: v(r.packets), truncated: r.truncated, warnings: r.warnings, stats: r.stats });
    expect(strip(readBuffer(buf))).toEqual(want);
    expect(strip(readFile(file, { chunkSize: 4096 }))).toEqual(want);
    expect(strip(readFile(file))).toEqual(want);
  });

  it('skips a packet block that names an interface the section does not describe, and goes on', () => {
    const real = realPackets('zeek_icmp.pcap').slice(0, 3);
    const buf = new PcapngBuilder().section(true).interface(1).epb(0, real[0]).toBuffer();
    // Interface 7 does not exist: written with interface 0's timestamp units, then the ID patched.
    const bad = new PcapngBuilder().section(true).interface(1).epb(0, real[1]).toBuffer();
    const badEpb = Buffer.from(bad.subarray(bad.length - (32 + 76 + 12)));
    badEpb.writeUInt32LE(7, 8);
    const rest = new PcapngBuilder().section(true).interface(1).epb(0, real[2]).toBuffer();
    const restEpb = rest.subarray(rest.length - (32 + 76 + 12));
    const got = readBuffer(Buffer.concat([buf, badEpb, restEpb]));
    expect({ packets: v(got.packets), truncated: got.truncated, warnings: got.warnings, badRecords: got.stats.badRecords }).toEqual({
      packets: v([real[0], real[2]]),
      truncated: false,
      warnings: [`packet block at byte ${buf.length} refers to interface 7, but the section describes 1; skipped`],
      badRecords: 1,
    });
  });

  it('skips a section of an unsupported major version up to the next section header', () => {
    const real = realPackets('zeek_icmp.pcap').slice(0, 4);
    const buf = new PcapngBuilder().section(true, 2).interface(1).epb(0, real[0]).epb(0, real[1]).section(false).interface(1).epb(0, real[2]).epb(0, real[3]).toBuffer();
    const got = readBuffer(buf);
    expect({ packets: v(got.packets), warnings: got.warnings, skippedBlocks: got.stats.skippedBlocks, truncated: got.truncated }).toEqual({
      packets: v(real.slice(2)),
      warnings: ['section at byte 0 has unsupported pcapng version 2.0; skipped'],
      skippedBlocks: 3,
      truncated: false,
    });
  });
});

describeWithData('CaptureFileReader on damaged and foreign input', () => {
  /** Byte offset of every record or block holding a packet, from the zero-copy offsets of an in-memory read. */
  function packetStarts(buf: Buffer, headerLength: number): number[] {
    const reader = CaptureFileReader.fromBuffer(buf);
    const rec = createPacketRecord();
    const starts: number[] = [];
    while (reader.next(rec)) starts.push(rec.offset - headerLength);
    return starts;
  }

  it.each([
    ['inside the packet data', 16 + 30],
    ['inside the record header', 7],
  ])('returns the packets before a pcap cut %s, with truncated set and a warning', (_where, into) => {
    const whole = fs.readFileSync(testDataPath('pcap', 'ndpi_gnutella.pcap'));
    const starts = packetStarts(whole, 16);
    const k = 1000;
    const cut = whole.subarray(0, starts[k] + into);
    const want = { packets: v(realPackets('ndpi_gnutella.pcap').slice(0, k)), truncated: true, warnings: [`truncated record at byte ${starts[k]}`], badRecords: 0 };
    const pick = (r: ReadResult) => ({ packets: v(r.packets), truncated: r.truncated, warnings: r.warnings, badRecords: r.stats.badRecords });
    expect(pick(readFile(tmpFile(`cut-${into}.pcap`, cut), { chunkSize: 4096 }))).toEqual(want);
    expect(pick(readBuffer(cut))).toEqual(want);
  });

  it('ends cleanly, not truncated, when a pcap ends exactly between records', () => {
    const whole = fs.readFileSync(testDataPath('pcap', 'ndpi_gnutella.pcap'));
    const starts = packetStarts(whole, 16);
    const got = readBuffer(whole.subarray(0, starts[10]));
    expect({ packets: got.packets.length, truncated: got.truncated, warnings: got.warnings }).toEqual({ packets: 10, truncated: false, warnings: [] });
  });

  it('returns the blocks before a pcapng cut inside a block, with truncated set and a warning', () => {
    const whole = fs.readFileSync(testDataPath('pcap', 'ndpi_alexa-app.pcapng'));
    const starts = packetStarts(whole, 28);
    const k = 2000;
    const got = readFile(tmpFile('cut.pcapng', whole.subarray(0, starts[k] + 50)));
    expect({ packets: v(got.packets), truncated: got.truncated, warnings: got.warnings }).toEqual({
      packets: v(realPackets('ndpi_alexa-app.pcapng').slice(0, k)),
      truncated: true,
      warnings: [`truncated block at byte ${starts[k]}`],
    });
  });

  it('stops at an absurd pcap captured length without reading past it', () => {
    const whole = Buffer.from(fs.readFileSync(testDataPath('pcap', 'ndpi_gnutella.pcap')));
    const starts = packetStarts(whole, 16);
    whole.writeUInt32LE(0x7fffffff, starts[500] + 8);
    const got = readFile(tmpFile('absurd.pcap', whole));
    expect({ packets: v(got.packets), truncated: got.truncated, warnings: got.warnings, badRecords: got.stats.badRecords }).toEqual({
      packets: v(realPackets('ndpi_gnutella.pcap').slice(0, 500)),
      truncated: true,
      warnings: [`bad record at byte ${starts[500]}: captured length 2147483647 exceeds 131070`],
      badRecords: 1,
    });
  });

  it('stops at a pcap captured length above twice the snap length or above 256 KiB', () => {
    const real = realPackets('zeek_icmp.pcap').slice(0, 3);
    const big = { ...real[2], bytes: Buffer.alloc(256 * 1024 + 1), captureLength: 256 * 1024 + 1, originalLength: 256 * 1024 + 1 };
    const snapped = readBuffer(pcapFile(real, { le: true, nano: false, linkType: 1, snapLen: 30 }));
    const huge = readBuffer(pcapFile([real[0], real[1], big], { le: false, nano: false, linkType: 1, snapLen: 0 }));
    expect([snapped, huge].map((r) => ({ packets: r.packets.length, warnings: r.warnings, badRecords: r.stats.badRecords }))).toEqual([
      { packets: 0, warnings: ['bad record at byte 24: captured length 74 exceeds 60'], badRecords: 1 },
      { packets: 2, warnings: [`bad record at byte ${24 + 2 * (16 + 74)}: captured length 262145 exceeds 262144`], badRecords: 1 },
    ]);
  });

  it.each([
    ['a block length that is not a multiple of 4', (b: Buffer, at: number) => b.writeUInt32LE(4099, at + 4), 'block length 4099'],
    ['a block length below the 12-octet minimum', (b: Buffer, at: number) => b.writeUInt32LE(8, at + 4), 'block length 8'],
    ['a trailing length that differs from the leading one', (b: Buffer, at: number) => b.writeUInt32LE(96, at + 120 - 4), 'trailing block length 96 differs from 120'],
    ['a captured length that overruns its block', (b: Buffer, at: number) => b.writeUInt32LE(200, at + 20), 'captured length 200 overruns the 120-byte block'],
  ])('stops at %s in pcapng, with the packets before it', (_name, damage, message) => {
    const real = realPackets('zeek_icmp.pcap').slice(0, 3);
    const buf = new PcapngBuilder().section(true).interface(1).epb(0, real[0]).epb(0, real[1]).epb(0, real[2]).toBuffer();
    const third = buf.length - 120; // each 74-byte packet makes a 120-byte EPB with its epb_flags option
    damage(buf, third);
    const got = readBuffer(buf);
    expect({ packets: v(got.packets), truncated: got.truncated, warnings: got.warnings, badRecords: got.stats.badRecords }).toEqual({
      packets: v(real.slice(0, 2)),
      truncated: true,
      warnings: [`bad block at byte ${third}: ${message}`],
      badRecords: 1,
    });
  });

  it('throws CaptureFormatError with a one-line message for a text file, an empty file and a cut file header', () => {
    const log = testDataPath('logs', 'crowdsec_ssh-bf.log');
    const empty = tmpFile('empty.pcap', Buffer.alloc(0));
    const header = tmpFile('header.pcap', fs.readFileSync(testDataPath('pcap', 'zeek_icmp.pcap')).subarray(0, 20));
    const tiny = tmpFile('tiny.pcapng', Buffer.from([0x0a, 0x0d, 0x0d]));
    const errors = [log, empty, header, tiny].map((f) => {
      try {
        CaptureFileReader.open(f).close();
        return null;
      } catch (e) {
        return e;
      }
    });
    for (const e of errors) {
      expect(e).toBeInstanceOf(CaptureFormatError);
      expect((e as Error).message).not.toMatch(/\n/);
    }
    expect(errors.map((e) => (e as Error).message)).toEqual([
      expect.stringMatching(/crowdsec_ssh-bf\.log: not a pcap or pcapng capture \(magic 0x[0-9a-f]{8}\)$/),
      `${empty}: empty file, not a pcap or pcapng capture`,
      `${header}: pcap file header cut short (20 of 24 bytes)`,
      `${tiny}: 3-byte file is too short to be a pcap or pcapng capture`,
    ]);
    expect(() => CaptureFileReader.fromBuffer(Buffer.alloc(0))).toThrow(CaptureFormatError);
  });

  it('lets a missing file fail with the file system error, not a format error', () => {
    expect(() => CaptureFileReader.open(tmpFile('missing.pcap'))).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  });

  it('returns false from next() after close()', () => {
    const reader = CaptureFileReader.open(testDataPath('pcap', 'zeek_icmp.pcap'));
    const rec = createPacketRecord();
    expect(reader.next(rec)).toBe(true);
    reader.close();
    expect([reader.next(rec), reader.stats.packets]).toEqual([false, 1]);
  });
});
