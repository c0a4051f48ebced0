/**
 * `netwatch-ingest logs FILE...`: parses log files offline with the parsers `serve --log` uses, and prints the
 * events or, with --summary, per-address totals whose `failures` equal fail2ban-regex's sshd count.
 */
import { closeSync, fstatSync, openSync, writeSync } from 'node:fs';
import type { LogEvent } from '../logs/events';
import { UsageError, commandArgs } from './args';
import { DEFAULT_MAX_LINE_BYTES, LineSplitter, readLinesSync, type LineSink } from '../logs/lines';
import { LOG_TYPES, LogLineParser, primeTally, SKIP_REASONS, type LogType, type SkipReason } from '../logs/parse';
import { LogSummary } from '../logs/summary';

export const LOGS_HELP = `Usage: netwatch-ingest logs FILE... [flags]

Parses log files offline (auth.log, fail2ban.log, syslog, kern.log; "-" reads standard input) and prints one
event per line, or per-address totals with --summary.

Flags:
  --type TYPE        ${LOG_TYPES.join(' | ')} (default auto: decided per line). Names the event source.
  --format FORMAT    table | json (default table). json prints one JSON object per line (event or address).
  --summary          per address: {ip, failures, invalid_users, accepted, bans, threat_score}. failures are
                     counted as fail2ban's sshd filter counts them (fail2ban-regex -o ip FILE sshd).
  --max-line-bytes N longer lines are skipped and counted (default ${DEFAULT_MAX_LINE_BYTES})
  -h, --help         this help

Lines that are empty, binary, too long or not log lines are skipped and counted on stderr.
Dates without a year (RFC 3164) take the latest year that does not put them after the file's modification time.
Exit codes: 0 success, 1 a file could not be read, 2 usage error.
`;

interface LogsArgs {
  files: string[];
  type: LogType;
  format: 'table' | 'json';
  summary: boolean;
  maxLineBytes: number;
  help: boolean;
}

export function parseLogsArgs(argv: string[]): LogsArgs {
  const out: LogsArgs = { files: [], type: 'auto', format: 'table', summary: false, maxLineBytes: DEFAULT_MAX_LINE_BYTES, help: false };
  for (const { arg: a, name, value } of commandArgs(argv)) {
    switch (name) {
      case '-h':
      case '--help':
        out.help = true;
        break;
      case '--type': {
        const v = value();
        if (!(LOG_TYPES as readonly string[]).includes(v)) throw new UsageError(`--type: expected one of ${LOG_TYPES.join(', ')} (got ${JSON.stringify(v)})`);
        out.type = v as LogType;
        break;
      }
      case '--format': {
        const v = value();
        if (v !== 'table' && v !== 'json') throw new UsageError(`--format: expected table or json (got ${JSON.stringify(v)})`);
        out.format = v;
        break;
      }
      case '--summary':
        out.summary = true;
        break;
      case '--max-line-bytes': {
        const v = Number(value());
        if (!Number.isInteger(v) || v < 256 || v > 16 * 1024 * 1024) throw new UsageError('--max-line-bytes: expected an integer from 256 to 16777216');
        out.maxLineBytes = v;
        break;
      }
      default:
        if (a.startsWith('-') && a !== '-') throw new UsageError(`unknown flag ${a}`);
        out.files.push(a);
    }
  }
  if (!out.help && out.files.length === 0) throw new UsageError('no FILE given');
  return out;
}

/** Buffered stdout: one write per 64 KiB instead of one per line. */
class Output {
  private parts: string[] = [];
  private size = 0;
  write(s: string): void {
    this.parts.push(s);
    this.size += s.length;
    if (this.size >= 65536) this.flush();
  }
  flush(): void {
    if (this.parts.length === 0) return;
    writeAllSync(1, this.parts.join(''));
    this.parts = [];
    this.size = 0;
  }
}

function writeAllSync(fd: number, s: string): void {
  const buf = Buffer.from(s);
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off);
    } catch (e) {
      // A closed pipe (| head): stop writing, not an error of ours.
      if ((e as NodeJS.ErrnoException).code === 'EPIPE') throw new PipeClosed();
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') continue;
      throw e;
    }
  }
}

class PipeClosed extends Error {}

const pad = (s: string, n: number) => (s.length >= n ? s : s + ' '.repeat(n - s.length));

function tableRow(e: LogEvent): string {
  const t = new Date(e.timestamp * 1000).toISOString().replace('.000Z', 'Z');
  // Control characters cannot reach here (binary lines are skipped); tabs are shown as spaces.
  return `${t}  ${pad(e.source, 8)} ${pad(e.level, 8)} ${pad(e.action ?? '', 19)} ${pad(e.ip ?? '-', 15)} ${pad(e.user ?? '-', 12)} ${e.message.replace(/\t/g, ' ')}\n`;
}

/** Reads one file (or stdin) through the splitter and parser; returns false when it cannot be read. */
function readFile(path: string, parser: LogLineParser, splitter: LineSplitter, onEvent: (e: LogEvent) => void, skipped: Record<SkipReason, number>, counts: { lines: number }, summary: LogSummary | null): void {
  const fd = path === '-' ? 0 : openSync(path, 'r');
  try {
    if (path !== '-') {
      const st = fstatSync(fd);
      if (st.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
      parser.setReference(st.mtimeMs);
    }
    // 256 KiB: few reads, and a block the scan reads in place stays in the CPU's cache (L2) while it is scanned.
    const buf = Buffer.allocUnsafe(1 << 18);
    const onSkip = (r: SkipReason) => {
      skipped[r]++;
    };
    const sink: LineSink = {
      line: (text: string) => {
        counts.lines++;
        if (summary) {
          const skip = parser.tally(text, summary);
          if (skip) skipped[skip]++;
          return;
        }
        const r = parser.parse(text);
        if (r.event) onEvent(r.event);
        else skipped[r.skip]++;
      },
      bytes: summary
        ? (lines: Buffer, maxLineBytes: number) => {
            counts.lines += parser.tallyBytes(lines, summary, onSkip, maxLineBytes);
          }
        : undefined,
      overlong: () => {
        counts.lines++;
        skipped.overlong++;
      },
    };
    readLinesSync(fd, splitter, sink, buf);
  } finally {
    if (path !== '-') closeSync(fd);
  }
}

/**
 * Runs `logs` from its own bundle (dist/logs.js, which bin/netwatch-ingest.js loads for this command instead of
 * the service's dist/cli.js, a fifth of the start-up) and exits as cli.ts would: same codes, one line on stderr.
 */
export function runLogs(argv: string[]): void {
  logsCommand(argv).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`netwatch-ingest: ${(e as Error).message}\n`);
      process.exit(1);
    },
  );
}

export async function logsCommand(argv: string[]): Promise<number> {
  let args: LogsArgs;
  try {
    args = parseLogsArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`netwatch-ingest logs: ${e.message}\n\n${LOGS_HELP}`);
      return 2;
    }
    throw e;
  }
  if (args.help) {
    process.stdout.write(LOGS_HELP);
    return 0;
  }
  const out = new Output();
  const summary = args.summary ? new LogSummary() : null;
  if (summary) primeTally();
  const onEvent = summary
    ? (e: LogEvent) => summary.add(e)
    : args.format === 'json'
      ? (e: LogEvent) => out.write(`${JSON.stringify(e)}\n`)
      : (e: LogEvent) => out.write(tableRow(e));
  const skipped = Object.fromEntries(SKIP_REASONS.map((r) => [r, 0])) as Record<SkipReason, number>;
  const counts = { lines: 0 };
  let failed = false;
  try {
    if (!summary && args.format === 'table') out.write(`${pad('time', 20)}  ${pad('source', 8)} ${pad('level', 8)} ${pad('action', 19)} ${pad('ip', 15)} ${pad('user', 12)} message\n`);
    for (const file of args.files) {
      // Each file is its own source: its own year reference, undated-line clock and sshd connections.
      const parser = new LogLineParser({ type: args.type });
      try {
        readFile(file, parser, new LineSplitter(args.maxLineBytes), onEvent, skipped, counts, summary);
      } catch (e) {
        if (e instanceof PipeClosed) throw e;
        const err = e as NodeJS.ErrnoException;
        process.stderr.write(`netwatch-ingest logs: cannot read ${file}: ${err.code ?? err.message}\n`);
        failed = true;
      }
    }
    if (summary) {
      const rows = summary.rows();
      if (args.format === 'json') for (const r of rows) out.write(`${JSON.stringify(r)}\n`);
      else {
        out.write(`${pad('ip', 39)} ${pad('failures', 9)} ${pad('invalid', 8)} ${pad('accepted', 9)} ${pad('bans', 5)} threat_score\n`);
        for (const r of rows) out.write(`${pad(r.ip, 39)} ${pad(String(r.failures), 9)} ${pad(String(r.invalid_users), 8)} ${pad(String(r.accepted), 9)} ${pad(String(r.bans), 5)} ${r.threat_score}\n`);
      }
      if (summary.droppedEvents > 0) process.stderr.write(`netwatch-ingest logs: ${summary.droppedEvents} events of addresses beyond ${summary.maxIps} not counted\n`);
    }
    out.flush();
  } catch (e) {
    if (e instanceof PipeClosed) return failed ? 1 : 0;
    throw e;
  }
  const skippedTotal = SKIP_REASONS.reduce((n, r) => n + skipped[r], 0);
  if (skippedTotal > 0) {
    process.stderr.write(`netwatch-ingest logs: ${counts.lines} lines, ${skippedTotal} skipped (${SKIP_REASONS.filter((r) => skipped[r] > 0).map((r) => `${r} ${skipped[r]}`).join(', ')})\n`);
  }
  return failed ? 1 : 0;
}
