/**
 * The demo scenario against the real decoder and parsers and against the reference tools: every frame decodes
 * with PacketDecoder and is read by tshark with valid IP/TCP/UDP/ICMP checksums and no malformed or expert
 * errors; every log line parses with the LogLineParser of its file type; fail2ban-regex counts the same SSH
 * failures per address as our parser and as the scenario's own fail2ban lines.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LINKTYPE_ETHERNET, PacketDecoder } from '../decode/decoder';
import { DecodedPacket } from '../decode/packet';
import { LogLineParser } from '../logs/parse';
import { formatIPv4, formatIPv6 } from '../protocol/ip';
import { DEMO_ADDRESSES, DemoScenario, type DemoLine, type DemoPacket } from './scenario';

const START = Date.UTC(2026, 11, 1, 12, 0, 0);
const MINUTES = 3;

function run(seed: number, minutes = MINUTES, attacksAtMs = START) {
  const s = new DemoScenario({ seed, startMs: START, attacksAtMs });
  const packets: DemoPacket[] = [];
  const lines: DemoLine[] = [];
  s.advance(START + minutes * 60_000, (p) => packets.push(p), (l) => lines.push(l));
  return { s, packets, lines };
}

function digest(r: ReturnType<typeof run>): string {
  const h = createHash('sha256');
  for (const p of r.packets) h.update(`${p.t}|`).update(p.frame);
  for (const l of r.lines) h.update(`${l.t}|${l.type}|${l.line}\n`);
  return h.digest('hex');
}

/** A classic pcap file (microsecond timestamps, Ethernet) of the frames, for tshark. */
function pcap(packets: readonly DemoPacket[]): Buffer {
  const parts: Buffer[] = [];
  const gh = Buffer.alloc(24);
  gh.writeUInt32LE(0xa1b2c3d4, 0);
  gh.writeUInt16LE(2, 4);
  gh.writeUInt16LE(4, 6);
  gh.writeUInt32LE(262144, 16);
  gh.writeUInt32LE(LINKTYPE_ETHERNET, 20);
  parts.push(gh);
  for (const p of packets) {
    const us = Math.round(p.t * 1000);
    const h = Buffer.alloc(16);
    h.writeUInt32LE(Math.floor(us / 1e6), 0);
    h.writeUInt32LE(us % 1e6, 4);
    h.writeUInt32LE(p.frame.length, 8);
    h.writeUInt32LE(p.frame.length, 12);
    parts.push(h, p.frame);
  }
  return Buffer.concat(parts);
}

function tool(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (r.error) throw new Error(`${cmd} is needed for this test (scripts/setup.sh test installs it): ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

function countBy<T>(items: readonly T[], key: (t: T) => string | null | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const i of items) {
    const k = key(i);
    if (k) out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

const { s: scenario, packets, lines } = run(7);
let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'netwatch-demo-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('DemoScenario', () => {
  it('gives the same packets and lines for the same seed, and different ones for another seed', () => {
    expect(digest(run(7))).toBe(digest({ s: scenario, packets, lines }));
    expect(digest(run(8))).not.toBe(digest({ s: scenario, packets, lines }));
  });

  it('emits packets and lines in one time-ordered sequence, within the advanced window', () => {
    const s = new DemoScenario({ seed: 7, startMs: START });
    const times: number[] = [];
    s.advance(START + MINUTES * 60_000, (p) => times.push(p.t), (l) => times.push(l.t));
    const backwards = times.filter((t, i) => i > 0 && t < times[i - 1]);
    expect(backwards).toEqual([]);
    expect(times.length).toBe(packets.length + lines.length);
    expect(times[0]).toBeGreaterThanOrEqual(START);
    expect(times[times.length - 1]).toBeLessThanOrEqual(START + MINUTES * 60_000);
  });

  it('continues seamlessly when advanced in small steps', () => {
    const s = new DemoScenario({ seed: 7, startMs: START });
    const stepped: DemoPacket[] = [];
    const steppedLines: DemoLine[] = [];
    for (let t = START; t <= START + MINUTES * 60_000; t += 250) s.advance(t, (p) => stepped.push(p), (l) => steppedLines.push(l));
    expect(digest({ s, packets: stepped, lines: steppedLines })).toBe(digest({ s: scenario, packets, lines }));
  });

  it('builds frames the real decoder accounts in full: IPv4 and IPv6, TCP, UDP, ICMP and ICMPv6, the ports of the story', () => {
    const d = new PacketDecoder();
    const out = new DecodedPacket();
    const protocols: Record<string, number> = {};
    const dstPorts = new Set<number>();
    let v6 = 0;
    let refused = 0;
    for (const p of packets) {
      if (!d.decode(LINKTYPE_ETHERNET, p.frame, 0, p.frame.length, p.frame.length, Math.round(p.t * 1000), out)) refused++;
      protocols[out.protocol] = (protocols[out.protocol] ?? 0) + 1;
      if (out.protocol === 6 || out.protocol === 17) dstPorts.add(out.dstPort);
      if (out.family === 6) v6++;
    }
    expect(refused).toBe(0);
    expect(d.counters.decoded).toBe(packets.length);
    expect(Object.values(d.countersByReason()).every((n) => n === 0)).toBe(true);
    expect(Object.keys(protocols).map(Number).sort((a, b) => a - b)).toEqual([1, 6, 17, 58]);
    for (const port of [22, 53, 80, 123, 443, 445, 873]) expect(dstPorts).toContain(port);
    expect(v6).toBeGreaterThan(100);
  });

  it('contains a port scan of more than 15 ports, a sweep of more than 25 hosts, and large transfers', () => {
    const d = new PacketDecoder();
    const out = new DecodedPacket();
    const scanned = new Set<number>();
    const swept = new Set<string>();
    const bytesByFlow = new Map<string, number>();
    for (const p of packets) {
      d.decode(LINKTYPE_ETHERNET, p.frame, 0, p.frame.length, p.frame.length, 0, out);
      if (out.family !== 4) continue;
      const src = formatIPv4(out.src[0]);
      const dst = formatIPv4(out.dst[0]);
      if (src === DEMO_ADDRESSES.scanner && dst === DEMO_ADDRESSES.server && out.tcpFlags === 0x02) scanned.add(out.dstPort);
      if (src === DEMO_ADDRESSES.sweeper && out.dstPort === 445) swept.add(dst);
      const key = `${src}:${out.srcPort}>${dst}:${out.dstPort}`;
      bytesByFlow.set(key, (bytesByFlow.get(key) ?? 0) + out.wireLength);
    }
    expect(scanned.size).toBeGreaterThan(15);
    expect(swept.size).toBeGreaterThan(25);
    expect([...bytesByFlow.values()].filter((b) => b > 20_000_000).length).toBeGreaterThanOrEqual(2);
    expect(formatIPv6(0x20010db8, 0x00100000, 0, 0x10)).toBe(DEMO_ADDRESSES.server6);
  });

  it('writes frames tshark reads with valid checksums, no malformed packet or expert error, dissecting every protocol of the story', () => {
    const file = path.join(tmp, 'demo.pcap');
    writeFileSync(file, pcap(packets));
    const checks = ['-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE'];
    const bad = tool('tshark', ['-r', file, ...checks, '-Y', 'ip.checksum.status==0 || tcp.checksum.status==0 || udp.checksum.status==0 || icmp.checksum.status==0 || icmpv6.checksum.status==0 || _ws.malformed || _ws.expert.severity==error']);
    expect(bad).toBe('');
    // One pass for the rest: per frame, its protocol stack and the fields that prove each dissector understood it.
    const fields = ['frame.protocols', 'tcp.checksum.status', 'dns.flags.response', 'ntp.flags.mode', 'http.request.method', 'tls.handshake.type', 'ssh.message_code', 'icmp.type', 'icmpv6.type', 'tls.handshake.extensions_server_name'];
    const rows = tool('tshark', ['-r', file, ...checks, '-T', 'fields', '-E', 'separator=\t', '-E', 'occurrence=f', ...fields.flatMap((f) => ['-e', f])])
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => Object.fromEntries(l.split('\t').map((v, i) => [fields[i], v])));
    expect(rows.length).toBe(packets.length);
    const seen = (pred: (r: Record<string, string>) => boolean) => rows.some(pred);
    const found = {
      tcpChecksumsVerified: seen((r) => r['tcp.checksum.status'] === '1'),
      dnsResponse: seen((r) => r['dns.flags.response'] === '1' || r['dns.flags.response'] === 'True'),
      ntpServerReply: seen((r) => r['ntp.flags.mode'] === '4'),
      httpGet: seen((r) => r['http.request.method'] === 'GET'),
      tlsClientHello: seen((r) => r['tls.handshake.type'] === '1'),
      sshNewKeys: seen((r) => r['ssh.message_code'] === '21'),
      icmpEchoReply: seen((r) => r['icmp.type'] === '0'),
      icmpv6EchoReply: seen((r) => r['icmpv6.type'] === '129'),
      rsync: seen((r) => r['frame.protocols'].split(':').includes('rsync')),
    };
    expect(found).toEqual(Object.fromEntries(Object.keys(found).map((k) => [k, true])));
    const sni = new Set(rows.map((r) => r['tls.handshake.extensions_server_name']).filter((v) => v));
    expect([...sni].sort()).toEqual(['api.example.org', 'cdn.example.net', 'mail.example.com', 'mirror.example.org', 'news.example.net', 'www.example.com']);
  });

  it('writes log lines every parser of their file type reads, with the actions of the story', () => {
    const parsers = { auth: new LogLineParser({ type: 'auth', refMs: START + MINUTES * 60_000 }), fail2ban: new LogLineParser({ type: 'fail2ban', refMs: START }), syslog: new LogLineParser({ type: 'syslog', refMs: START }), kern: new LogLineParser({ type: 'kern', refMs: START }) };
    const events = lines.map((l) => {
      const r = parsers[l.type].parse(l.line);
      if (r.skip) throw new Error(`skipped (${r.skip}): ${l.line}`);
      // The line's own time is what the parser must read (syslog has whole seconds).
      expect([l.line, Math.floor(r.event.timestamp)]).toEqual([l.line, Math.floor(l.t / 1000)]);
      return r.event;
    });
    const actions = countBy(events, (e) => e.action);
    for (const a of ['failed_password', 'invalid_user', 'pam_auth_failure', 'preauth_disconnect', 'accepted_publickey', 'session_opened', 'f2b_found', 'f2b_ban', 'firewall_block']) {
      expect([a, (actions[a] ?? 0) > 0]).toEqual([a, true]);
    }
    const bans = events.filter((e) => e.action === 'f2b_ban').map((e) => e.ip).sort();
    expect(bans).toEqual([DEMO_ADDRESSES.bruteForcer, DEMO_ADDRESSES.enumerator].sort());
    expect(events.some((e) => e.level === 'error' || e.level === 'critical')).toBe(true);
  });

  it('makes fail2ban-regex count the same SSH failures per address as our parser and as its own fail2ban lines', () => {
    const auth = lines.filter((l) => l.type === 'auth').map((l) => l.line);
    const file = path.join(tmp, 'auth.log');
    writeFileSync(file, auth.join('\n') + '\n');
    const reference = countBy(tool('fail2ban-regex', ['-o', 'ip', file, 'sshd']).split('\n'), (l) => l.trim() || null);
    const parser = new LogLineParser({ type: 'auth', refMs: START + MINUTES * 60_000 });
    const ours = countBy(
      auth.map((l) => parser.parse(l).event!),
      (e) => (e.metadata?.f2b_failure === true ? e.ip : null),
    );
    const found = countBy(
      lines.filter((l) => l.type === 'fail2ban'),
      (l) => /Found (\S+)/.exec(l.line)?.[1],
    );
    expect(ours).toEqual(reference);
    expect(found).toEqual(reference);
    expect(reference[DEMO_ADDRESSES.bruteForcer]).toBeGreaterThanOrEqual(5);
    expect(reference[DEMO_ADDRESSES.enumerator]).toBeGreaterThanOrEqual(5);
    expect(reference[DEMO_ADDRESSES.guesser6]).toBeGreaterThanOrEqual(2);
  });

  it('bounds the open sessions and counts the ones it had to drop', () => {
    const s = new DemoScenario({ seed: 7, startMs: START, maxSessions: 25 });
    s.advance(START + 60_000, () => {}, () => {});
    const c = s.counters();
    expect(c.open).toBeLessThanOrEqual(26);
    expect(c.sessionsDropped).toBeGreaterThan(0);
  });
});
