/**
 * Host metrics benchmark (`npm run bench -- metrics`):
 *  1. the cost of one collection round (µs) of every host collector, side by side with psutil (the library the
 *     storage design's Python original sampled with, same sources, in-process) and with `cat` reading the same
 *     /proc files (the kernel's cost of producing them plus one process start);
 *  2. the latency of a 24 h `system_metrics` query at 1-minute steps through the real HTTP API on a database
 *     holding a week of 10 s rows, side by side with the bare SQL GROUP BY of the same rows (target p50 <= 20 ms).
 * Figures go to docs/benchmarks.md, section `## metrics`.
 *
 * Options: --rounds=N collection rounds (default 300), --runs=N query repetitions (default 200).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { ApiRegistry } from '../src/api/registry';
import { buildApi } from '../src/api/server';
import { loadConfig } from '../src/config/load';
import { createLogger } from '../src/log';
import { createLogEventWriter } from '../src/logs/events';
import { CollectorRegistry, DEFAULT_HOST_PATHS } from '../src/metrics/collector';
import { createMetricsComponent } from '../src/metrics/component';
import { CpuCollector } from '../src/metrics/cpu';
import { DiskCollector } from '../src/metrics/disk';
import { LoadCollector } from '../src/metrics/load';
import { MemoryCollector } from '../src/metrics/memory';
import { NetworkCollector } from '../src/metrics/network';
import { Sample } from '../src/metrics/sample';
import { Store } from '../src/store';

const arg = (name: string, dflt: number) => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.slice(name.length + 3)) : dflt;
};
const ROUNDS = arg('rounds', 300);
const RUNS = arg('runs', 200);

function percentile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

console.log(`node ${process.version}, ${os.cpus().length} cores, load before: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);

// ---- 1. collection round ----
const p = DEFAULT_HOST_PATHS;
const collectors = [new CpuCollector(p), new MemoryCollector(p), new DiskCollector(p, { maxMounts: 32 }), new LoadCollector(p), new NetworkCollector(p, { maxInterfaces: 64 })];
const reg = new CollectorRegistry(collectors, collectors.map((c) => c.name));
const sample = new Sample();
for (let i = 0; i < 20; i++) reg.collect(sample);
const round: number[] = [];
const per: Record<string, number[]> = Object.fromEntries(collectors.map((c) => [c.name, []]));
for (let i = 0; i < ROUNDS; i++) {
  sample.clear(Date.now());
  const t0 = process.hrtime.bigint();
  reg.collect(sample);
  round.push(Number(process.hrtime.bigint() - t0) / 1e3);
  for (const s of reg.status()) per[s.name].push(s.lastDurationMs * 1000);
}
if (reg.status().some((s) => s.state !== 'ok')) throw new Error(`a collector failed: ${JSON.stringify(reg.status())}`);

// psutil: the same sources, one round in-process, timed by Python itself.
const PSUTIL = `
import os, sys, time, collections, psutil
n = int(sys.argv[1])
def cpu(): psutil.cpu_percent(None); psutil.cpu_count()
def memory(): psutil.virtual_memory()
def disk():
    for part in psutil.disk_partitions(all=False): psutil.disk_usage(part.mountpoint)
    psutil.disk_io_counters(perdisk=True)
def load(): os.getloadavg()
def network():
    psutil.net_io_counters(pernic=True)
    collections.Counter(c.status for c in psutil.net_connections('tcp'))
fns = [('cpu', cpu), ('memory', memory), ('disk', disk), ('load', load), ('network', network)]
for _ in range(20):
    for _, f in fns: f()
per = {k: [] for k, _ in fns}; rounds = []
for _ in range(n):
    t0 = time.perf_counter()
    for k, f in fns:
        a = time.perf_counter(); f(); per[k].append((time.perf_counter() - a) * 1e6)
    rounds.append((time.perf_counter() - t0) * 1e6)
med = lambda xs: sorted(xs)[len(xs) // 2]
print(psutil.__version__, med(rounds), *[med(per[k]) for k, _ in fns])
`;
let psutil: { version: string; round: number; per: number[] } | undefined;
try {
  const out = execFileSync('/usr/bin/python3', ['-c', PSUTIL, String(ROUNDS)], { encoding: 'utf8' }).trim().split(' ');
  psutil = { version: out[0], round: Number(out[1]), per: out.slice(2).map(Number) };
} catch (err) {
  console.log(`psutil reference not run: ${(err as Error).message.split('\n')[0]} (apt-get install python3-psutil)`);
}

// cat: one process per round reading the files the collectors read, in a shell loop (no Node spawn in the timing).
const FILES = ['/proc/stat', '/proc/meminfo', '/proc/self/mounts', '/proc/diskstats', '/proc/loadavg', '/proc/net/dev', '/proc/net/tcp', '/proc/net/tcp6'];
const CAT_N = Math.min(ROUNDS, 200);
const catMs = Number(
  execFileSync('bash', ['-c', `s=$(date +%s%N); for i in $(seq ${CAT_N}); do cat ${FILES.join(' ')} > /dev/null; done; e=$(date +%s%N); echo $(( (e - s) / 1000 ))`], { encoding: 'utf8' }).trim(),
) / CAT_N;
// The TCP tables alone: the kernel walks its socket hash for every read of them, whoever reads.
const catTcp = Number(
  execFileSync('bash', ['-c', `s=$(date +%s%N); for i in $(seq ${CAT_N}); do cat /proc/net/tcp /proc/net/tcp6 > /dev/null; done; e=$(date +%s%N); echo $(( (e - s) / 1000 ))`], { encoding: 'utf8' }).trim(),
) / CAT_N;

const med = (xs: number[]) => percentile(xs, 0.5);
const fmt = (us: number) => us.toFixed(0).padStart(8);
console.log(`\ncollection round, p50 over ${ROUNDS} rounds (µs):`);
console.log(`| collector | netwatch | psutil ${psutil?.version ?? '-'} | netwatch / psutil |`);
console.log('| --- | ---: | ---: | ---: |');
collectors.forEach((c, i) => {
  const ours = med(per[c.name]);
  const ref = psutil?.per[i];
  console.log(`| ${c.name} | ${fmt(ours)} | ${ref === undefined ? '-' : fmt(ref)} | ${ref === undefined ? '-' : (ours / ref).toFixed(2)} |`);
});
const whole = med(round);
console.log(`| **whole round** | ${fmt(whole)} | ${psutil ? fmt(psutil.round) : '-'} | ${psutil ? (whole / psutil.round).toFixed(2) : '-'} |`);
console.log(`round p99: ${percentile(round, 0.99).toFixed(0)} µs`);
console.log(`cat of the same ${FILES.length} files, one process per round: ${catMs.toFixed(0)} µs (netwatch / cat = ${(whole / catMs).toFixed(2)}); cat /proc/net/tcp /proc/net/tcp6 alone: ${catTcp.toFixed(0)} µs`);

// ---- 2. 24 h query on a week of 10 s rows ----
async function queryBench(): Promise<void> {
const dir = mkdtempSync(path.join(os.tmpdir(), 'netwatch-bench-metrics-'));
try {
  const store = Store.open({ path: path.join(dir, 'netwatch.db') });
  const WEEK = 7 * 86_400;
  const nowSec = Math.floor(Date.now() / 1000 / 10) * 10;
  const t0 = process.hrtime.bigint();
  const insS = store.db.prepare(
    'INSERT INTO system_metrics (ts, cpu_percent, cpu_count, memory_total, memory_available, memory_percent, disk_total, disk_used, disk_percent, disk_read_bytes, disk_write_bytes, load_1, load_5, load_15) VALUES (?, ?, 2, 25275973632, ?, ?, 270553174016, 25831550976, 23.7, ?, ?, ?, ?, ?)',
  );
  const insN = store.db.prepare('INSERT INTO network_metrics (ts, interface, bytes_sent, bytes_recv, packets_sent, packets_recv, errin, errout, dropin, dropout, connections_established, connections_listen, connections_time_wait) VALUES (?, ?, ?, ?, ?, ?, 0, 0, 0, 0, ?, ?, ?)');
  const insD = store.db.prepare('INSERT INTO disk_metrics (ts, mount, disk_total, disk_used, disk_percent, disk_read_bytes, disk_write_bytes) VALUES (?, ?, 270553174016, ?, ?, ?, ?)');
  const insC = store.db.prepare('INSERT INTO cpu_metrics (ts, cpu, cpu_percent) VALUES (?, ?, ?)');
  let rows = 0;
  let labelled = 0;
  store.db.transaction(() => {
    let x = 1;
    for (let ts = nowSec - WEEK; ts < nowSec; ts += 10) {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      const f = x / 2 ** 31;
      const i = (ts - nowSec + WEEK) / 10;
      insS.run(ts, f * 100, 2e10 * (1 - f / 2), 50 * f, i * 4096, i * 8192, f * 2, f * 1.5, f);
      for (const name of ['', 'eth0', 'lo']) insN.run(ts, name, i * 1500, i * 9000, i * 10, i * 12, Math.floor(f * 40), 5, Math.floor(f * 10));
      for (const mount of ['/', '/var']) insD.run(ts, mount, 2.5e10 + i * 4096, 9.5 + f, i * 4096, i * 8192);
      for (const cpu of [0, 1]) insC.run(ts, cpu, (f * 100 + cpu * 37) % 100);
      rows += 4;
      labelled += 4;
    }
  })();
  console.log(`\ndatabase: a week of 10 s rows (${rows} rows in system_metrics and network_metrics for '', eth0, lo; ${labelled} in disk_metrics for /, /var and cpu_metrics for 2 cores), filled in ${(Number(process.hrtime.bigint() - t0) / 1e9).toFixed(1)} s`);

  const registry = new ApiRegistry();
  const logger = createLogger('silent');
  const deps = { config: loadConfig({ argv: [], env: {} }).config, logger, store, api: registry, metrics: new Registry(), events: createLogEventWriter(store), now: Date.now };
  const metrics = createMetricsComponent(deps);
  const app = buildApi({ version: 'bench', registry, logger });

  const timeIt = async (label: string, fn: () => unknown) => {
    for (let i = 0; i < 10; i++) await fn();
    const xs: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const a = process.hrtime.bigint();
      await fn();
      xs.push(Number(process.hrtime.bigint() - a) / 1e6);
    }
    console.log(`| ${label} | ${percentile(xs, 0.5).toFixed(2)} | ${percentile(xs, 0.99).toFixed(2)} |`);
    return percentile(xs, 0.5);
  };
  // Whole minutes, so the range is exactly 1440 steps.
  const now = Math.floor(Date.now() / 60_000) * 60_000;
  const from = now - 86_400_000;
  const inject = (q: Record<string, unknown>) => async () => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/query', payload: { from, to: now, queries: [{ refId: 'A', intervalMs: 60_000, ...q }] } });
    const body = res.json() as { results: { A: { frames?: Array<{ data: { values: unknown[][] }; schema: { meta?: { custom?: { source?: string } } } }> } } };
    const f = body.results.A.frames?.[0];
    if (res.statusCode !== 200 || !f || f.data.values[0].length !== 1440 || f.schema.meta?.custom?.source !== 'raw') throw new Error(`unexpected answer: ${res.body.slice(0, 300)}`);
  };
  // The reference: the same rows folded by SQLite itself, no HTTP, no JSON, no frames.
  const bare = store.db.prepare('SELECT ts / 60 * 60 AS t, avg(cpu_percent) FROM system_metrics WHERE ts >= ? AND ts < ? GROUP BY t ORDER BY t').raw();
  const bare4 = store.db.prepare('SELECT ts / 60 * 60 AS t, avg(cpu_percent), avg(memory_percent), avg(load_1), avg(disk_percent) FROM system_metrics WHERE ts >= ? AND ts < ? GROUP BY t ORDER BY t').raw();
  console.log(`\n24 h system_metrics query at 1-minute steps (1440 points over 8640 rows), ${RUNS} runs (ms):`);
  console.log('| query | p50 | p99 |');
  console.log('| --- | ---: | ---: |');
  const one = await timeIt('HTTP API, cpu_percent', inject({ kind: 'system_metrics', metric: 'cpu_percent' }));
  const four = await timeIt('HTTP API, cpu_percent + memory_percent + load_1 + disk_percent', inject({ kind: 'system_metrics', metric: ['cpu_percent', 'memory_percent', 'load_1', 'disk_percent'] }));
  await timeIt('HTTP API, network_metrics bytes_recv eth0 (rates)', inject({ kind: 'network_metrics', metric: 'bytes_recv', interface: 'eth0' }));
  await timeIt('HTTP API, disk_used + disk_read_bytes for mounts /, /var (4 series)', inject({ kind: 'system_metrics', metric: ['disk_used', 'disk_read_bytes'], mount: ['/', '/var'] }));
  await timeIt('HTTP API, cpu_percent_core (2 cores)', inject({ kind: 'system_metrics', metric: 'cpu_percent_core' }));
  const ref1 = await timeIt('reference: bare SQL GROUP BY, 1 metric', () => bare.all(Math.floor(from / 1000), Math.floor(now / 1000)));
  const ref4 = await timeIt('reference: bare SQL GROUP BY, 4 metrics', () => bare4.all(Math.floor(from / 1000), Math.floor(now / 1000)));
  console.log(`ratio to the bare SQL: 1 metric ${(one / ref1).toFixed(2)}, 4 metrics ${(four / ref4).toFixed(2)}; target p50 <= 20 ms: ${one <= 20 ? 'met' : 'NOT met'}`);
  await app.close();
  metrics.stop();
  store.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
}

queryBench().then(
  () => console.log(`load after: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
