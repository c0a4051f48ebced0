/**
 * Pings through the built `netwatch-ingest serve`, as a user runs it: real probes on loopback, the ICMP mechanism
 * chosen at start (raw sockets as root, fping when run as an unprivileged user), rows in SQLite after SIGTERM.
 * Needs `npm run build` first (npm test does it).
 */
import net from 'node:net';
import path from 'node:path';
import Database from 'better-sqlite3';
import { runSync, startServe as serve, stop as stopServe, tempDir } from './harness';

/** `wrap`: a command that runs the service, e.g. setpriv with other credentials. */
const startServe = (args: string[], wrap: string[] = []) => serve(args, { wrap });

const PROBE = ['--ping-interval', '1', '--ping-count', '3', '--ping-spacing', '50', '--ping-timeout', '400'];

describe('netwatch-ingest serve --ping', () => {
  it('as root: ICMP by raw socket with TTL and (through oping) IPv6 hop limit, TCP to open and closed ports, every recorded round in SQLite after SIGTERM', async () => {
    const dir = tempDir('netwatch-e2e-pings-');
    const open = net.createServer((c) => c.destroy());
    await new Promise<void>((r) => open.listen(0, '127.0.0.1', () => r()));
    const openPort = (open.address() as net.AddressInfo).port;
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
    const closedPort = (closed.address() as net.AddressInfo).port;
    await new Promise((r) => closed.close(r));

    const svc = await startServe(['--listen', '127.0.0.1:0', '--data-dir', dir, ...PROBE, '--ping', '127.0.0.1', '--ping', '::1', '--ping', `tcp://127.0.0.1:${openPort}`, '--ping', `tcp://127.0.0.1:${closedPort}`]);
    try {
      const chosen = svc.logs().find((l) => l.icmp);
      expect(chosen).toMatchObject({ icmp: 'raw', tried: [{ mechanism: 'raw', ok: true }], ttl: { v4: 'reply header', v6: 'oping', tried: [{ tool: 'oping', ok: true }] } });
      expect(chosen!.msg).toMatch(
        /^pings: ICMP echo by raw \(IPv4\), oping for IPv6 hop limits: raw ICMP sockets open \(root or CAP_NET_RAW\) and 127\.0\.0\.1 answered in [\d.]+ ms; IPv4 TTL from the reply header; IPv6 hop limit from a companion echo per round: oping reads reply TTLs: 127\.0\.0\.1 answered with TTL 64, ::1 with hop limit 64$/,
      );
      // Rounds at 0, 1 and 2 s; stop right after the third, with its rows still in the writers' queues.
      await new Promise((r) => setTimeout(r, 2600));
      // The closed port fails every round; health names the mechanism with its TTL source.
      const health = (await (await fetch(`${svc.url}/api/v1/health`)).json()) as { components: { pings: { detail: string } } };
      expect(health.components.pings.detail).toBe('1 of 4 targets failing; ICMP by raw (IPv4), oping for IPv6 hop limits');
    } finally {
      expect(await stopServe(svc)).toBe(0);
      open.close();
    }
    const stopped = svc.logs().find((l) => l.msg === 'pings stopped: every recorded round flushed');
    expect(stopped).toMatchObject({ rows_dropped: 0 });
    const db = new Database(path.join(dir, 'netwatch.db'), { readonly: true });
    try {
      const rounds = stopped!.rounds as number;
      expect(rounds).toBeGreaterThanOrEqual(8);
      expect(db.prepare('SELECT count(*) FROM pings').pluck().get()).toBe(rounds);
      expect(db.prepare('SELECT count(*) FROM ping_metadata').pluck().get()).toBe(rounds);
      const perTarget = db
        .prepare('SELECT p.target, min(p.success), max(p.success), max(m.packet_loss), min(m.packet_loss), max(m.ttl) FROM pings p JOIN ping_metadata m USING (ts, target) GROUP BY p.target ORDER BY p.target')
        .raw()
        .all();
      const want: unknown[][] = [
        ['127.0.0.1', 1, 1, 0, 0, 64],
        ['::1', 1, 1, 0, 0, 64],
        [`tcp://127.0.0.1:${closedPort}`, 0, 0, 100, 100, null],
        [`tcp://127.0.0.1:${openPort}`, 1, 1, 0, 0, null],
      ];
      expect(perTarget).toEqual(want.sort((a, b) => (String(a[0]) < String(b[0]) ? -1 : 1)));
      expect(db.prepare('SELECT DISTINCT kind, error FROM ping_probes').raw().all()).toEqual([['tcp', 'connect: ECONNREFUSED']]);
    } finally {
      db.close();
    }
  });

  it('as an unprivileged user: raw sockets are refused, so ICMP goes through fping with TTLs by oping, and says why', async () => {
    const dir = tempDir('netwatch-e2e-fping-');
    // User nobody without CAP_NET_RAW; it keeps only the file-access capabilities, so it can read the checkout and
    // write the data directory wherever they are (fping then gets cap_net_raw from its own file capability).
    const asNobody = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=+dac_read_search,+dac_override', '--ambient-caps=+dac_read_search,+dac_override', '--'];
    const svc = await startServe(['--listen', '127.0.0.1:0', '--data-dir', dir, ...PROBE, '--ping', '127.0.0.1', '--ping', '::1'], asNobody);
    try {
      const chosen = svc.logs().find((l) => l.icmp);
      expect(chosen).toMatchObject({
        icmp: 'fping',
        tried: [
          { mechanism: 'raw', ok: false, why: 'cannot open a raw ICMP socket: Operation not permitted (needs root or CAP_NET_RAW)' },
          { mechanism: 'datagram', ok: false },
          { mechanism: 'fping', ok: true },
        ],
        ttl: { v4: 'oping', v6: 'oping', tried: [{ tool: 'oping', ok: true }] },
      });
      expect(chosen!.msg).toMatch(/^pings: ICMP echo by fping, oping for TTL and hop limits: /);
      await new Promise((r) => setTimeout(r, 1600));
    } finally {
      expect(await stopServe(svc)).toBe(0);
    }
    const db = new Database(path.join(dir, 'netwatch.db'), { readonly: true });
    try {
      const rows = db.prepare('SELECT target, min(success), count(*) >= 2, min(m.ttl), max(m.ttl) FROM pings JOIN ping_metadata m USING (ts, target) GROUP BY target ORDER BY target').raw().all();
      expect(rows).toEqual([
        ['127.0.0.1', 1, 1, 64, 64],
        ['::1', 1, 1, 64, 64],
      ]);
    } finally {
      db.close();
    }
  });

  const NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=+dac_read_search,+dac_override', '--ambient-caps=+dac_read_search,+dac_override', '--'];
  it.each([
    ['as root with --ping-icmp fping', [], ['--ping-icmp', 'fping'], 'fping, oping for TTL and hop limits'],
    ['as root with --ping-ttl ping', [], ['--ping-ttl', 'ping'], 'raw (IPv4), ping(8) for IPv6 hop limits'],
    ['as nobody with --ping-ttl ping', NOBODY, ['--ping-ttl', 'ping'], 'fping, ping(8) for TTL and hop limits'],
  ])('%s: TTL 64 and hop limit 64 from loopback in SQLite', async (_name, wrap, flags, label) => {
    const dir = tempDir('netwatch-e2e-ttl-');
    const svc = await startServe(['--listen', '127.0.0.1:0', '--data-dir', dir, ...PROBE, ...flags, '--ping', '127.0.0.1', '--ping', '::1'], wrap);
    try {
      expect(String(svc.logs().find((l) => l.icmp)!.msg)).toMatch(new RegExp(`^pings: ICMP echo by ${label.replace(/[()]/g, '\\$&')}: `));
      await new Promise((r) => setTimeout(r, 1600));
    } finally {
      expect(await stopServe(svc)).toBe(0);
    }
    const db = new Database(path.join(dir, 'netwatch.db'), { readonly: true });
    try {
      const rows = db.prepare('SELECT target, min(ttl), max(ttl), count(*) >= 2 FROM ping_metadata GROUP BY target ORDER BY target').raw().all();
      expect(rows).toEqual([
        ['127.0.0.1', 64, 64, 1],
        ['::1', 64, 64, 1],
      ]);
    } finally {
      db.close();
    }
  });

  it('exits 2 naming the flag when a target is malformed', async () => {
    const r = runSync(['serve', '--ping', 'tcp://127.0.0.1']);
    expect([r.code, r.stderr.trim()]).toEqual([2, 'netwatch-ingest serve: --ping: "tcp://127.0.0.1": expected tcp://HOST:PORT with a port from 1 to 65535 (got "tcp://127.0.0.1")']);
  });
});
