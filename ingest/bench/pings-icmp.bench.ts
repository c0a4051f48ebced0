/**
 * What the reply TTL costs per round (`npm run bench -- pings-icmp`): CPU of the service and of its child
 * processes for the echo mechanisms and the TTL companions, against the long-running fping loop (the unprivileged
 * mechanism, the reference here), side by side in the same run, on loopback addresses 127.0.0.1..N.
 *
 *  - fping loop: one long-running fping for every address (the burst of the fallback, no TTL).
 *  - raw sockets in this process (the burst as root, IPv4 TTL from the header); only when run as root.
 *  - oping companion: one `oping -c 1` per round for every address (TTL for what the mechanism cannot read).
 *  - ping(8) companion: one `ping -c 1` per address and round.
 *  - ping(8) bursts: one `ping -c COUNT -i SPACING` per address and round, the alternative to the mechanisms.
 *
 * Then the spacing of a burst's probes as each tool sends them (-D timestamps of loopback replies).
 *
 * Options: --addresses=N (default 100), --rounds=N (default 5), --interval=MS (default 1500).
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { FpingPinger } from '../src/pings/icmp-fping';
import { RawIcmpPinger } from '../src/pings/icmp-raw';
import { parsePingLine, pingProbes, TtlCompanion } from '../src/pings/icmp-ttl';
import type { ProbeResult } from '../src/pings/round';

const arg = (name: string, dflt: number) => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.slice(name.length + 3)) : dflt;
};
const N = arg('addresses', 100);
const ROUNDS = arg('rounds', 5);
const INTERVAL = arg('interval', 1500);
const BURST = { count: 5, spacingMs: 200, timeoutMs: 1000, intervalMs: INTERVAL };
const ADDRESSES = Array.from({ length: N }, (_, i) => `127.0.${(i + 1) >> 8}.${(i + 1) & 255}`);
const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** CPU ms of this process's waited-for children (utime + stime of the exited ones). */
function childrenCpuMs(): number {
  const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  return (Number(f[13]) + Number(f[14])) * TICK_MS;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

interface Result {
  name: string;
  processesPerRound: string;
  serviceMs: number;
  childrenMs: number;
  answered: number;
  asked: number;
}

/**
 * Runs `round` at start + k x interval, as the scheduler does, and takes the CPU per round of rounds 1..ROUNDS
 * (round 0 warms up: the JIT, and the long-running fping's start).
 */
async function measure(name: string, processesPerRound: string, round: () => Promise<Array<number | null | boolean>>, close?: () => Promise<void>): Promise<Result> {
  const t0 = performance.now();
  await round();
  await sleep(t0 + INTERVAL - performance.now() - 50);
  const c0 = childrenCpuMs();
  const u0 = process.cpuUsage();
  let answered = 0;
  let asked = 0;
  for (let k = 1; k <= ROUNDS; k++) {
    await sleep(t0 + k * INTERVAL - performance.now());
    const got = await round();
    asked += got.length;
    answered += got.filter((x) => x !== null && x !== false).length;
  }
  await close?.();
  const u = process.cpuUsage(u0);
  return { name, processesPerRound, serviceMs: (u.user + u.system) / 1000 / ROUNDS, childrenMs: (childrenCpuMs() - c0) / ROUNDS, answered, asked };
}

const replied = (rs: ProbeResult[]) => rs.every((r) => r.rttMs !== null);

function pingBurst(address: string): Promise<ProbeResult[]> {
  return new Promise((resolve) => {
    let out = '';
    const child = spawn('ping', ['-n', '-c', String(BURST.count), '-i', String(BURST.spacingMs / 1000), '-W', String(BURST.timeoutMs / 1000), address], { stdio: ['ignore', 'pipe', 'ignore'] });
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => (out += d));
    child.on('close', () => resolve(pingProbes(out, address, BURST.count, BURST.timeoutMs)));
  });
}

/** Waits until the killed long-running children have exited and been reaped, so their CPU is counted. */
async function reaped(): Promise<void> {
  await sleep(300);
}

/** Gaps in ms between consecutive reply timestamps ([sec.usec] of -D) of one burst to 127.0.0.1. */
function gaps(lines: string[]): number[] {
  const ts = lines.map((l) => /^\[(\d+\.\d+)\]/.exec(l)).filter((m): m is RegExpExecArray => m !== null).map((m) => Number(m[1]) * 1000);
  return ts.slice(1).map((t, i) => t - ts[i]);
}

function spacing(): Array<[string, number[]]> {
  const opts = { encoding: 'utf8' as const, stdio: ['ignore', 'pipe', 'pipe'] as Array<'ignore' | 'pipe'> };
  const fping = execFileSync('fping', ['-D', '-c', '10', '-p', '200', '-t', '1000', '127.0.0.1'], opts).split('\n');
  const ping = execFileSync('ping', ['-n', '-D', '-c', '10', '-i', '0.2', '-W', '1', '127.0.0.1'], opts).split('\n').filter((l) => parsePingLine(l)?.what === 'reply');
  return [
    ['fping -c 10 -p 200', gaps(fping)],
    ['ping -c 10 -i 0.2', gaps(ping)],
  ];
}

async function main() {
  const root = process.getuid?.() === 0;
  const loadBefore = os.loadavg();
  const results: Result[] = [];

  const fping = new FpingPinger();
  results.push(
    await measure('fping loop (burst, no TTL)', '0 (one long-running)', async () => (await Promise.all(ADDRESSES.map((a) => fping.echoBurst(a, 4, BURST)))).map(replied), async () => {
      fping.close();
      await reaped();
    }),
  );
  if (root) {
    const raw = new RawIcmpPinger();
    results.push(await measure('raw sockets in-process (burst, IPv4 TTL)', '0', async () => (await Promise.all(ADDRESSES.map((a) => raw.echoBurst(a, 4, BURST)))).map(replied), async () => raw.close()));
  }
  const oping = new TtlCompanion('oping');
  results.push(await measure('oping companion (1 echo per address, TTL)', '1', () => Promise.all(ADDRESSES.map((a) => oping.ttl(a, 4, BURST.timeoutMs)))));
  const ping = new TtlCompanion('ping');
  results.push(await measure('ping(8) companion (1 echo per address, TTL)', String(N), () => Promise.all(ADDRESSES.map((a) => ping.ttl(a, 4, BURST.timeoutMs)))));
  results.push(await measure('ping(8) bursts (5 echoes per address, TTL)', String(N), async () => (await Promise.all(ADDRESSES.map(pingBurst))).map(replied)));
  const loadAfter = os.loadavg();

  const ref = results[0].serviceMs + results[0].childrenMs;
  console.log(`pings-icmp: ${N} loopback addresses, ${ROUNDS} rounds ${INTERVAL} ms apart, bursts of ${BURST.count} probes ${BURST.spacingMs} ms apart, timeout ${BURST.timeoutMs} ms; ${root ? 'as root' : 'unprivileged'}`);
  console.log(`load average before ${loadBefore.map((x) => x.toFixed(2)).join(' ')}, after ${loadAfter.map((x) => x.toFixed(2)).join(' ')}; ${os.cpus().length} cores, node ${process.version}; children CPU in ${TICK_MS} ms ticks`);
  console.log('');
  console.log('| per round | processes spawned | service CPU ms | children CPU ms | total ms | ratio to fping loop | answered |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of results) {
    const total = r.serviceMs + r.childrenMs;
    console.log(`| ${r.name} | ${r.processesPerRound} | ${r.serviceMs.toFixed(1)} | ${r.childrenMs.toFixed(1)} | ${total.toFixed(1)} | ${(total / ref).toFixed(2)}x | ${r.answered}/${r.asked} |`);
  }
  console.log('');
  console.log('| burst spacing (asked 200 ms) | gaps between probes, ms | mean | drift per probe |');
  console.log('| --- | --- | ---: | ---: |');
  for (const [name, g] of spacing()) {
    const mean = g.reduce((a, b) => a + b, 0) / g.length;
    console.log(`| ${name} | ${g.map((x) => x.toFixed(1)).join(', ')} | ${mean.toFixed(1)} | ${(mean - 200).toFixed(1)} |`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
