/**
 * The probers against real sockets on loopback: raw ICMP and fping to 127.0.0.1 and ::1, TCP connects to an open
 * and a closed port, HTTPS to a local server with a certificate made here by openssl.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { certDaysLeft, formatIssuer, httpProbe } from './http';
import { chooseIcmpMechanism, datagramStep } from './icmp-mechanism';
import { FpingPinger } from './icmp-fping';
import { RawIcmpPinger } from './icmp-raw';
import type { IcmpPinger } from './icmp';
import { tcpConnect } from './tcp';
import { selfSignedCert } from './test-tls';

const BURST = { count: 3, spacingMs: 20, timeoutMs: 1000 };

function listen(server: net.Server, host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve) => server.listen(0, host, () => resolve((server.address() as net.AddressInfo).port)));
}

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  const port = await listen(s);
  await new Promise((r) => s.close(r));
  return port;
}

function expectAllReplied(results: Array<{ rttMs: number | null; ttl: number | null }>, ttl: number | null) {
  expect(results.map((r) => [typeof r.rttMs === 'number' && r.rttMs > 0 && r.rttMs < 1000, r.ttl])).toEqual(results.map(() => [true, ttl]));
}

describe('ICMP echo by raw socket', () => {
  let pinger: IcmpPinger;
  let mechanism: string;
  beforeAll(async () => {
    // Without the privilege this machine falls back as the service would: the same assertions then hold for fping.
    const choice = await chooseIcmpMechanism();
    pinger = choice.pinger!;
    mechanism = choice.mechanism;
  });
  afterAll(() => pinger?.close());

  it('is chosen as root, and 127.0.0.1 answers every probe with TTL 64', async () => {
    expect(mechanism).toBe(process.getuid!() === 0 ? 'raw' : 'fping');
    expectAllReplied(await pinger.echoBurst('127.0.0.1', 4, BURST), 64);
  });

  it('::1 answers every probe, with hop limit 64 from the companion echo (raw IPv6 sockets do not see the IPv6 header)', async () => {
    expectAllReplied(await pinger.echoBurst('::1', 6, BURST), 64);
  });

  it('runs bursts to several targets at once on the same two sockets', async () => {
    const [a, b, c] = await Promise.all([pinger.echoBurst('127.0.0.1', 4, BURST), pinger.echoBurst('127.0.0.2', 4, BURST), pinger.echoBurst('::1', 6, BURST)]);
    expect([a, b, c].map((r) => r.filter((p) => p.rttMs !== null).length)).toEqual([3, 3, 3]);
  });

  it('is refused without CAP_NET_RAW, so the choice falls back', () => {
    if (process.getuid!() !== 0) {
      expect(() => new RawIcmpPinger()).toThrow(/not permitted/i);
      return;
    }
    // As root, the refusal is shown by a child running as nobody.
    const code = `try { require(${JSON.stringify(require.resolve('raw-socket', { paths: [path.dirname(require.resolve('net-ping'))] }))}).createSocket({ protocol: 1 }); console.log('opened'); } catch (e) { console.log(e.message); }`;
    // As nobody without CAP_NET_RAW, keeping file access so the checkout is readable wherever it is.
    const asNobody = ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=+dac_read_search', '--ambient-caps=+dac_read_search', '--'];
    const out = execFileSync('setpriv', [...asNobody, process.execPath, '-e', code], { encoding: 'utf8' });
    expect(out.trim()).toBe('Operation not permitted');
  });
});

describe('ICMP echo by fping', () => {
  const fping = new FpingPinger();
  afterAll(() => fping.close());
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('answers 127.0.0.1 and ::1 round after round from one long-running fping, restarted only when the addresses change', async () => {
    const loop = new FpingPinger();
    const opts = { count: 3, spacingMs: 20, timeoutMs: 150, intervalMs: 400 };
    const t0 = performance.now();
    // Rounds as the scheduler makes them: all targets at start + k x interval.
    const round = async (k: number, addresses: Array<[string, 4 | 6]>) => {
      await sleep(t0 + k * opts.intervalMs - performance.now());
      return Promise.all(addresses.map(([a, f]) => loop.echoBurst(a, f, opts)));
    };
    try {
      for (let k = 0; k < 3; k++) {
        const [v4, v6] = await round(k, [
          ['127.0.0.1', 4],
          ['::1', 6],
        ]);
        expectAllReplied(v4, null);
        expectAllReplied(v6, null);
      }
      expect(loop.counters()).toMatchObject({ processes: 1, restarts: 0, running: 1, sent: 18, replies: 18, timeouts: 0 });
      // A new address (a host name that moved) needs a new process; the next rounds are served by it.
      const [, moved] = await round(3, [
        ['127.0.0.1', 4],
        ['127.0.0.2', 4],
      ]);
      expectAllReplied(moved, null);
      expect((await round(4, [['127.0.0.2', 4]]))[0].filter((p) => p.rttMs !== null).length).toBe(3);
      expect(loop.counters()).toMatchObject({ processes: 2, restarts: 1, running: 1, addresses: 3 });
      // Addresses nobody asked for during three intervals are dropped (by a restart).
      for (let k = 5; k <= 8; k++) await round(k, [['127.0.0.2', 4]]);
      expect(loop.counters()).toMatchObject({ running: 1, addresses: 1 });
    } finally {
      loop.close();
    }
    expect(loop.counters().running).toBe(0);
  });

  it('keeps the probes of a burst the asked spacing apart, for one address as for several', async () => {
    for (const addresses of [['127.0.0.1'], ['127.0.0.1', '127.0.0.2', '::1']]) {
      const loop = new FpingPinger();
      try {
        const t = performance.now();
        const results = await Promise.all(addresses.map((a) => loop.echoBurst(a, a.includes(':') ? 6 : 4, { count: 3, spacingMs: 150, timeoutMs: 200, intervalMs: 2000 })));
        const ms = performance.now() - t;
        // The third probe leaves 2 x 150 ms after the first (10 ms entries would be done in 30 ms); its reply on
        // loopback is immediate, and the bound above leaves room for a loaded machine.
        expect([results.flat().every((p) => p.rttMs !== null), ms >= 300, ms < 800]).toEqual([true, true, true]);
      } finally {
        loop.close();
      }
    }
  });

  it('answers 127.0.0.1 and ::1 asked at once, from one process', async () => {
    const before = fping.counters().processes;
    const [v4, v6] = await Promise.all([fping.echoBurst('127.0.0.1', 4, BURST), fping.echoBurst('::1', 6, BURST)]);
    expectAllReplied(v4, null);
    expectAllReplied(v6, null);
    expect(fping.counters().processes - before).toBe(1);
  });

  it('gives two targets on one address the same results from one probe burst', async () => {
    const [a, b] = await Promise.all([fping.echoBurst('127.0.0.1', 4, BURST), fping.echoBurst('127.0.0.1', 4, BURST)]);
    expect(a).toBe(b);
  });

  it('reports a failing fping binary as the reason of every probe', async () => {
    const broken = new FpingPinger('/nonexistent/fping');
    const r = await broken.echoBurst('127.0.0.1', 4, { count: 2, spacingMs: 10, timeoutMs: 100 });
    expect(r).toEqual([0, 1].map(() => ({ rttMs: null, ttl: null, error: 'fping: spawn /nonexistent/fping ENOENT' })));
  });

  it('is what the choice falls back to when raw sockets are not wanted', async () => {
    const choice = await chooseIcmpMechanism({ prefer: 'fping' });
    try {
      expect([choice.mechanism, choice.steps.map((s) => [s.mechanism, s.ok])]).toEqual(['fping', [['fping', true]]]);
      expect(choice.reason).toMatch(/^fping works unprivileged .* 127\.0\.0\.1 answered in [\d.]+ ms$/);
    } finally {
      choice.pinger?.close();
    }
  });

  it('leaves no ICMP mechanism, with every reason, when fping is missing too', async () => {
    const choice = await chooseIcmpMechanism({ prefer: 'fping', fpingBin: '/nonexistent/fping' });
    expect([choice.mechanism, choice.pinger, choice.reason]).toEqual(['none', null, 'no way to send ICMP echoes: fping: cannot run /nonexistent/fping: spawnSync /nonexistent/fping ENOENT']);
  });
});

describe('unprivileged ICMP datagram sockets', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'netwatch-pings-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const gid = process.getgid!();

  it.each([
    ['1 0', `net.ipv4.ping_group_range = 1 0 admits none of this process's groups`],
    [`${gid} ${gid}`, `net.ipv4.ping_group_range = ${gid} ${gid} admits group ${gid}, but Node.js cannot open ICMP datagram sockets`],
  ])('with ping_group_range %j: not usable, and says why', (range, why) => {
    const file = path.join(dir, `range-${range.replace(' ', '-')}`);
    writeFileSync(file, `${range}\n`);
    const step = datagramStep(file);
    expect([step.mechanism, step.ok, step.why.startsWith(why)]).toEqual(['datagram', false, true]);
  });

  it('reads the real sysctl of this machine', () => {
    const range = readFileSync('/proc/sys/net/ipv4/ping_group_range', 'utf8').trim().split(/\s+/).join(' ');
    expect(datagramStep().why).toContain(`net.ipv4.ping_group_range = ${range}`);
  });
});

describe('TCP connect probe', () => {
  it('times the handshake to a listening port, on IPv4 and IPv6', async () => {
    const s4 = net.createServer((c) => c.destroy());
    const s6 = net.createServer((c) => c.destroy());
    const [p4, p6] = await Promise.all([listen(s4), listen(s6, '::1')]);
    try {
      const rs = await Promise.all([tcpConnect('127.0.0.1', p4, 4, 1000), tcpConnect('::1', p6, 6, 1000)]);
      expect(rs.map((r) => [r.rttMs !== null && r.rttMs > 0, r.error])).toEqual([
        [true, undefined],
        [true, undefined],
      ]);
    } finally {
      s4.close();
      s6.close();
    }
  });

  it('reports a closed port as refused', async () => {
    expect(await tcpConnect('127.0.0.1', await closedPort(), 4, 1000)).toEqual({ rttMs: null, ttl: null, error: 'connect: ECONNREFUSED' });
  });
});

describe('HTTP(S) probe', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'netwatch-tls-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([7, 42, 400])('reports a self-signed certificate expiring in %i days as that many days left, with issuer, TLS version and phases', async (days) => {
    const { key, cert } = selfSignedCert(dir, days);
    let requests = 0;
    const server = https.createServer({ key, cert }, (_req, res) => {
      requests++;
      res.end('ok');
    });
    const port = await listen(server);
    try {
      const r = await httpProbe({ url: `https://127.0.0.1:${port}/health`, insecure: true }, '127.0.0.1', 4, 2000, Date.now);
      expect(r.result.rttMs).toBeGreaterThan(0);
      expect(r.details).toEqual({
        statusCode: 200,
        totalMs: r.result.rttMs,
        connectMs: expect.any(Number),
        tlsHandshakeMs: expect.any(Number),
        certDaysLeft: days,
        certIssuer: 'CN=netwatch-test, O=Netwatch Tests',
        tlsVersion: 'TLSv1.3',
      });
      expect(r.details.connectMs! + r.details.tlsHandshakeMs!).toBeLessThanOrEqual(r.details.totalMs!);
      expect(requests).toBe(1);
    } finally {
      server.close();
    }
  });

  it('fails a certificate that does not verify without sending the request, and still reports its expiry', async () => {
    const { key, cert } = selfSignedCert(dir, 30);
    let requests = 0;
    const server = https.createServer({ key, cert }, (_req, res) => {
      requests++;
      res.end();
    });
    const port = await listen(server);
    try {
      const r = await httpProbe({ url: `https://127.0.0.1:${port}/`, insecure: false }, '127.0.0.1', 4, 2000, Date.now);
      expect([r.result, r.details.certDaysLeft, r.details.statusCode]).toEqual([{ rttMs: null, ttl: null, error: 'tls: DEPTH_ZERO_SELF_SIGNED_CERT' }, 30, null]);
      await new Promise((res) => setTimeout(res, 50));
      expect(requests).toBe(0);
    } finally {
      server.close();
    }
  });

  it.each([
    [204, null],
    [301, null],
    [404, 'HTTP 404'],
    [503, 'HTTP 503'],
  ])('counts status %i as %s', async (status, error) => {
    const server = http.createServer((_req, res) => {
      res.statusCode = status;
      res.end();
    });
    const port = await listen(server);
    try {
      const r = await httpProbe({ url: `http://127.0.0.1:${port}/`, insecure: false }, '127.0.0.1', 4, 2000, Date.now);
      expect([r.details.statusCode, r.result.error ?? null, r.result.rttMs === null, r.details.tlsHandshakeMs, r.details.certDaysLeft]).toEqual([status, error, error !== null, null, null]);
    } finally {
      server.close();
    }
  });

  it('times out a server that never answers', async () => {
    const server = http.createServer(() => undefined);
    const port = await listen(server);
    try {
      const r = await httpProbe({ url: `http://127.0.0.1:${port}/`, insecure: false }, '127.0.0.1', 4, 200, Date.now);
      expect(r.result).toEqual({ rttMs: null, ttl: null, error: 'timeout' });
      expect(r.details.connectMs).toBeGreaterThan(0);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('refused: connect error', async () => {
    const r = await httpProbe({ url: `http://127.0.0.1:${await closedPort()}/`, insecure: false }, '127.0.0.1', 4, 1000, Date.now);
    expect(r.result).toEqual({ rttMs: null, ttl: null, error: 'connect: ECONNREFUSED' });
  });

  it.each([
    ['Mar  1 12:00:00 2030 GMT', Date.parse('2030-02-27T12:00:00Z'), 2],
    ['Mar  1 12:00:00 2030 GMT', Date.parse('2030-02-26T23:00:00Z'), 3],
    ['Mar  1 12:00:00 2030 GMT', Date.parse('2030-03-02T12:00:00Z'), -1],
    ['not a date', 0, null],
  ])('certDaysLeft(%j) at %i is %j', (validTo, now, want) => {
    expect(certDaysLeft(validTo, now)).toBe(want);
  });

  it('formats an issuer most specific first', () => {
    expect(formatIssuer({ C: 'US', O: "Let's Encrypt", CN: 'R11' })).toBe("CN=R11, O=Let's Encrypt, C=US");
  });
});
