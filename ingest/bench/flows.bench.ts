/**
 * Flows benchmark (`npm run bench -- flows`), figures for docs/benchmarks.md:
 *
 * 1. The offline pass side by side with the reference tools on the same real-mix capture: the whole
 *    `netwatch-ingest flows --format json FILE` process (start-up and JSON output included; also with
 *    `--threads 2`, whose output must be byte-identical), `softflowd -r`
 *    (tracking up to 1M flows, IPv6 included, as we do) and `tcpdump -r FILE -w /dev/null` (the read-only
 *    floor). Median of --passes runs each, interleaved; wall time and CPU time (user + system, from bash's
 *    `times`) because the machine is shared and wall time also measures the neighbours.
 * 2. Memory per flow at 1M flows (heap + array buffers, measured: IPv6 flows, IPv4 flows, and IPv4 flows each
 *    seen in two series buckets, so with one series log entry each), add() throughput, and the latency (p50/p99)
 *    of the flow queries over 1M flows.
 *
 * The capture is built once under /tmp with ../shared/data/make_big_pcap.sh (70 copies, about 1M packets),
 * or given with --pcap=FILE. Options: --copies=N, --passes=N (default 5), --flows=N (default 1,000,000),
 * --table-only (skip 1.), --queries-only (skip 1. and the add() throughput),
 * --runs=N query repetitions (default 200).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CaptureFileReader, createPacketRecord } from '../src/capture/pcap-file';
import { DecodedPacket, TCP_ACK, TCP_SYN } from '../src/decode/packet';
import { parseCidr } from '../src/protocol/cidr';
import { queryFlowSeries, queryFlows, queryTopTalkers, type FlowFilter } from '../src/flows/queries';
import { FlowTable } from '../src/flows/table';
import { testDataPath } from '../src/testing/data';

const argOf = (name: string): string | undefined => process.argv.find((x) => x.startsWith(`--${name}=`))?.slice(name.length + 3);
const arg = (name: string, dflt: number) => {
  const a = argOf(name);
  return a === undefined ? dflt : Number(a);
};
const FLOWS = arg('flows', 1_000_000);
const RUNS = arg('runs', 200);
const PASSES = arg('passes', 5);
const COPIES = arg('copies', 70);
const gc = (globalThis as { gc?: () => void }).gc;
const REPO = path.resolve(__dirname, '../../..');
const CLI = path.join(REPO, 'ingest/bin/netwatch-ingest.js');

function memNow(): number {
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// ---- 1. offline pass against softflowd and tcpdump ----

function bigCapture(): string {
  const given = argOf('pcap');
  if (given) return given;
  const dir = path.join(os.tmpdir(), 'netwatch-bench');
  const file = path.join(dir, `big${COPIES}.pcap`);
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    console.log(`building ${file} with make_big_pcap.sh (${COPIES} copies)...`);
    execFileSync('bash', [testDataPath('make_big_pcap.sh'), testDataPath('pcap'), file, String(COPIES), '3'], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  return file;
}

/** Runs a shell command line `reps` times; wall and CPU seconds (user + system of the children) per run. */
function timeShell(cmd: string): { wall: number; cpu: number } {
  const script = `${cmd} ; times`;
  const t0 = process.hrtime.bigint();
  const r = spawnSync('bash', ['-c', script], { encoding: 'utf8', maxBuffer: 16 << 20 });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} failed (${r.status}): ${r.stderr}`);
  // `times` prints the shell's user/system times, then its children's: "0m0.598s 0m0.131s".
  const lines = r.stdout.trim().split('\n');
  const m = /(\d+)m([\d.]+)s (\d+)m([\d.]+)s/.exec(lines[lines.length - 1]);
  if (!m) throw new Error(`cannot read times from ${JSON.stringify(r.stdout)}`);
  const cpu = Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4]);
  return { wall, cpu };
}

function countPackets(file: string): number {
  const r = CaptureFileReader.open(file);
  const rec = createPacketRecord();
  let n = 0;
  while (r.next(rec)) n++;
  r.close();
  return n;
}

function offlineComparison(): void {
  const file = bigCapture();
  const packets = countPackets(file);
  const out = path.join(os.tmpdir(), `netwatch-bench-flows-${process.pid}.json`);
  const tools: Array<[string, string]> = [
    ['netwatch-ingest flows --format json', `node ${CLI} flows --format json ${file} > ${out}`],
    ['netwatch-ingest flows --format json --threads 2', `node ${CLI} flows --format json --threads 2 ${file} > ${out}.1`],
    ['softflowd -r (-m 1000000 -6)', `softflowd -r ${file} -m 1000000 -6 -n 127.0.0.1:9 -d > /dev/null 2>&1`],
    ['tcpdump -r FILE -w /dev/null', `tcpdump -r ${file} -w /dev/null 2> /dev/null`],
  ];
  for (const bin of ['softflowd', 'tcpdump']) {
    if (spawnSync('bash', ['-c', `command -v ${bin}`]).status !== 0) throw new Error(`${bin} is not installed (bash scripts/setup.sh bench)`);
  }
  // Warm the page cache, then interleave the tools so that load changes hit them alike.
  timeShell(`cat ${file} > /dev/null`);
  const results = tools.map(() => ({ wall: [] as number[], cpu: [] as number[] }));
  for (let i = 0; i < PASSES; i++) {
    tools.forEach(([, cmd], k) => {
      const r = timeShell(cmd);
      results[k].wall.push(r.wall);
      results[k].cpu.push(r.cpu);
    });
  }
  const flows = spawnSync('wc', ['-l', out], { encoding: 'utf8' }).stdout.trim().split(' ')[0];
  const size = statSync(file).size;
  console.log(`capture: ${file}, ${packets} packets, ${(size / 2 ** 20).toFixed(0)} MiB; our JSON output: ${flows} flows`);
  console.log(`load before the runs: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} (${os.cpus().length} cores)`);
  console.log('| tool | wall s (median of ' + PASSES + ') | packets/s (wall) | CPU s (user+sys) | packets/CPU-s |');
  console.log('|---|---|---|---|---|');
  const med = results.map((r) => ({ wall: median(r.wall), cpu: median(r.cpu) }));
  tools.forEach(([name], k) => {
    const { wall, cpu } = med[k];
    console.log(`| ${name} | ${wall.toFixed(2)} | ${(packets / wall / 1e6).toFixed(2)} M | ${cpu.toFixed(2)} | ${(packets / cpu / 1e6).toFixed(2)} M |`);
  });
  const sf = med[2];
  const td = med[3];
  console.log(`ratio ours / softflowd: ${(sf.wall / med[0].wall).toFixed(2)}x by wall time, ${(sf.cpu / med[0].cpu).toFixed(2)}x by CPU time (target: 3x)`);
  console.log(`ratio ours (--threads 2) / softflowd: ${(sf.wall / med[1].wall).toFixed(2)}x by wall time, ${(sf.cpu / med[1].cpu).toFixed(2)}x by CPU time`);
  console.log(`ratio ours / tcpdump read floor: ${(td.wall / med[0].wall).toFixed(2)}x by wall time, ${(td.cpu / med[0].cpu).toFixed(2)}x by CPU time`);
  console.log(`3x softflowd would be ${(sf.wall / 3).toFixed(2)} s wall; the tcpdump read floor is ${td.wall.toFixed(2)} s`);
  const same = spawnSync('cmp', [out, `${out}.1`]).status === 0;
  console.log(`output of --threads 2 and the default identical: ${same}`);
  if (!same) throw new Error('the two-thread and one-thread passes printed different output');
  console.log(`load after the runs: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
}

// ---- 2. the flow table at 1M flows ----

/** xorshift32: deterministic traffic. */
let seed = 0x12345678;
function rnd(): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return seed >>> 0;
}

const PORTS = [443, 80, 53, 22, 8080, 3306, 5432, 123, 25, 993];
const T0_US = Date.UTC(2024, 0, 1) * 1000;
// 1M flows started over 50 minutes: inside the 1 h retention window, spread across buckets.
const SPAN_US = 3000e6;

function fill(table: FlowTable, v6: boolean): void {
  const p = new DecodedPacket();
  p.family = v6 ? 6 : 4;
  for (let i = 0; i < FLOWS; i++) {
    const a = (10 << 24) | (rnd() & 0xffffff);
    p.src[0] = v6 ? 0x20010db8 : a >>> 0;
    p.src[3] = v6 ? a : 0;
    p.dst[0] = v6 ? 0x20010db8 : ((172 << 24) | (16 << 16) | (rnd() & 0xffff)) >>> 0;
    p.dst[3] = v6 ? rnd() : 0;
    p.protocol = i % 10 === 0 ? 17 : 6;
    p.srcPort = 1024 + (i % 60000);
    p.dstPort = PORTS[rnd() % PORTS.length];
    p.tcpFlags = TCP_SYN;
    p.wireLength = 60 + (rnd() % 1400);
    p.tsUs = T0_US + Math.floor((i / FLOWS) * SPAN_US);
    table.add(p);
  }
}

/** A second packet for every flow of `fill`, 15 s later (so in the next 10 s bucket): each flow leaves one bucket. */
function refill(table: FlowTable, startSeed: number): void {
  seed = startSeed;
  const p = new DecodedPacket();
  for (let i = 0; i < FLOWS; i++) {
    const a = (10 << 24) | (rnd() & 0xffffff);
    p.src[0] = a >>> 0;
    p.dst[0] = ((172 << 24) | (16 << 16) | (rnd() & 0xffff)) >>> 0;
    p.protocol = i % 10 === 0 ? 17 : 6;
    p.srcPort = 1024 + (i % 60000);
    p.dstPort = PORTS[rnd() % PORTS.length];
    p.tcpFlags = TCP_ACK;
    p.wireLength = 60 + (rnd() % 1400);
    p.tsUs = T0_US + Math.floor((i / FLOWS) * SPAN_US) + 15e6;
    table.add(p);
  }
}

function percentile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

/** Wall-clock latency, and CPU time (which a loaded machine does not inflate by waiting), p50 and p99. */
function time(label: string, runs: number, fn: () => unknown): void {
  for (let i = 0; i < 5; i++) fn();
  const xs: number[] = [];
  const cs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    fn();
    xs.push(Number(process.hrtime.bigint() - t0) / 1e6);
    const c = process.cpuUsage(c0);
    cs.push((c.user + c.system) / 1e3);
  }
  console.log(
    `${label.padEnd(48)} wall p50 ${percentile(xs, 0.5).toFixed(2)} ms  p99 ${percentile(xs, 0.99).toFixed(2)} ms | CPU p50 ${percentile(cs, 0.5).toFixed(2)} ms  p99 ${percentile(cs, 0.99).toFixed(2)} ms`,
  );
}

function memoryRun(v6: boolean, twoBuckets = false): FlowTable {
  const before = memNow();
  const table = new FlowTable({ maxFlows: FLOWS });
  const start = seed;
  fill(table, v6);
  if (twoBuckets) refill(table, start);
  const after = memNow();
  const m = table.memory();
  const perFlow = (after - before) / FLOWS;
  console.log(
    `memory, ${FLOWS} ${v6 ? 'IPv6' : 'IPv4'} flows${twoBuckets ? ', each seen in two buckets' : ''}, heap + array buffers measured: ${perFlow.toFixed(1)} bytes/flow in all; ` +
      `of which flow state and index ${(m.flows / FLOWS).toFixed(1)} B/flow, series log ${(m.bucketLog / FLOWS).toFixed(1)} B/flow ` +
      `(${table.logCapacity} entries x 24 B allocated, ${table.liveEntries().end - table.liveEntries().start} used; it may grow to ${(m.bucketLogLimit / FLOWS).toFixed(1)} B/flow), ` +
      `bucket totals ${(m.buckets / FLOWS).toFixed(2)} B/flow`,
  );
  if (table.size !== FLOWS) throw new Error(`expected ${FLOWS} flows, got ${table.size}`);
  return table;
}

const QUERIES_ONLY = process.argv.includes('--queries-only');
console.log(`node ${process.version}, gc ${gc ? 'exposed' : 'NOT exposed (run with --expose-gc)'}`);
if (!process.argv.includes('--table-only') && !QUERIES_ONLY) offlineComparison();
console.log(`flow table at ${FLOWS} flows:`);
memoryRun(true);
// Kept for the queries: every flow has a series log entry, as flows that span buckets do.
const spanning = memoryRun(false, true);
const table = memoryRun(false);

// add() throughput: packets on existing flows (the common case) and new-flow creation.
if (!QUERIES_ONLY) {
  const t = new FlowTable({ maxFlows: FLOWS });
  const p = new DecodedPacket();
  p.protocol = 6;
  p.tcpFlags = TCP_ACK;
  p.wireLength = 1500;
  const N = 5 * FLOWS;
  let t0 = process.hrtime.bigint();
  for (let i = 0; i < FLOWS; i++) {
    p.src[0] = (0x0a000000 + i) >>> 0;
    p.dst[0] = 0xc0a80001;
    p.srcPort = 40000;
    p.dstPort = 443;
    p.tsUs = T0_US + i;
    t.add(p);
  }
  let ns = Number(process.hrtime.bigint() - t0);
  console.log(`add(), new flows:                            ${((FLOWS / ns) * 1e3).toFixed(2)} Mpps`);
  t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    const f = rnd() % FLOWS;
    const rev = (i & 1) === 1;
    p.src[0] = rev ? 0xc0a80001 : (0x0a000000 + f) >>> 0;
    p.dst[0] = rev ? (0x0a000000 + f) >>> 0 : 0xc0a80001;
    p.srcPort = rev ? 443 : 40000;
    p.dstPort = rev ? 40000 : 443;
    p.tsUs = T0_US + FLOWS + i;
    t.add(p);
  }
  ns = Number(process.hrtime.bigint() - t0);
  console.log(`add(), existing flows, random order:         ${((N / ns) * 1e3).toFixed(2)} Mpps (worst case: every packet a cache miss)`);
  // Real traffic comes in trains: a TCP window or a burst of one flow's packets back to back.
  t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i += 16) {
    const f = rnd() % FLOWS;
    for (let j = 0; j < 16; j++) {
      const rev = (j & 3) === 3;
      p.src[0] = rev ? 0xc0a80001 : (0x0a000000 + f) >>> 0;
      p.dst[0] = rev ? (0x0a000000 + f) >>> 0 : 0xc0a80001;
      p.srcPort = rev ? 443 : 40000;
      p.dstPort = rev ? 40000 : 443;
      p.tsUs = T0_US + FLOWS + N + i + j;
      t.add(p);
    }
  }
  ns = Number(process.hrtime.bigint() - t0);
  console.log(`add(), existing flows, trains of 16:         ${((N / ns) * 1e3).toFixed(2)} Mpps`);
}

const none: FlowFilter = { cidr: [], srcCidr: [], dstCidr: [], port: [], srcPort: [], dstPort: [], protocol: [] };
const nowMs = Math.floor(table.nowUs() / 1000);
const range = { fromMs: nowMs - 3_600_000, toMs: nowMs };
const slash16: FlowFilter = { ...none, cidr: [parseCidr('10.42.0.0/16')], port: [[443, 443]] };
console.log(`queries over ${table.size} flows, ${RUNS} runs each:`);
time('flows: cidr 10.42.0.0/16 + port 443, top 100', RUNS, () => queryFlows(table, slash16, { ...range, orderBy: 'bytes', limit: 100 }));
time('flows: no filter, top 100 by bytes', RUNS, () => queryFlows(table, none, { ...range, orderBy: 'bytes', limit: 100 }));
time('flows: dstCidr 172.16.0.0/24 + proto udp', RUNS, () => queryFlows(table, { ...none, dstCidr: [parseCidr('172.16.0.0/24')], protocol: [17] }, { ...range, limit: 100 }));
time('series: bytes, 1 h at 60 s, no filter', Math.min(RUNS, 50), () => queryFlowSeries(table, none, { ...range, intervalMs: 60_000, metric: 'bytes' }));
time('series: bytes by dst_port, 1 h at 60 s, top 10', Math.min(RUNS, 20), () =>
  queryFlowSeries(table, none, { ...range, intervalMs: 60_000, metric: 'bytes', groupBy: 'dst_port' }),
);
time('series: bytes, cidr /16, 1 h at 60 s', Math.min(RUNS, 20), () => queryFlowSeries(table, slash16, { ...range, intervalMs: 60_000, metric: 'bytes' }));
time('top talkers: dst_port, 1 h', Math.min(RUNS, 20), () => queryTopTalkers(table, none, { ...range, by: 'dst_port' }));
time('top talkers: src_ip, cidr /16, 1 h', Math.min(RUNS, 20), () => queryTopTalkers(table, slash16, { ...range, by: 'src_ip' }));
time('flows: no filter, top 10000 by bytes', Math.min(RUNS, 50), () => queryFlows(table, none, { ...range, orderBy: 'bytes', limit: 10_000 }));
time('series: bytes by src_ip, 1 h at 60 s, top 10', Math.min(RUNS, 20), () =>
  queryFlowSeries(table, none, { ...range, intervalMs: 60_000, metric: 'bytes', groupBy: 'src_ip' }),
);
time('series: new flows by subnet /24, 1 h at 60 s', Math.min(RUNS, 20), () =>
  queryFlowSeries(table, none, { ...range, intervalMs: 60_000, metric: 'flows', groupBy: 'subnet' }),
);
time('top talkers: ip (both ends), 1 h', Math.min(RUNS, 20), () => queryTopTalkers(table, none, { ...range, by: 'ip' }));
time('top talkers: pair, 1 h', Math.min(RUNS, 20), () => queryTopTalkers(table, none, { ...range, by: 'pair' }));
// The same table with every flow in two buckets: the series and edge-straddling flows read the series log.
const spanNowMs = Math.floor(spanning.nowUs() / 1000);
const spanRange = { fromMs: spanNowMs - 3_600_000, toMs: spanNowMs };
const lastHalf = { fromMs: spanNowMs - 1_800_000, toMs: spanNowMs };
console.log(`queries over ${spanning.size} flows each seen in two buckets (${spanning.liveEntries().end - spanning.liveEntries().start} log entries):`);
time('series: bytes by dst_port, 1 h at 60 s, top 10', Math.min(RUNS, 20), () =>
  queryFlowSeries(spanning, none, { ...spanRange, intervalMs: 60_000, metric: 'bytes', groupBy: 'dst_port' }),
);
time('series: bytes, cidr /16, 1 h at 60 s', Math.min(RUNS, 20), () => queryFlowSeries(spanning, slash16, { ...spanRange, intervalMs: 60_000, metric: 'bytes' }));
time('top talkers: dst_port, last 30 min', Math.min(RUNS, 20), () => queryTopTalkers(spanning, none, { ...lastHalf, by: 'dst_port' }));
time('top talkers: src_ip, last 30 min', Math.min(RUNS, 20), () => queryTopTalkers(spanning, none, { ...lastHalf, by: 'src_ip' }));
