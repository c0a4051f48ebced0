/**
 * Ping storage benchmark (`npm run bench -- pings`): rows/s into `pings` through our batch writer (the one the
 * pings component uses) against the Python BatchWriter of the storage design (ingest/bench/pings_batch_writer.py,
 * sqlite3, batches of 100, WAL), run side by side: same rows, same table and indexes, same file system.
 *
 * Options: --rows=N (default 200,000), --targets=N (default 100), --runs=N alternating runs of each (default 3).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RoundResult } from '../src/pings/round';
import { createPingWriters, toPingRow } from '../src/pings/store';
import { Store } from '../src/store';

const arg = (name: string, dflt: number) => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.slice(name.length + 3)) : dflt;
};
const ROWS = arg('rows', 200_000);
const TARGETS = arg('targets', 100);
const RUNS = arg('runs', 3);
const T0 = 1_800_000_000;
const PY = path.join(__dirname, '..', 'pings_batch_writer.py');

interface Run {
  rows: number;
  stored: number;
  seconds: number;
  rowsPerS: number;
}

/** The rounds the writers get, built before timing: one probe each (their summary is computed in the timed loop). */
function rounds(): RoundResult[] {
  const names = Array.from({ length: TARGETS }, (_, i) => `10.0.${i >> 8}.${i & 255}`);
  return Array.from({ length: ROWS }, (_, i) => ({
    ts: T0 + Math.floor(i / TARGETS),
    target: names[i % TARGETS],
    kind: 'icmp' as const,
    address: names[i % TARGETS],
    probes: [{ rttMs: 1 + (i % 97) / 10, ttl: 64 }],
    error: null,
  }));
}

async function runOurs(dir: string, input: RoundResult[], both: boolean): Promise<Run> {
  const file = path.join(dir, `ours-${Math.random().toString(36).slice(2)}.db`);
  const store = Store.open({ path: file });
  const w = createPingWriters(store);
  const t0 = performance.now();
  // Rounds arrive over many turns of the event loop, as probe results do: a turn per 1000 rounds lets the writer
  // flush its batches (PING_BATCH_SIZE rows) between them, as it does in the service.
  for (let i = 0; i < input.length; i++) {
    // What write() does for a round, timed with the rest: its summary once, then a row per writer.
    const row = toPingRow(input[i]);
    if (!w.pings.push(row) || (both && !w.metadata.push(row))) throw new Error('a row was dropped');
    if (i % 1000 === 999) await new Promise((res) => setImmediate(res));
  }
  w.flush();
  const seconds = (performance.now() - t0) / 1000;
  const stored = store.db.prepare('SELECT count(*) FROM pings').pluck().get() as number;
  store.close();
  const rows = both ? 2 * input.length : input.length;
  return { rows, stored, seconds, rowsPerS: rows / seconds };
}

function runPython(dir: string): Run {
  const file = path.join(dir, `python-${Math.random().toString(36).slice(2)}.db`);
  const out = execFileSync('python3', [PY, file, String(ROWS), String(TARGETS)], { encoding: 'utf8' });
  const r = JSON.parse(out) as { rows: number; stored: number; seconds: number; rows_per_s: number };
  return { rows: r.rows, stored: r.stored, seconds: r.seconds, rowsPerS: r.rows_per_s };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function main() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'netwatch-bench-pings-'));
  const loadBefore = os.loadavg();
  const input = rounds();
  const ours: Run[] = [];
  const oursBoth: Run[] = [];
  const py: Run[] = [];
  try {
    for (let i = 0; i < RUNS; i++) {
      py.push(runPython(dir));
      ours.push(await runOurs(dir, input, false));
      oursBoth.push(await runOurs(dir, input, true));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  for (const r of [...ours, ...oursBoth, ...py]) if (r.stored !== ROWS) throw new Error(`a run stored ${r.stored} rows of ${ROWS}`);
  const loadAfter = os.loadavg();
  const python = median(py.map((r) => r.rowsPerS));
  const node = median(ours.map((r) => r.rowsPerS));
  const nodeBoth = median(oursBoth.map((r) => r.rowsPerS));
  const pyVersion = execFileSync('python3', ['-c', 'import sqlite3, sys; print(sys.version.split()[0], sqlite3.sqlite_version)'], { encoding: 'utf8' }).trim().split(' ');
  console.log(`pings writer: ${fmt(ROWS)} rows over ${TARGETS} targets, median of ${RUNS} alternating runs, files in ${os.tmpdir()}`);
  console.log(`load average before ${loadBefore.map((x) => x.toFixed(2)).join(' ')}, after ${loadAfter.map((x) => x.toFixed(2)).join(' ')}; python ${pyVersion[0]} (sqlite ${pyVersion[1]}), node ${process.version}`);
  console.log('');
  console.log('| writer | rows/s (median) | runs (rows/s) | ratio to Python |');
  console.log('| --- | ---: | --- | ---: |');
  console.log(`| Python BatchWriter of design 003 (batches of 100, connection per batch) | ${fmt(python)} | ${py.map((r) => fmt(r.rowsPerS)).join(', ')} | 1.0x |`);
  console.log(`| netwatch BatchWriter, \`pings\` rows | ${fmt(node)} | ${ours.map((r) => fmt(r.rowsPerS)).join(', ')} | ${(node / python).toFixed(1)}x |`);
  console.log(`| netwatch, whole rounds (\`pings\` + \`ping_metadata\` rows) | ${fmt(nodeBoth)} | ${oursBoth.map((r) => fmt(r.rowsPerS)).join(', ')} | ${(nodeBoth / python).toFixed(1)}x |`);
  if (node / python < 10) {
    console.error(`below the 10x target: ${(node / python).toFixed(1)}x`);
    process.exitCode = 1;
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
