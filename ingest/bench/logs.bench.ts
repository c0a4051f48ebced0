/**
 * Offline log parsing benchmark (`npm run bench -- logs`): `netwatch-ingest logs --summary` (the whole process,
 * startup included) against `fail2ban-regex FILE sshd` on the same 200,000 lines of a real auth.log grown with
 * ../shared/data/make_big_log.sh, in the same run; per-address failure counts must be identical
 * (`fail2ban-regex -o ip`). Writes the `## logs` section of docs/benchmarks.md.
 *
 * Options: --lines=N (default 200,000), --runs=N of our command (default 5; fail2ban-regex runs twice), --no-write.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const arg = (name: string, dflt: number) => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.slice(name.length + 3)) : dflt;
};
const LINES = arg('lines', 200_000);
const RUNS = arg('runs', 5);
const WRITE = !process.argv.includes('--no-write');

const root = path.resolve(__dirname, '../../..');
const repo = existsSync(path.join(root, 'ingest')) ? root : path.resolve(process.cwd());
const data = process.env.NETWATCH_TEST_DATA ?? path.resolve(repo, '../shared/data');
const source = path.join(data, 'logs', 'elastic_examples_auth.log');
const work = path.join(os.tmpdir(), 'netwatch-bench-logs');
const bin = path.join(repo, 'ingest', 'bin', 'netwatch-ingest.js');

function fail(msg: string): never {
  console.error(`logs bench: ${msg}`);
  process.exit(1);
}

if (!existsSync(source)) fail(`shared data not found at ${data} (set NETWATCH_TEST_DATA)`);
for (const tool of ['fail2ban-regex', 'python3']) if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) fail(`${tool} is not installed (bash scripts/setup.sh bench)`);

// The input: copies of the real log (addresses rotated, time shifted), cut to LINES lines.
mkdirSync(work, { recursive: true });
const sourceLines = readFileSync(source, 'utf8').split('\n').length - 1;
const copies = Math.min(221, Math.ceil(LINES / sourceLines));
const grown = path.join(work, `auth-${copies}.log`);
const input = path.join(work, `auth-${LINES}.log`);
if (!existsSync(input)) {
  if (!existsSync(grown)) execFileSync(path.join(data, 'make_big_log.sh'), [source, grown, String(copies), '3600'], { stdio: ['ignore', 'ignore', 'inherit'] });
  execFileSync('sh', ['-c', `head -n ${LINES} "${grown}" > "${input}"`]);
}
const lines = Number(execFileSync('wc', ['-l', input], { encoding: 'utf8' }).trim().split(/\s+/)[0]);
const bytes = statSync(input).size;

// Our command as users run it: the built CLI.
execFileSync(process.execPath, ['build.mjs'], { cwd: path.join(repo, 'ingest'), stdio: 'inherit' });

function timed(cmd: string, args: string[]): { ms: number; stdout: string } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 << 20 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return { ms, stdout: r.stdout };
}

const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');
const loadBefore = load();

// Interleaved runs so that both tools see the same machine load.
const ours: number[] = [];
const theirs: number[] = [];
let summary = '';
for (let i = 0; i < Math.max(RUNS, 2); i++) {
  if (i < RUNS) {
    const r = timed(process.execPath, [bin, 'logs', '--summary', '--format', 'json', input]);
    ours.push(r.ms);
    summary = r.stdout;
  }
  if (i < 2) theirs.push(timed('fail2ban-regex', [input, 'sshd']).ms);
}
// Where our time goes: Node.js itself, and our command on an empty file (start-up, no lines).
const empty = path.join(work, 'empty.log');
writeFileSync(empty, '');
const bare: number[] = [];
const idle: number[] = [];
const theirIdle: number[] = [];
for (let i = 0; i < 5; i++) {
  bare.push(timed(process.execPath, ['-e', '0']).ms);
  idle.push(timed(process.execPath, [bin, 'logs', '--summary', '--format', 'json', empty]).ms);
  // fail2ban-regex's own start-up: Python, fail2ban's modules, the sshd filter compiled; no lines.
  if (i < 2) theirIdle.push(timed('fail2ban-regex', [empty, 'sshd']).ms);
}
const loadAfter = load();

// Identical per-address counts.
const want = new Map<string, number>();
for (const ip of timed('fail2ban-regex', ['-o', 'ip', input, 'sshd']).stdout.split('\n')) if (ip) want.set(ip, (want.get(ip) ?? 0) + 1);
const got = new Map<string, number>();
for (const l of summary.trim().split('\n')) {
  const row = JSON.parse(l) as { ip: string; failures: number };
  if (row.failures > 0) got.set(row.ip, row.failures);
}
const differ = [...new Set([...want.keys(), ...got.keys()])].filter((ip) => want.get(ip) !== got.get(ip));
const totalFailures = [...want.values()].reduce((a, b) => a + b, 0);

const best = (xs: number[]) => Math.min(...xs);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rate = (ms: number) => (lines / ms) * 1000;
const oursRate = rate(best(ours));
const theirRate = rate(best(theirs));
const ratio = oursRate / theirRate;
// The parsers themselves: each tool's time on the file minus its time on an empty file, best against best.
const oursParseMs = best(ours) - best(idle);
const theirParseMs = best(theirs) - best(theirIdle);
const parseRatio = theirParseMs / oursParseMs;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

const section = `## logs

\`npm run bench -- logs\` (ingest/bench/logs.bench.ts), ${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cores, Node.js ${process.version}.
Input: ${fmt(lines)} lines (${(bytes / 1e6).toFixed(1)} MB) of \`make_big_log.sh elastic_examples_auth.log\` (${copies} copies, cut to ${fmt(LINES)} lines), in /tmp.
Load average (1/5/15 min) ${loadBefore} before, ${loadAfter} after: the machine is shared, so runs are interleaved and the best run of each is compared.

| | runs | best | median | lines/s (best) |
|---|---|---|---|---|
| \`netwatch-ingest logs --summary --format json FILE\` (whole process) | ${ours.length} | ${best(ours).toFixed(0)} ms | ${median(ours).toFixed(0)} ms | ${fmt(oursRate)} |
| \`fail2ban-regex FILE sshd\` (fail2ban 1.0.2, Debian 12) | ${theirs.length} | ${best(theirs).toFixed(0)} ms | ${median(theirs).toFixed(0)} ms | ${fmt(theirRate)} |

Our command is run as users run it, through bin/netwatch-ingest.js: the \`logs\` bundle of its own (dist/logs.js), V8's inlining limit at 60 bytes of bytecode (set there for \`logs\` only), the scan of the file's bytes in 256 KiB blocks (parse.ts \`tallyBytes\`).

Of our best run, ${best(bare).toFixed(0)} ms is Node.js starting (\`node -e 0\`, best of 5) and ${(best(idle) - best(bare)).toFixed(0)} ms more our command on an empty file (loading the bundle, the scan's warm-up), best of 5: the ${fmt(lines)} lines themselves take about ${(best(ours) - best(idle)).toFixed(0)} ms.

| | file | empty file (start-up) | the lines themselves | lines/s |
|---|---|---|---|---|
| netwatch (best) | ${best(ours).toFixed(0)} ms | ${best(idle).toFixed(0)} ms | ${oursParseMs.toFixed(0)} ms | ${fmt(rate(oursParseMs))} |
| fail2ban-regex (best) | ${best(theirs).toFixed(0)} ms | ${best(theirIdle).toFixed(0)} ms | ${theirParseMs.toFixed(0)} ms | ${fmt(rate(theirParseMs))} |

Parser against parser (each tool's start-up subtracted, the issue's "our offline parser ... lines/s"): **${parseRatio.toFixed(1)}x** fail2ban-regex's lines/s (target 30x).
Whole process against whole process (start-up included on both sides): **${ratio.toFixed(1)}x**. Per-address failures: ${differ.length === 0 ? `identical for all ${fmt(want.size)} addresses (${fmt(totalFailures)} failures)` : `${differ.length} addresses DIFFER`} against \`fail2ban-regex -o ip FILE sshd\`.
`;

console.log(section);
if (WRITE) {
  const doc = path.join(repo, 'docs', 'benchmarks.md');
  const text = readFileSync(doc, 'utf8');
  const start = text.indexOf('## logs\n');
  if (start < 0) fail('docs/benchmarks.md has no "## logs" section');
  const next = text.indexOf('\n## ', start + 1);
  writeFileSync(doc, text.slice(0, start) + section + (next < 0 ? '' : text.slice(next)));
  console.log(`wrote the logs section of ${doc}`);
}
if (differ.length > 0) fail(`per-address counts differ for ${differ.slice(0, 10).join(', ')}`);
