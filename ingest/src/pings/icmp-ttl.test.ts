/**
 * Reply TTLs where the echo mechanism cannot read them: the parsers of oping and ping(8) output on fixture text, and
 * the companion echo with the real tools on loopback, under every mechanism, as root and as user nobody.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FpingPinger } from './icmp-fping';
import { chooseIcmpMechanism, type TtlPreference } from './icmp-mechanism';
import { opingTtls, parseOpingLine, parsePingLine, pingProbes, proveTtlTool, TtlCompanion, TtlFilledPinger } from './icmp-ttl';

describe('parseOpingLine', () => {
  it.each([
    // Printed by oping 1.10 (Debian 12) on this machine.
    ['56 bytes from 127.0.0.1 (127.0.0.1): icmp_seq=1 ttl=64 time=0.03 ms', { address: '127.0.0.1', seq: 1, ttl: 64, rttMs: 0.03 }],
    ['56 bytes from ::1 (::1): icmp_seq=3 ttl=64 time=0.04 ms', { address: '::1', seq: 3, ttl: 64, rttMs: 0.04 }],
    ['echo reply from 198.51.100.1 (198.51.100.1): icmp_seq=1 timeout', { address: '198.51.100.1', seq: 1, ttl: null, rttMs: null }],
    // A name given on the command line, a QoS byte, and liboping's -1 when the socket gave no TTL.
    ['56 bytes from gw.lan (2001:db8::1): icmp_seq=2 ttl=57 qos=0x10 time=12.50 ms', { address: '2001:db8::1', seq: 2, ttl: 57, rttMs: 12.5 }],
    ['56 bytes from 10.0.0.1 (10.0.0.1): icmp_seq=1 ttl=-1 time=1.00 ms', { address: '10.0.0.1', seq: 1, ttl: null, rttMs: 1 }],
    ['PING 127.0.0.1 (127.0.0.1) 56 bytes of data.', null],
    ['1 packets transmitted, 1 received, 0.00% packet loss, time 0.0ms', null],
    ["Adding host `not-an-address' failed: getaddrinfo: Name or service not known", null],
  ])('%j', (line, want) => {
    expect(parseOpingLine(line)).toEqual(want);
  });
});

describe('opingTtls', () => {
  it('maps each asked address to its reply TTL, null on timeout, ignoring addresses not asked', () => {
    const out = [
      'PING 127.0.0.1 (127.0.0.1) 56 bytes of data.',
      'PING ::1 (::1) 56 bytes of data.',
      'PING 198.51.100.1 (198.51.100.1) 56 bytes of data.',
      '56 bytes from 127.0.0.1 (127.0.0.1): icmp_seq=1 ttl=64 time=0.03 ms',
      '56 bytes from ::1 (::1): icmp_seq=1 ttl=63 time=0.03 ms',
      'echo reply from 198.51.100.1 (198.51.100.1): icmp_seq=1 timeout',
      '56 bytes from 192.0.2.7 (192.0.2.7): icmp_seq=1 ttl=50 time=0.03 ms',
      '',
      '--- 127.0.0.1 ping statistics ---',
      '1 packets transmitted, 1 received, 0.00% packet loss, time 0.0ms',
      'RTT[ms]: min = 0, median = 0, p(95) = 0, max = 0',
    ].join('\n');
    // Asked in another spelling of the same IPv6 address: matched in canonical form.
    expect([...opingTtls(out, ['127.0.0.1', '0:0::1', '198.51.100.1', '127.0.0.9'])]).toEqual([
      ['127.0.0.1', 64],
      ['::1', 63],
      ['198.51.100.1', null],
      ['127.0.0.9', null],
    ]);
  });
});

describe('parsePingLine (iputils ping -n)', () => {
  it.each([
    // Printed by iputils 20221126 (Debian 12) on this machine.
    ['64 bytes from 127.0.0.1: icmp_seq=1 ttl=64 time=0.040 ms', { what: 'reply', address: '127.0.0.1', seq: 1, ttl: 64, rttMs: 0.04, duplicate: false }],
    ['64 bytes from ::1: icmp_seq=2 ttl=64 time=0.047 ms', { what: 'reply', address: '::1', seq: 2, ttl: 64, rttMs: 0.047, duplicate: false }],
    ['[1796165994.142675] 64 bytes from ::1: icmp_seq=1 ttl=64 time=0.029 ms', { what: 'reply', address: '::1', seq: 1, ttl: 64, rttMs: 0.029, duplicate: false }],
    // A router's answer for an address nobody has, seen from this machine (the probe went off loopback by hand once).
    ['From 21.4.0.85 icmp_seq=2 Destination Port Unreachable', { what: 'error', from: '21.4.0.85', seq: 2, reason: 'Destination Port Unreachable' }],
    // The formats of ping_common.c and ping.c/ping6_common.c for what loopback cannot produce.
    ['64 bytes from 192.0.2.1: icmp_seq=4 ttl=54 time=123 ms (DUP!)', { what: 'reply', address: '192.0.2.1', seq: 4, ttl: 54, rttMs: 123, duplicate: true }],
    ['64 bytes from gw.lan (192.0.2.1): icmp_seq=1 ttl=63 time=1.25 ms', { what: 'reply', address: '192.0.2.1', seq: 1, ttl: 63, rttMs: 1.25, duplicate: false }],
    ['40 bytes from 192.0.2.1: icmp_seq=1 ttl=63 (truncated)', { what: 'reply', address: '192.0.2.1', seq: 1, ttl: 63, rttMs: null, duplicate: false }],
    ['From 192.0.2.2 icmp_seq=1 Destination Host Unreachable', { what: 'error', from: '192.0.2.2', seq: 1, reason: 'Destination Host Unreachable' }],
    ['From 10.0.0.1 icmp_seq=3 Time to live exceeded', { what: 'error', from: '10.0.0.1', seq: 3, reason: 'Time to live exceeded' }],
    ['From fd00::1 icmp_seq=2 Destination unreachable: Address unreachable', { what: 'error', from: 'fd00::1', seq: 2, reason: 'Destination unreachable: Address unreachable' }],
    ['From fd00:: icmp_seq=5 Time exceeded: Hop limit', { what: 'error', from: 'fd00::', seq: 5, reason: 'Time exceeded: Hop limit' }],
    // Not an answer from the target, not an error, or not about a probe.
    ['64 bytes from 192.0.2.1: icmp_seq=1 ttl=64 time=0.050 ms (BAD CHECKSUM!)', null],
    ['64 bytes from 192.0.2.9: icmp_seq=1 ttl=64 time=0.050 ms (DIFFERENT ADDRESS!)', null],
    ['From 192.0.2.254: icmp_seq=1 Redirect Host(New nexthop: 192.0.2.1)', null],
    ['PING ::1(::1) 56 data bytes', null],
    ['5 packets transmitted, 5 received, 0% packet loss, time 814ms', null],
    ['rtt min/avg/max/mdev = 0.029/0.043/0.048/0.007 ms', null],
  ])('%j', (line, want) => {
    expect(parsePingLine(line)).toEqual(want);
  });
});

describe('pingProbes', () => {
  const head = 'PING 192.0.2.1 (192.0.2.1) 56(84) bytes of data.';
  it.each([
    [
      'a lost probe prints nothing: a timeout; a duplicate does not replace the first reply',
      [head, '64 bytes from 192.0.2.1: icmp_seq=1 ttl=54 time=10.1 ms', '64 bytes from 192.0.2.1: icmp_seq=2 ttl=54 time=11.2 ms', '64 bytes from 192.0.2.1: icmp_seq=2 ttl=99 time=30.0 ms (DUP!)', '64 bytes from 192.0.2.1: icmp_seq=4 ttl=55 time=9.80 ms'],
      [{ rttMs: 10.1, ttl: 54 }, { rttMs: 11.2, ttl: 54 }, { rttMs: null, ttl: null, error: 'timeout' }, { rttMs: 9.8, ttl: 55 }],
    ],
    [
      'ICMP errors fail their probe with the reason and the reporting router',
      [head, 'From 192.0.2.2 icmp_seq=1 Destination Host Unreachable', '64 bytes from 192.0.2.1: icmp_seq=2 ttl=54 time=10.0 ms', 'From 10.0.0.1 icmp_seq=3 Time to live exceeded'],
      [{ rttMs: null, ttl: null, error: 'destination host unreachable from 192.0.2.2' }, { rttMs: 10, ttl: 54 }, { rttMs: null, ttl: null, error: 'time to live exceeded from 10.0.0.1' }, { rttMs: null, ttl: null, error: 'timeout' }],
    ],
    [
      'a reply later than the timeout is a timeout, a reply from another address or beyond the count is no answer',
      [head, '64 bytes from 192.0.2.1: icmp_seq=1 ttl=54 time=1500 ms', '64 bytes from 192.0.2.77: icmp_seq=2 ttl=54 time=10.0 ms', '64 bytes from 192.0.2.1: icmp_seq=5 ttl=54 time=10.0 ms', '64 bytes from 192.0.2.1: icmp_seq=3 ttl=54 time=999 ms'],
      [{ rttMs: null, ttl: null, error: 'timeout' }, { rttMs: null, ttl: null, error: 'timeout' }, { rttMs: 999, ttl: 54 }, { rttMs: null, ttl: null, error: 'timeout' }],
    ],
  ])('%s', (_name, lines, want) => {
    expect(pingProbes(lines.join('\n'), '192.0.2.1', 4, 1000)).toEqual(want);
  });
});

/** The families' TTLs of one burst each to 127.0.0.1 and ::1 through `pinger`: the TTL of every reply. */
async function loopbackTtls(pinger: { echoBurst: FpingPinger['echoBurst'] }): Promise<Array<Array<number | null>>> {
  const burst = { count: 2, spacingMs: 20, timeoutMs: 1000, intervalMs: 2000 };
  const [v4, v6] = await Promise.all([pinger.echoBurst('127.0.0.1', 4, burst), pinger.echoBurst('::1', 6, burst)]);
  expect([...v4, ...v6].every((p) => p.rttMs !== null)).toBe(true);
  return [v4.map((p) => p.ttl), v6.map((p) => p.ttl)];
}

describe('reply TTL under every mechanism, on loopback', () => {
  const root = process.getuid!() === 0;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'netwatch-ttl-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A command that runs `bin` as user nobody without capabilities, as the service runs unprivileged. */
  function asNobody(bin: string): string {
    if (!root) return bin;
    const file = path.join(dir, `nobody-${path.basename(bin)}`);
    writeFileSync(file, `#!/bin/sh\nexec setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all -- ${bin} "$@"\n`);
    chmodSync(file, 0o755);
    return file;
  }

  it('runs the tools as nobody without capabilities (the tools bring cap_net_raw themselves)', () => {
    const status = execFileSync(asNobody('/usr/bin/grep'), ['-E', '^(Uid|CapEff):', '/proc/self/status'], { encoding: 'utf8' });
    const uid = root ? 65534 : process.getuid!();
    expect(status.replace(/\s+/g, ' ').trim()).toBe(`Uid: ${uid} ${uid} ${uid} ${uid} CapEff: 0000000000000000`);
  });

  const cases: Array<[string, 'raw' | 'fping', TtlPreference, string, Array<number | null>]> = [
    ['raw: IPv4 from the reply header, IPv6 from oping', 'raw', 'oping', 'raw (IPv4), oping for IPv6 hop limits', [64, 64]],
    ['raw: IPv4 from the reply header, IPv6 from ping(8)', 'raw', 'ping', 'raw (IPv4), ping(8) for IPv6 hop limits', [64, 64]],
    ['raw without companion: IPv4 only', 'raw', 'off', 'raw (IPv4 TTL only, no IPv6 hop limits)', [64, null]],
    ['fping: both from oping', 'fping', 'oping', 'fping, oping for TTL and hop limits', [64, 64]],
    ['fping: both from ping(8)', 'fping', 'ping', 'fping, ping(8) for TTL and hop limits', [64, 64]],
    ['fping without companion: none', 'fping', 'off', 'fping (no TTL)', [null, null]],
  ];

  it.each(cases)('as root, %s', async (_name, mechanism, ttl, label, [v4, v6]) => {
    if (!root && mechanism === 'raw') {
      // Unprivileged, raw sockets are refused and the fping cases below cover what runs.
      expect((await chooseIcmpMechanism({ prefer: 'raw', ttl })).mechanism).toBe('none');
      return;
    }
    const choice = await chooseIcmpMechanism({ prefer: mechanism, ttl });
    try {
      expect([choice.mechanism, choice.label]).toEqual([mechanism, label]);
      expect(await loopbackTtls(choice.pinger!)).toEqual([
        [v4, v4],
        [v6, v6],
      ]);
    } finally {
      choice.pinger?.close();
    }
  });

  it.each(cases.filter((c) => c[1] === 'fping'))('as nobody without CAP_NET_RAW, %s', async (_name, mechanism, ttl, label, [v4, v6]) => {
    const choice = await chooseIcmpMechanism({ prefer: mechanism, ttl, fpingBin: asNobody('/usr/bin/fping'), opingBin: asNobody('/usr/bin/oping'), pingBin: asNobody('/usr/bin/ping') });
    try {
      expect([choice.mechanism, choice.label]).toEqual([mechanism, label]);
      expect(await loopbackTtls(choice.pinger!)).toEqual([
        [v4, v4],
        [v6, v6],
      ]);
    } finally {
      choice.pinger?.close();
    }
  });

  it.each([
    ['oping', 'oping reads reply TTLs: 127.0.0.1 answered with TTL 64, ::1 with hop limit 64'],
    ['ping', 'ping(8) reads reply TTLs: 127.0.0.1 answered with TTL 64, ::1 with hop limit 64'],
  ] as const)('proves %s at start by its TTLs from 127.0.0.1 and ::1', (tool, why) => {
    expect(proveTtlTool(tool, asNobody(`/usr/bin/${tool}`), [4, 6])).toEqual({ tool, ok: true, why });
  });

  it('falls back from a missing oping to ping(8), and says why', async () => {
    const choice = await chooseIcmpMechanism({ prefer: 'fping', opingBin: '/nonexistent/oping' });
    try {
      expect([choice.label, choice.ttl.steps.map((s) => [s.tool, s.ok]), choice.ttl.steps[0].why]).toEqual([
        'fping, ping(8) for TTL and hop limits',
        [
          ['oping', false],
          ['ping', true],
        ],
        'cannot run /nonexistent/oping: spawnSync /nonexistent/oping ENOENT (127.0.0.1 answered with TTL none, ::1 with hop limit none)',
      ]);
    } finally {
      choice.pinger?.close();
    }
  });
});

describe('TtlCompanion', () => {
  it('oping: the addresses asked within a round share one process', async () => {
    const c = new TtlCompanion('oping');
    try {
      const got = await Promise.all([c.ttl('127.0.0.1', 4, 1000), c.ttl('127.0.0.2', 4, 1000), c.ttl('::1', 6, 1000), c.ttl('0::1', 6, 1000)]);
      expect([got, c.counters()]).toEqual([[64, 64, 64, 64], { processes: 1, asked: 4, answered: 4, unanswered: 0, refused: 0, process_failures: 0, running: 0 }]);
    } finally {
      c.close();
    }
  });

  it('ping(8): one process per address', async () => {
    const c = new TtlCompanion('ping');
    try {
      const got = await Promise.all([c.ttl('127.0.0.1', 4, 1000), c.ttl('::1', 6, 1000)]);
      expect([got, c.counters()]).toEqual([[64, 64], { processes: 2, asked: 2, answered: 2, unanswered: 0, refused: 0, process_failures: 0, running: 0 }]);
    } finally {
      c.close();
    }
  });

  it.each(['oping', 'ping'] as const)('%s: a tool that cannot run gives no TTL and counts the failure', async (tool) => {
    const c = new TtlCompanion(tool, `/nonexistent/${tool}`);
    expect([await c.ttl('127.0.0.1', 4, 500), c.counters()]).toEqual([null, { processes: 1, asked: 1, answered: 0, unanswered: 1, refused: 0, process_failures: 1, running: 0 }]);
  });

  it('fills replies only, and only for the families the mechanism cannot read', async () => {
    const broken = new TtlFilledPinger(new FpingPinger('/nonexistent/fping'), new TtlCompanion('oping'), [4, 6]);
    const raw = await chooseIcmpMechanism({ prefer: root() ? 'raw' : 'fping', ttl: 'off' });
    const v6only = new TtlFilledPinger(raw.pinger!, new TtlCompanion('oping'), [6]);
    try {
      // The companion answered, but the burst got no reply: the round has no TTL to record.
      expect(await broken.echoBurst('127.0.0.1', 4, { count: 2, spacingMs: 10, timeoutMs: 300 })).toEqual([0, 1].map(() => ({ rttMs: null, ttl: null, error: 'fping: spawn /nonexistent/fping ENOENT' })));
      expect(broken.counters()).toMatchObject({ ttl_asked: 1, ttl_answered: 1 });
      const v4 = await v6only.echoBurst('127.0.0.1', 4, { count: 2, spacingMs: 10, timeoutMs: 1000, intervalMs: 2000 });
      expect([v4.map((p) => p.ttl), v6only.counters().ttl_asked]).toEqual([root() ? [64, 64] : [null, null], 0]);
    } finally {
      broken.close();
      v6only.close();
    }
  });
});

function root(): boolean {
  return process.getuid!() === 0;
}
