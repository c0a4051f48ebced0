/**
 * Flows through the built `netwatch-ingest`, as a user runs it: `serve --interface lo` capturing real packets
 * with libpcap (CI runs as root), `serve --pcap` replaying a shared capture, the snapshot surviving a restart,
 * and the offline `flows` command's exit codes and messages. Real processes, real sockets, the HTTP API.
 */
import dgram from 'node:dgram';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describeWithData, hasTestData, testDataPath } from '../ingest/src/testing/data';
import { floodUdp } from '../ingest/src/testing/udp-flood';
import { runSync as run, startServe as serve, stop, tempDir, waitFor } from './harness';

const PCAP = testDataPath('pcap');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const runSync = (args: string[]) => run(args, { timeoutMs: 30_000 });

const startServe = (args: string[], nodeArgs: string[] = []) => serve(['--listen', '127.0.0.1:0', '--log-level', 'info', ...args], { nodeArgs });

type Row = Record<string, unknown>;

async function query(url: string, q: Record<string, unknown>, range = { from: 'now-1h', to: 'now' }): Promise<Array<{ name?: string; rows: Row[]; labels: unknown }>> {
  const res = await fetch(`${url}/api/v1/query`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...range, queries: [{ refId: 'A', ...q }] }) });
  const body = (await res.json()) as { results: { A: { frames?: Array<{ schema: { name?: string; fields: Array<{ name: string; labels?: unknown }> }; data: { values: unknown[][] } }>; error?: unknown } } };
  const r = body.results.A;
  if (!r.frames) throw new Error(`query failed: ${JSON.stringify(r.error)}`);
  return r.frames.map((f) => {
    const names = f.schema.fields.map((x) => x.name);
    const n = f.data.values[0]?.length ?? 0;
    return { name: f.schema.name, labels: f.schema.fields[1]?.labels, rows: Array.from({ length: n }, (_, i) => Object.fromEntries(names.map((k, j) => [k, f.data.values[j][i]]))) };
  });
}

const until = <T>(what: string, fn: () => Promise<T | undefined>) => waitFor(what, fn, 8000);

const pick = (r: Row, keys: string[]) => Object.fromEntries(keys.map((k) => [k, r[k]]));
const KEYS = ['src_ip', 'src_port', 'dst_ip', 'dst_port', 'protocol', 'packets', 'bytes', 'packets_rev', 'bytes_rev', 'state'];

describe('serve --interface lo (live libpcap capture)', () => {
  it('captures UDP and TCP sent to 127.0.0.1 by this test and serves them as flows over HTTP', async () => {
    // The listeners come first: their ports make the BPF filter, so other traffic on lo stays out.
    const server = dgram.createSocket('udp4');
    await new Promise<void>((r) => server.bind(0, '127.0.0.1', r));
    const client = dgram.createSocket('udp4');
    await new Promise<void>((r) => client.bind(0, '127.0.0.1', r));
    const udpServer = server.address().port;
    const udpClient = client.address().port;
    server.on('message', (msg, from) => server.send(Buffer.alloc(200, 1), from.port, from.address));
    const tcp = net.createServer((s) => {
      s.on('data', () => s.end('pong'));
    });
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
    const tcpPort = (tcp.address() as net.AddressInfo).port;

    const dir = tempDir('netwatch-live-');
    const svc = await startServe(['--data-dir', dir, '--interface', 'lo', '--bpf', `udp port ${udpServer} or tcp port ${tcpPort}`]);
    try {
      await sleep(300);
      // 5 datagrams of 100 bytes, each answered with 200: on lo (Ethernet framing) a frame is 14 + 20 + 8 + payload.
      for (let i = 0; i < 5; i++) {
        await new Promise<void>((r) => client.send(Buffer.alloc(100, 2), udpServer, '127.0.0.1', () => r()));
        await sleep(10);
      }
      const tcpClientPort = await new Promise<number>((resolve, reject) => {
        const c = net.connect({ host: '127.0.0.1', port: tcpPort }, () => c.write('ping'));
        const port = () => c.localPort!;
        c.on('data', () => undefined);
        c.on('end', () => {
          c.end();
          resolve(port());
        });
        c.on('error', reject);
      });

      const udp = await until('the UDP flow with its 5 answers', async () => {
        const [f] = await query(svc.url, { kind: 'flows', port: String(udpServer), protocol: 'udp' });
        const r = f.rows[0];
        return r && r.packets_rev === 5 ? f.rows : undefined;
      });
      expect(udp.map((r) => pick(r, KEYS))).toEqual([
        { src_ip: '127.0.0.1', src_port: udpClient, dst_ip: '127.0.0.1', dst_port: udpServer, protocol: 'udp', packets: 5, bytes: 5 * 142, packets_rev: 5, bytes_rev: 5 * 242, state: 'active' },
      ]);

      const tcpRows = await until('the TCP connection, closed both ways', async () => {
        const [f] = await query(svc.url, { kind: 'flows', port: String(tcpPort), protocol: 'tcp' });
        return f.rows.length === 1 && f.rows[0].state === 'closed' ? f.rows : undefined;
      });
      const t = tcpRows[0];
      expect(pick(t, ['src_ip', 'src_port', 'dst_ip', 'dst_port', 'protocol', 'state'])).toEqual({ src_ip: '127.0.0.1', src_port: tcpClientPort, dst_ip: '127.0.0.1', dst_port: tcpPort, protocol: 'tcp', state: 'closed' });
      // SYN, ACK, data, FIN at least from the client; SYN-ACK, data, FIN from the server; 4 payload bytes each way.
      expect(t.packets as number).toBeGreaterThanOrEqual(4);
      expect(t.packets_rev as number).toBeGreaterThanOrEqual(3);
      expect(t.bytes as number).toBeGreaterThanOrEqual(4 * 66 + 4);
      expect(t.bytes_rev as number).toBeGreaterThanOrEqual(3 * 66 + 4);

      const stats = (await (await fetch(`${svc.url}/api/v1/stats`)).json()) as { components: { flows: Record<string, unknown> } };
      expect(stats.components.flows).toMatchObject({ live_captures: 1, decode_errors: 0, table_flows: 2 });
      expect(stats.components.flows.packets_seen as number).toBeGreaterThanOrEqual(17);
      const values = (await (await fetch(`${svc.url}/api/v1/values/top_ports`)).json()) as { values: string[] };
      expect(values.values).toEqual(expect.arrayContaining([String(udpServer), String(tcpPort)]));
      const ifaces = (await (await fetch(`${svc.url}/api/v1/values/interfaces`)).json()) as { values: string[] };
      expect(ifaces.values).toContain('lo');
    } finally {
      expect(await stop(svc)).toBe(0);
      client.close();
      server.close();
      tcp.close();
    }
  });

  it("reports the kernel's received and dropped counters in stats, health and system_metrics: none while it keeps up, drops while the service is stopped", async () => {
    const rx = dgram.createSocket('udp4');
    rx.on('message', () => undefined);
    await new Promise<void>((r) => rx.bind(0, '127.0.0.1', r));
    const port = rx.address().port;
    const dir = tempDir('netwatch-live-');
    const svc = await startServe(['--data-dir', dir, '--interface', 'lo', '--bpf', `udp dst port ${port}`, '--capture-buffer', '4']);
    const flowStats = async () => ((await (await fetch(`${svc.url}/api/v1/stats`)).json()) as { components: { flows: Record<string, number | string | null> } }).components.flows;
    const health = async () => (await (await fetch(`${svc.url}/api/v1/health`)).json()) as { status: string; components: { flows: { state: string; detail: string } } };
    try {
      const tx = dgram.createSocket('udp4');
      for (let i = 0; i < 50; i++) {
        await new Promise<void>((r) => tx.send(Buffer.alloc(100, 3), port, '127.0.0.1', () => r()));
        await sleep(2);
      }
      tx.close();
      const calm = await until('the 50 datagrams captured', async () => {
        const f = await flowStats();
        return f.interface_lo_packets_captured === 50 ? f : undefined;
      });
      // lo hands the packet socket each datagram twice (outgoing and incoming); libpcap keeps the incoming one.
      expect(calm).toMatchObject({ packets_dropped: 0, interface_lo_kernel_dropped: 0, interface_lo_kernel_ring_freezes: null, packets_seen: 50 });
      expect(calm.packets_received_kernel).toBe(calm.interface_lo_kernel_received);
      expect(calm.packets_received_kernel as number).toBeGreaterThanOrEqual(100);
      expect(calm).not.toHaveProperty('packets_dropped_reason');
      expect((await health()).components.flows.state).toBe('ok');

      // Stopped, the service drains nothing: the capture ring fills and the kernel drops the rest.
      svc.child.kill('SIGSTOP');
      const flood = floodUdp(port, 20000, 200, 30_000);
      svc.child.kill('SIGCONT');
      expect(flood).toBe('20000');
      const f = await until('the drops in the stats, the ring drained', async () => {
        const x = await flowStats();
        return (x.packets_dropped as number) > 0 && x.packets_seen === (await flowStats()).packets_seen ? x : undefined;
      });
      const dropped = f.packets_dropped as number;
      expect(dropped).toBeGreaterThan(1000);
      expect(f.interface_lo_kernel_dropped).toBe(dropped);
      expect(f.packets_received_kernel as number).toBeGreaterThanOrEqual((f.interface_lo_packets_captured as number) + dropped);
      expect(f.packets_received_kernel as number).toBeLessThanOrEqual(2 * 20_050 + 200);
      const h = await health();
      expect(h.status).toBe('degraded');
      expect(h.components.flows).toEqual({ state: 'degraded', detail: expect.stringMatching(/^capturing on lo, the kernel dropping packets \(\d+ dropped of \d+\)/) });

      // The same counters through the query protocol's stats kind, and as a rate in system_metrics.
      const [frame] = await query(svc.url, { kind: 'stats', source: ['flows'] });
      const byName = Object.fromEntries(frame.rows.map((r) => [r.name, r.value]));
      expect({ dropped: byName.packets_dropped, lo: byName.interface_lo_kernel_dropped }).toEqual({ dropped, lo: dropped });
      const grown = await until('capture_dropped in system_metrics', async () => {
        const frames = await query(svc.url, { kind: 'system_metrics', metric: ['capture_dropped'], aggregate: 'sum', intervalMs: 3_600_000 }, { from: 'now-10m', to: 'now' });
        const n = frames.flatMap((x) => x.rows).reduce((t, r) => t + ((r.capture_dropped as number | null) ?? 0), 0);
        return n === dropped ? n : undefined;
      });
      expect(grown).toBe(dropped);
      expect(svc.stderr()).toMatch(/"dropped":\d+[^\n]*the kernel dropped captured packets: the capture ring was full/);
      expect(svc.stderr()).toMatch(/"interface":"lo"[^\n]*"bufferMiB":4[^\n]*live capture started/);
    } finally {
      svc.child.kill('SIGCONT');
      expect(await stop(svc)).toBe(0);
      rx.close();
    }
  });

  it('reports the kernel counters as null with the reason when the packet-stats addon is missing, never as 0', async () => {
    const dir = tempDir('netwatch-live-');
    // What a machine without a C compiler gets: npm ci skips the optional addon, and require() cannot find it.
    const hide = path.join(dir, 'hide-packet-stats.js');
    writeFileSync(
      hide,
      `const Module = require('node:module');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (request === '@netwatch/packet-stats') throw Object.assign(new Error("Cannot find module '" + request + "'"), { code: 'MODULE_NOT_FOUND' });
  return resolve.call(this, request, ...rest);
};
`,
    );
    const svc = await startServe(['--data-dir', dir, '--interface', 'lo', '--bpf', 'udp dst port 9'], ['--require', hide]);
    try {
      const stats = (await (await fetch(`${svc.url}/api/v1/stats`)).json()) as { components: { flows: Record<string, unknown> } };
      expect(stats.components.flows).toMatchObject({
        packets_received_kernel: null,
        packets_dropped: null,
        packets_dropped_reason: "lo: the @netwatch/packet-stats addon is not available (Cannot find module '@netwatch/packet-stats'); it builds at npm ci with a C compiler",
        interface_lo_kernel_received: null,
        interface_lo_kernel_dropped: null,
        interface_lo_packets_captured: 0,
      });
      expect(svc.stderr()).toMatch(/kernel drop counters unavailable: the @netwatch\/packet-stats addon is not available/);
    } finally {
      expect(await stop(svc)).toBe(0);
    }
  });

  it('refuses to start on an interface that does not exist, in one line', async () => {
    const dir = tempDir('netwatch-live-');
    const r = run(['serve', '--listen', '127.0.0.1:0', '--data-dir', dir, '--interface', 'nosuch0', '--log-level', 'silent'], { timeoutMs: 15_000 });
    expect(r.code).toBe(1);
    // One line: no libpcap warning before it, no native assertion after it (cap aborts on a failed open it later closes).
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^netwatch-ingest serve: cannot capture on nosuch0: no such interface \(known: .*\blo\b/)]);
  });
});

describeWithData('serve --pcap (replay) and the flow snapshot', () => {
  it('replays a capture as "now", serves flows, series and top talkers, and keeps them across a restart', async () => {
    const dir = tempDir('netwatch-replay-');
    const file = path.join(PCAP, 'zeek_sshguess.pcap');
    const svc = await startServe(['--data-dir', dir, '--pcap', file, '--replay-speed', 'max']);
    let flowsBefore: Row[];
    try {
      flowsBefore = await until('the replayed flows', async () => {
        const [f] = await query(svc.url, { kind: 'flows', limit: 100 });
        return f.rows.length === 11 ? f.rows : undefined;
      });
      // zeek_sshguess.pcap: 11 SSH connections, 431 packets (reference/SUMMARY.tsv), all to port 22.
      expect(flowsBefore.reduce((n, r) => n + (r.packets as number) + (r.packets_rev as number), 0)).toBe(431);
      expect(new Set(flowsBefore.map((r) => r.dst_port))).toEqual(new Set([22]));
      const series = await query(svc.url, { kind: 'flow_series', metric: 'packets', intervalMs: 60_000 });
      expect(series).toHaveLength(1);
      expect(series[0].rows.reduce((n, r) => n + (r.packets as number) * 60, 0)).toBeCloseTo(431, 6);
      const talkers = await query(svc.url, { kind: 'top_talkers', groupBy: 'dst_port' });
      expect(talkers[0].rows.map((r) => pick(r, ['dst_port', 'packets', 'flows']))).toEqual([{ dst_port: 22, packets: 431, flows: 11 }]);
    } finally {
      expect(await stop(svc)).toBe(0);
    }
    expect(svc.stderr()).toMatch(/flow snapshot written/);
    expect(existsSync(path.join(dir, 'flows.snapshot'))).toBe(true);

    const again = await startServe(['--data-dir', dir]);
    try {
      expect(again.stderr()).toMatch(/"flows":11[^\n]*flow snapshot loaded/);
      const [f] = await query(again.url, { kind: 'flows', limit: 100 });
      const ids = (rows: Row[]) => rows.map((r) => pick(r, ['src_ip', 'src_port', 'dst_ip', 'dst_port', 'packets', 'bytes', 'packets_rev', 'bytes_rev', 'first_seen', 'last_seen'])).sort((a, b) => (a.src_port as number) - (b.src_port as number));
      expect(ids(f.rows)).toEqual(ids(flowsBefore!));
    } finally {
      expect(await stop(again)).toBe(0);
    }

    // A damaged snapshot is ignored with a warning, and the service starts empty.
    const snap = path.join(dir, 'flows.snapshot');
    const bytes = readFileSync(snap);
    bytes[bytes.length - 5] ^= 0xff;
    writeFileSync(snap, bytes);
    const third = await startServe(['--data-dir', dir]);
    try {
      expect(third.stderr()).toMatch(/fails its CRC-32 check; starting with an empty flow table/);
      const [f] = await query(third.url, { kind: 'flows' });
      expect(f.rows).toEqual([]);
    } finally {
      expect(await stop(third)).toBe(0);
    }
  });

  it('refuses a --pcap file that is not a capture, in one line', () => {
    const dir = tempDir('netwatch-replay-');
    const r = run(['serve', '--listen', '127.0.0.1:0', '--data-dir', dir, '--pcap', path.join(PCAP, 'PROVENANCE.tsv'), '--log-level', 'silent'], { timeoutMs: 15_000 });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/PROVENANCE\.tsv: not a pcap or pcapng capture/)]);
  });
});

describeWithData('netwatch-ingest flows (offline)', () => {
  const tmp = hasTestData() ? tempDir('netwatch-flows-') : '';

  it('documents its flags in --help', () => {
    const r = runSync(['flows', '--help']);
    expect(r.code).toBe(0);
    for (const flag of ['--format', '--cidr', '--src-cidr', '--dst-cidr', '--port', '--src-port', '--dst-port', '--protocol', '--idle-timeout', '--max-flows']) expect(r.stdout).toContain(flag);
  });

  it('prints one JSON object per line with the fields of the issue, filtered by CIDR, port and protocol', () => {
    const r = runSync(['flows', '--format', 'json', '--cidr', '141.142.228.5/32', '--port', '80', '--protocol', 'tcp', path.join(PCAP, 'zeek_http-vlan-0.pcap')]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    const flows = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(flows).toEqual([
      {
        src_ip: '141.142.228.5',
        src_port: 59856,
        dst_ip: '192.150.187.43',
        dst_port: 80,
        protocol: 6,
        packets: 7,
        bytes: 638,
        packets_rev: 7,
        bytes_rev: 5505,
        first_seen: 1362692526869,
        last_seen: 1362692527080,
        tcp_flags: 0x1b,
        tcp_flags_rev: 0x1b,
        state: 'closed',
      },
    ]);
    // reference/zeek_http-vlan-0.tcpudp_flows.tsv: 7 packets / 638 frame bytes one way, 7 / 5505 the other.
    const ref = readFileSync(path.join(PCAP, 'reference', 'zeek_http-vlan-0.tcpudp_flows.tsv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split('\t'));
    expect(ref.map((x) => [Number(x[5]), Number(x[7])])).toEqual([
      [7, 638],
      [7, 5505],
    ]);
  });

  it('prints CSV with a header, and a table', () => {
    const file = path.join(PCAP, 'zeek_icmp.pcap');
    const csv = runSync(['flows', '--format', 'csv', file]);
    expect(csv.stdout.trim().split('\n')).toEqual([
      'src_ip,src_port,dst_ip,dst_port,protocol,packets,bytes,packets_rev,bytes_rev,first_seen,last_seen,tcp_flags,tcp_flags_rev,state',
      '192.168.0.89,8,192.168.0.1,0,1,8,592,4,296,1309144887024,1309144890030,0,0,active',
    ]);
    const table = runSync(['flows', file]).stdout.trim().split('\n');
    expect(table).toHaveLength(2);
    expect(table[0]).toMatch(/^SRC\s+SPORT\s+DST\s+DPORT\s+PROTO\s+PACKETS\s+BYTES\s+PKTS_REV\s+BYTES_REV\s+FIRST_SEEN\s+LAST_SEEN\s+STATE$/);
    expect(table[1].split(/\s+/)).toEqual(['192.168.0.89', '8', '192.168.0.1', '0', 'icmp', '8', '592', '4', '296', '2011-06-27T03:21:27.024Z', '2011-06-27T03:21:30.030Z', 'active']);
  });

  it('prints the same bytes with the reader thread (--threads 2) as on one thread, for every shared capture and all of them at once', () => {
    const captures = readdirSync(PCAP).filter((f) => /\.pcap(ng)?$/.test(f)).map((f) => path.join(PCAP, f));
    for (const args of [...captures.map((f) => [f]), captures]) {
      for (const format of ['json', 'csv']) {
        const one = runSync(['flows', '--format', format, '--threads', '1', ...args]);
        const two = runSync(['flows', '--format', format, '--threads', '2', ...args]);
        expect({ args, format, code: two.code, stdout: two.stdout, stderr: two.stderr }).toEqual({ args, format, code: 0, stdout: one.stdout, stderr: one.stderr });
        expect(one.stdout.length).toBeGreaterThan(0);
      }
    }
  });

  it('prints what a truncated file holds, warns, and exits 0', () => {
    const whole = readFileSync(path.join(PCAP, 'zeek_sshguess.pcap'));
    const cut = path.join(tmp, 'cut.pcap');
    writeFileSync(cut, whole.subarray(0, 40_000));
    const r = runSync(['flows', '--format', 'json', cut]);
    expect(r.code).toBe(0);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^netwatch-ingest flows: warning: .*cut\.pcap: truncated record at byte \d+; printed the flows of the \d+ packets before it$/)]);
    const packets = r.stdout.trim().split('\n').map((l) => JSON.parse(l)).reduce((n, f) => n + f.packets + f.packets_rev, 0);
    expect(packets).toBe(Number(/the (\d+) packets/.exec(r.stderr)![1]));
    expect(packets).toBeGreaterThan(100);
  });

  it.each([
    [['flows', 'PROVENANCE.tsv'], 1, /^netwatch-ingest flows: .*PROVENANCE\.tsv: not a pcap or pcapng capture \(magic 0x[0-9a-f]{8}\)$/],
    [['flows', 'no-such.pcap'], 1, /^netwatch-ingest flows: .*no-such\.pcap: no such file$/],
    [['flows', 'reference'], 1, /^netwatch-ingest flows: .*reference: is a directory, not a capture file$/],
    [['flows', '--format', 'xml', 'zeek_icmp.pcap'], 2, /^netwatch-ingest flows: --format: expected table, json or csv/],
    [['flows', '--cidr', '10.0.0.0/33', 'zeek_icmp.pcap'], 2, /^netwatch-ingest flows: --cidr: /],
    [['flows', '--idle-timeout', 'soon', 'zeek_icmp.pcap'], 2, /^netwatch-ingest flows: --idle-timeout: expected seconds/],
    [['flows', '--bogus', 'zeek_icmp.pcap'], 2, /^netwatch-ingest flows: unknown flag --bogus/],
  ])('%j exits %d with one line and no stack trace', (args, code, message) => {
    // The last argument names a file of the shared collection.
    const r = runSync([...args.slice(0, -1), path.join(PCAP, args[args.length - 1])]);
    expect(r.code).toBe(code);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(message)]);
  });
});
