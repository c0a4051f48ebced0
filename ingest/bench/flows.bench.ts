/**
 * Flow table benchmark (`npm run bench -- flows`): memory per flow at 1M flows, add() throughput, and query
 * latency (p50/p99) of the flow queries over 1M flows. Figures go to docs/benchmarks.md.
 *
 * Options: --flows=N (default 1,000,000), --runs=N query repetitions (default 200).
 */
import { DecodedPacket, TCP_ACK, TCP_SYN } from '../src/decode/packet';
import { parseCidr } from '../src/protocol/cidr';
import { queryFlowSeries, queryFlows, queryTopTalkers, type FlowFilter } from '../src/flows/queries';
import { FlowTable } from '../src/flows/table';

const arg = (name: string, dflt: number) => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.slice(name.length + 3)) : dflt;
};
const FLOWS = arg('flows', 1_000_000);
const RUNS = arg('runs', 200);
const gc = (globalThis as { gc?: () => void }).gc;

function memNow(): number {
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

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

function percentile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

function time(label: string, runs: number, fn: () => unknown): void {
  for (let i = 0; i < 5; i++) fn();
  const xs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    xs.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  console.log(`${label.padEnd(44)} p50 ${percentile(xs, 0.5).toFixed(2)} ms  p99 ${percentile(xs, 0.99).toFixed(2)} ms`);
}

function memoryRun(v6: boolean): FlowTable {
  const before = memNow();
  const table = new FlowTable({ maxFlows: FLOWS });
  fill(table, v6);
  const after = memNow();
  const log = table.memory().bucketLog;
  const perFlow = (after - before - log) / FLOWS;
  console.log(
    `memory, ${FLOWS} ${v6 ? 'IPv6' : 'IPv4'} flows: ${(perFlow).toFixed(1)} bytes/flow (heap + array buffers, bucket log excluded); ` +
      `bucket log ${(log / 2 ** 20).toFixed(1)} MiB (${table.logCapacity} entries x 20 B); table says ${(table.memory().flows / FLOWS).toFixed(1)} B/flow of arrays`,
  );
  if (table.size !== FLOWS) throw new Error(`expected ${FLOWS} flows, got ${table.size}`);
  return table;
}

console.log(`node ${process.version}, ${FLOWS} flows, gc ${gc ? 'exposed' : 'NOT exposed (run with --expose-gc)'}`);
memoryRun(true);
const table = memoryRun(false);

// add() throughput: packets on existing flows (the common case) and new-flow creation.
{
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
