/**
 * The flows component wired as main.ts wires it, with a real API registry, Prometheus registry and data dir:
 * the sink feeds the decoder and table, the kinds and value lists answer, the snapshot is written at stop and
 * read at start, and a damaged one is reported and ignored. (Live capture and replay through the real service
 * are in test/flows.test.ts.)
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { ApiRegistry } from '../api/registry';
import type { ComponentDeps } from '../component';
import { loadConfig } from '../config/load';
import { normalizeQuery } from '../protocol';
import { rows } from './test-packets';
import { createFlowComponent, SNAPSHOT_FILE } from './component';

const NOW = Date.UTC(2024, 0, 1, 12);

/** An Ethernet/IPv4/UDP frame: 14 + 20 + 8 header bytes and `payload` zero bytes. */
function udpFrame(src: string, sport: number, dst: string, dport: number, payload: number): Buffer {
  const b = Buffer.alloc(42 + payload);
  b.writeUInt16BE(0x0800, 12);
  b[14] = 0x45;
  b.writeUInt16BE(28 + payload, 16);
  b[23] = 17;
  src.split('.').forEach((x, i) => (b[26 + i] = Number(x)));
  dst.split('.').forEach((x, i) => (b[30 + i] = Number(x)));
  b.writeUInt16BE(sport, 34);
  b.writeUInt16BE(dport, 36);
  b.writeUInt16BE(8 + payload, 38);
  return b;
}

interface Logged {
  level: string;
  msg: string;
}

function setup(dataDir: string, flags: string[] = []) {
  const { config } = loadConfig({ argv: ['--data-dir', dataDir, ...flags], env: {} });
  const logged: Logged[] = [];
  const logger = {
    child: () => logger,
    info: (_o: unknown, msg: string) => logged.push({ level: 'info', msg }),
    warn: (o: unknown, msg?: string) => logged.push({ level: 'warn', msg: msg ?? String(o) }),
    error: (_o: unknown, msg: string) => logged.push({ level: 'error', msg }),
  };
  const api = new ApiRegistry();
  const metrics = new Registry();
  let now = NOW;
  const deps = { config, logger, store: null, api, metrics, events: null, now: () => now } as unknown as ComponentDeps;
  const flows = createFlowComponent(deps, { sweepIntervalMs: 60_000, snapshotIntervalMs: 60_000 });
  return { flows, api, metrics, logged, tick: (ms: number) => (now += ms) };
}

async function run(api: ApiRegistry, q: Record<string, unknown>) {
  const handler = api.kinds.get(q.kind as never)!;
  return handler(normalizeQuery({ refId: 'A', ...q }, 0), { fromMs: NOW - 3_600_000, toMs: NOW + 60_000, nowMs: NOW });
}

describe('createFlowComponent', () => {
  it('accounts frames handed to its sink and serves them through the flow kinds, value lists and stats', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'netwatch-flows-'));
    const { flows, api, metrics } = setup(dir);
    await flows.component.start();
    const frame = udpFrame('10.0.0.1', 5353, '10.0.0.2', 53, 58);
    for (let i = 0; i < 3; i++) flows.sink(1, frame, frame.length, frame.length, (NOW - 1000 + i) * 1000);
    const answer = udpFrame('10.0.0.2', 53, '10.0.0.1', 5353, 158);
    flows.sink(1, answer, answer.length, answer.length, NOW * 1000);
    // A frame cut inside its IP header is counted as a decode error, not accounted.
    flows.sink(1, frame, 20, frame.length, NOW * 1000);

    const [table] = await run(api, { kind: 'flows', cidr: '10.0.0.0/24', port: '53' });
    expect(rows(table).map(({ first_seen: _f, last_seen: _l, ...r }) => r)).toEqual([
      { src_ip: '10.0.0.1', src_port: 5353, dst_ip: '10.0.0.2', dst_port: 53, protocol: 'udp', packets: 3, bytes: 300, packets_rev: 1, bytes_rev: 200, state: 'active' },
    ]);
    const talkers = await run(api, { kind: 'top_talkers', groupBy: 'dst_port' });
    expect(rows(talkers[0])).toEqual([{ dst_port: 53, bytes: 500, packets: 4, flows: 1 }]);
    const series = await run(api, { kind: 'flow_series', metric: 'packets', intervalMs: 60_000 });
    expect(series.flatMap((f) => rows(f)).reduce((n, r) => n + (r.packets as number) * 60, 0)).toBe(4);
    expect(await api.values.get('top_ports')!()).toEqual(['53']);
    expect(await api.values.get('top_talkers')!()).toEqual(['10.0.0.1', '10.0.0.2']);

    expect(flows.captureCounters()).toEqual({ packets: 5, bytes: 500 + frame.length, flowsActive: 1, dropped: 0, captureErrors: 1 });
    const stats = api.stats().flows;
    expect(stats).toMatchObject({ packets_seen: 5, packets_decoded: 4, decode_errors: 1, skipped_truncated_ip: 1, table_flows: 1, table_max_flows: 1_000_000, evictions: 0, packets_dropped: 0 });
    expect(api.health().flows).toEqual({ state: 'ok', detail: '1 flows, 0.0 % of 1000000' });
    expect(await metrics.getSingleMetricAsString('netwatch_flow_table_warning')).toMatch(/netwatch_flow_table_warning 0$/);
    await flows.component.stop();
  });

  it('writes the snapshot at stop and restores the flows at the next start', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'netwatch-flows-'));
    const first = setup(dir);
    await first.flows.component.start();
    const frame = udpFrame('192.0.2.7', 40000, '198.51.100.1', 123, 48);
    first.flows.sink(1, frame, frame.length, frame.length, NOW * 1000);
    await first.flows.component.stop();
    const before = rows((await run(first.api, { kind: 'flows' }))[0]);

    const second = setup(dir);
    await second.flows.component.start();
    expect(rows((await run(second.api, { kind: 'flows' }))[0])).toEqual(before);
    expect(second.api.stats().flows).toMatchObject({ snapshot_loaded_flows: 1, table_flows: 1 });
    expect(second.logged).toContainEqual({ level: 'info', msg: 'flow snapshot loaded' });
    await second.flows.component.stop();
  });

  it.each([
    ['cut short', (b: Buffer) => b.subarray(0, b.length - 7), /has \d+ bytes where its header announces \d+/],
    ['with a flipped byte', (b: Buffer) => Buffer.from(b.map((x, i) => (i === 70 ? x ^ 0x40 : x))), /fails its CRC-32 check/],
  ])('starts empty with a warning when the snapshot is %s', async (_name, damage, reason) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'netwatch-flows-'));
    const first = setup(dir);
    await first.flows.component.start();
    const frame = udpFrame('192.0.2.7', 40000, '198.51.100.1', 123, 48);
    first.flows.sink(1, frame, frame.length, frame.length, NOW * 1000);
    await first.flows.component.stop();
    const file = path.join(dir, SNAPSHOT_FILE);
    writeFileSync(file, damage(readFileSync(file)));

    const second = setup(dir);
    await second.flows.component.start();
    expect(second.flows.table.size).toBe(0);
    const warning = second.logged.find((l) => l.level === 'warn');
    expect(warning?.msg).toMatch(reason);
    expect(warning?.msg).toMatch(/starting with an empty flow table$/);
    await second.flows.component.stop();
  });

  it('refuses to start on a --pcap file that is not a capture, naming it', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'netwatch-flows-'));
    const notCapture = path.join(dir, 'notes.txt');
    writeFileSync(notCapture, 'hello, not a capture\n');
    const { flows } = setup(dir, ['--pcap', notCapture]);
    expect(() => flows.component.start()).toThrow(`${notCapture}: not a pcap or pcapng capture (magic 0x68656c6c)`);
  });

  it('logs and reports the table at 80 % full, and evicts at --max-flows', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'netwatch-flows-'));
    const { flows, api, metrics, logged } = setup(dir, ['--max-flows', '1000']);
    await flows.component.start();
    for (let i = 0; i < 1200; i++) {
      const f = udpFrame(`10.1.${i >> 8}.${i & 255}`, 1000, '10.0.0.1', 53, 10);
      flows.sink(1, f, f.length, f.length, (NOW + i) * 1000);
    }
    expect(logged.filter((l) => l.level === 'warn').map((l) => l.msg)).toEqual(['flow table is 80 % full; the oldest idle flows will be evicted at capacity']);
    expect(await metrics.getSingleMetricAsString('netwatch_flow_table_warning')).toMatch(/netwatch_flow_table_warning 1$/);
    expect(api.stats().flows).toMatchObject({ table_flows: 1000, evictions: 200, table_warning_80: true, table_fill_ratio: 1 });
    expect(api.health().flows.state).toBe('degraded');
    await flows.component.stop();
  });
});
