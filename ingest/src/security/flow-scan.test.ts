import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { LiveCapture, loadCap } from '../capture/live';
import { CaptureFileReader, createPacketRecord } from '../capture/pcap-file';
import { PacketDecoder } from '../decode/decoder';
import { DecodedPacket } from '../decode/packet';
import { FlowTable } from '../flows/table';
import { T0, feed, type PacketSpec } from '../flows/test-packets';
import { formatIPv4 } from '../protocol/ip';
import { describeWithData, testDataPath } from '../testing/data';
import { FlowScanAdapter, tcpAttemptOutcome } from './flow-scan';
import { ScanDetector, type ScanFinding } from './scan';

const SCANNER = '203.0.113.7';
const VICTIM = '192.0.2.10';

function summary(f: ScanFinding) {
  return { type: f.type, src: f.src, dst: f.dst, port: f.port, distinct: f.distinct, targets: [...f.targets].sort((a, b) => (a < b ? -1 : 1)) };
}

describe('tcpAttemptOutcome', () => {
  const S = 0x02;
  const A = 0x10;
  const R = 0x04;
  const P = 0x08;
  it.each([
    ['a SYN nobody answered is unanswered', S, 0, 1, 0, 'unanswered'],
    ['a SYN answered with RST/ACK (closed port) is refused', S, R | A, 1, 1, 'refused'],
    ['a SYN scan of an open port (S, SA, R) is a reset before data', S | R, S | A, 2, 1, 'reset'],
    ['a connect scan closed with RST before data (S, SA, A, R) is a reset before data', S | A | R, S | A, 3, 1, 'reset'],
    ['a connection that carried data is answered', S | A | P, S | A | P, 5, 4, 'answered'],
    ['a server that reset after sending data is answered', S | A | P, S | A | P | R, 3, 3, 'answered'],
  ])('%s', (_name, fwd, rev, pf, pr, want) => {
    expect(tcpAttemptOutcome(fwd, rev, pf, pr)).toBe(want);
  });
});

describe('FlowScanAdapter over a FlowTable', () => {
  function table(): FlowTable {
    return new FlowTable({ maxFlows: 10_000 });
  }

  it('finds a port scan of refused, unanswered and reset connections and ignores answered traffic', () => {
    const t = table();
    const specs: PacketSpec[] = [];
    for (let i = 0; i < 20; i++) {
      const sport = 40000 + i;
      const dport = 1000 + i;
      const at = i * 100;
      specs.push({ src: SCANNER, dst: VICTIM, sport, dport, flags: 'S', t: at });
      if (i % 3 === 0) specs.push({ src: VICTIM, dst: SCANNER, sport: dport, dport: sport, flags: 'RA', t: at + 1 });
      if (i % 3 === 1) specs.push({ src: VICTIM, dst: SCANNER, sport: dport, dport: sport, flags: 'SA', t: at + 1 }, { src: SCANNER, dst: VICTIM, sport, dport, flags: 'R', t: at + 2 });
      // i % 3 === 2: no answer at all.
    }
    // A client of the same host on 30 answered connections to one port: no scan.
    for (let i = 0; i < 30; i++) {
      specs.push(
        { src: '198.51.100.5', dst: VICTIM, sport: 50000 + i, dport: 443, flags: 'S', t: i * 10 },
        { src: VICTIM, dst: '198.51.100.5', sport: 443, dport: 50000 + i, flags: 'SA', t: i * 10 + 1 },
        { src: '198.51.100.5', dst: VICTIM, sport: 50000 + i, dport: 443, flags: 'PA', t: i * 10 + 2 },
        { src: VICTIM, dst: '198.51.100.5', sport: 443, dport: 50000 + i, flags: 'PA', t: i * 10 + 3 },
      );
    }
    feed(t, specs);
    const adapter = new FlowScanAdapter(t, new ScanDetector());
    // Before the attempt delay has passed nothing is settled.
    expect(adapter.scan()).toEqual([]);
    t.sweep((T0 + 10_000) * 1000);
    const found = adapter.scan();
    expect(found.map(summary)).toEqual([{ type: 'port_scan', src: SCANNER, dst: VICTIM, port: undefined, distinct: 20, targets: Array.from({ length: 20 }, (_, i) => 1000 + i) }]);
    expect(found[0].flowKeys.slice(0, 3)).toEqual([`tcp ${SCANNER}:40000 > ${VICTIM}:1000 refused`, `tcp ${SCANNER}:40001 > ${VICTIM}:1001 reset`, `tcp ${SCANNER}:40002 > ${VICTIM}:1002 unanswered`]);
    expect(adapter.counters()).toEqual({ scans: 2, flowsRead: 50, attempts: 50, failed: 20 });
    // Each flow is fed once: a second scan with no new flows reports nothing.
    t.sweep((T0 + 20_000) * 1000);
    expect(adapter.scan()).toEqual([]);
    expect(adapter.counters().attempts).toBe(50);
  });

  it('finds a sweep of one port over 30 hosts, IPv4 and IPv6 kept apart', () => {
    const t = table();
    const specs: PacketSpec[] = [];
    for (let i = 0; i < 30; i++) specs.push({ src: SCANNER, dst: `192.0.2.${i + 1}`, sport: 41000 + i, dport: 23, flags: 'S', t: i * 50 });
    for (let i = 0; i < 20; i++) specs.push({ src: '2001:db8::7', dst: `2001:db8:1::${i + 1}`, sport: 42000 + i, dport: 23, flags: 'S', t: i * 50 });
    feed(t, specs);
    t.sweep((T0 + 60_000) * 1000);
    const found = new FlowScanAdapter(t, new ScanDetector()).scan();
    expect(found.map((f) => ({ type: f.type, src: f.src, port: f.port, distinct: f.distinct }))).toEqual([{ type: 'address_scan', src: SCANNER, port: 23, distinct: 30 }]);
  });
});

describeWithData('scan detection on zeek_sshguess.pcap', () => {
  const VICTIM_SSH = '192.168.56.103';

  function load(dropFrom?: string): FlowTable {
    const t = new FlowTable({ maxFlows: 10_000 });
    const reader = CaptureFileReader.open(testDataPath('pcap', 'zeek_sshguess.pcap'));
    const rec = createPacketRecord();
    const decoder = new PacketDecoder();
    const p = new DecodedPacket();
    try {
      while (reader.next(rec)) {
        if (!decoder.decode(rec.linkType, rec.data, rec.offset, rec.captureLength, rec.originalLength, rec.tsUs, p)) continue;
        if (dropFrom !== undefined && p.family === 4 && formatIPv4(p.src[0]) === dropFrom) continue;
        t.add(p);
      }
    } finally {
      reader.close();
    }
    // Past the last packet by more than the attempt delay, so every connection is settled.
    t.sweep(t.nowUs() + 10_000_000);
    return t;
  }

  it('sees the 11 password-guessing connections as answered: guessing is not scanning', () => {
    const adapter = new FlowScanAdapter(load(), new ScanDetector());
    expect(adapter.scan()).toEqual([]);
    // tshark -z conv,tcp lists 11 conversations 192.168.56.1 <-> 192.168.56.103:22.
    expect(adapter.counters()).toEqual({ scans: 1, flowsRead: 11, attempts: 11, failed: 0 });
  });

  it('counts the same SYNs as failed when the server never answers, still one port of one host: no scan', () => {
    const detector = new ScanDetector();
    const adapter = new FlowScanAdapter(load(VICTIM_SSH), detector);
    expect(adapter.scan()).toEqual([]);
    expect(adapter.counters()).toEqual({ scans: 1, flowsRead: 11, attempts: 11, failed: 11 });
  });
});

// Live capture needs root and the cap binding (CI has both); elsewhere the suite is skipped, saying why.
const capAvailable = loadCap().cap !== null && process.getuid?.() === 0;
(capAvailable ? describe : describe.skip)(`scan detection on live loopback traffic (libpcap on lo)${capAvailable ? '' : ' [skipped: needs root and the cap binding]'}`, () => {
  async function closedPorts(n: number): Promise<number[]> {
    // Ports the kernel just handed out and that are closed again: nothing listens on them now.
    const ports: number[] = [];
    while (ports.length < n) {
      const s = net.createServer();
      await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
      const port = (s.address() as net.AddressInfo).port;
      await new Promise<void>((resolve) => s.close(() => resolve()));
      if (!ports.includes(port)) ports.push(port);
    }
    return ports;
  }

  it('detects real connects to 20 closed ports of 127.0.0.1 as a port scan, from packets captured on lo', async () => {
    const ports = await closedPorts(20);
    const t = new FlowTable({ maxFlows: 10_000 });
    const decoder = new PacketDecoder();
    const p = new DecodedPacket();
    const capture = new LiveCapture({ interface: 'lo', bpf: `tcp and (${ports.map((x) => `port ${x}`).join(' or ')})` }, (linkType, data, captureLength, wireLength, tsUs) => {
      if (decoder.decode(linkType, data, 0, captureLength, wireLength, tsUs, p)) t.add(p);
    });
    capture.start();
    try {
      await sleep(100);
      const errors = await Promise.all(
        ports.map(
          (port) =>
            new Promise<string>((resolve) => {
              const c = net.connect({ host: '127.0.0.1', port });
              c.on('connect', () => {
                c.destroy();
                resolve('connected');
              });
              c.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
            }),
        ),
      );
      expect(errors).toEqual(Array(20).fill('ECONNREFUSED'));
      const deadline = Date.now() + 3000;
      while (capture.stats.received < 40 && Date.now() < deadline) await sleep(20);
    } finally {
      capture.stop();
    }
    // Each refused connect is a SYN and a RST/ACK on lo.
    expect(capture.stats.received).toBe(40);
    t.sweep(t.nowUs() + 6_000_000);
    const adapter = new FlowScanAdapter(t, new ScanDetector());
    const found = adapter.scan();
    expect(found.map(summary)).toEqual([{ type: 'port_scan', src: '127.0.0.1', dst: '127.0.0.1', port: undefined, distinct: 20, targets: [...ports].sort((a, b) => a - b) }]);
    expect(found[0].flowKeys.every((k) => k.endsWith(' refused'))).toBe(true);
    expect(adapter.counters()).toEqual({ scans: 1, flowsRead: 20, attempts: 20, failed: 20 });
  });
});
