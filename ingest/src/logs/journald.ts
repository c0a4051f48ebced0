/**
 * The systemd journal as a log source: `journalctl -f -o json` (one JSON object per entry, journal-export field
 * names), resumed from the saved cursor. Debian 12 writes sshd to the journal only, with no auth.log, so this is
 * the source there. When journalctl is missing or finds no journal, the source says so in its health and stops;
 * when it exits otherwise, it is started again after a growing delay.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { LineSplitter } from './lines';

/** One journal entry, as journalctl's JSON gives it (values may be strings, byte arrays, or null). */
export type JournalEntry = Record<string, unknown>;

export interface JournalFields {
  message: string;
  /** Unix seconds. */
  timestamp: number | null;
  host: string | null;
  identifier: string | null;
  pid: number | null;
  priority: number | null;
  unit: string | null;
  cursor: string | null;
}

function text(v: unknown, max: number): string | null {
  if (typeof v === 'string') return v.length > max ? v.slice(0, max) : v;
  // Binary-safe fields come as arrays of bytes (journalctl -o json, for non-UTF-8 or control characters).
  if (Array.isArray(v) && v.length <= max * 4 && v.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) return Buffer.from(v as number[]).toString('utf8');
  return null;
}

/** The fields of an entry the parsers need; null when it has no message. Never trusts the shapes it is given. */
export function journalFields(e: JournalEntry): JournalFields | null {
  const message = text(e.MESSAGE, 64 * 1024);
  if (message === null) return null;
  const us = typeof e.__REALTIME_TIMESTAMP === 'string' && /^\d{1,19}$/.test(e.__REALTIME_TIMESTAMP) ? Number(e.__REALTIME_TIMESTAMP) : NaN;
  const pid = text(e._PID ?? e.SYSLOG_PID, 16);
  const prio = text(e.PRIORITY, 2);
  return {
    message,
    timestamp: Number.isFinite(us) ? us / 1e6 : null,
    host: text(e._HOSTNAME, 255),
    identifier: text(e.SYSLOG_IDENTIFIER, 64) ?? text(e._COMM, 64),
    pid: pid !== null && /^\d{1,10}$/.test(pid) ? Number(pid) : null,
    priority: prio !== null && /^[0-7]$/.test(prio) ? Number(prio) : null,
    unit: text(e._SYSTEMD_UNIT, 255),
    cursor: text(e.__CURSOR, 1024),
  };
}

export interface JournaldOptions {
  units: string[];
  cursor: string | null;
  /** The journalctl executable (tests use a stand-in; this machine has no journald). */
  command?: string;
  onEntry: (fields: JournalFields) => void;
  onBadLine: () => void;
  log: (level: 'info' | 'warn' | 'error', msg: string) => void;
}

export type JournaldState = { state: 'starting' | 'ok' | 'restarting'; detail?: string } | { state: 'down'; detail: string };

export class JournaldSource {
  private child: ChildProcess | null = null;
  private stopped = false;
  private restartTimer: NodeJS.Timeout | null = null;
  private delayMs = 1000;
  private stderr = '';
  state: JournaldState = { state: 'starting' };
  cursor: string | null;
  readonly counters = { entries: 0, bad_lines: 0, restarts: 0 };

  constructor(private readonly opts: JournaldOptions) {
    this.cursor = opts.cursor;
  }

  args(): string[] {
    const a = ['-f', '-o', 'json', '--no-pager', '--no-tail'];
    // Without a cursor start at the end, like a file tailed without --log-from-start.
    if (this.cursor) a.push(`--after-cursor=${this.cursor}`);
    else a.push('-n', '0');
    for (const u of this.opts.units) a.push(`--unit=${u}`);
    return a;
  }

  start(): void {
    this.stopped = false;
    const cmd = this.opts.command ?? 'journalctl';
    this.stderr = '';
    let child: ChildProcess;
    try {
      child = spawn(cmd, this.args(), { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      this.down(`cannot run ${cmd}: ${(e as Error).message}`);
      return;
    }
    this.child = child;
    const splitter = new LineSplitter(256 * 1024);
    const sink = {
      line: (l: string) => {
        if (l.trim() === '') return;
        let entry: unknown;
        try {
          entry = JSON.parse(l);
        } catch {
          this.counters.bad_lines++;
          this.opts.onBadLine();
          return;
        }
        const f = entry && typeof entry === 'object' && !Array.isArray(entry) ? journalFields(entry as JournalEntry) : null;
        if (!f) {
          this.counters.bad_lines++;
          this.opts.onBadLine();
          return;
        }
        this.counters.entries++;
        this.state = { state: 'ok' };
        this.delayMs = 1000;
        if (f.cursor) this.cursor = f.cursor;
        this.opts.onEntry(f);
      },
      overlong: () => {
        this.counters.bad_lines++;
        this.opts.onBadLine();
      },
    };
    child.stdout!.on('data', (d: Buffer) => splitter.push(d, sink));
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => {
      if (this.stderr.length < 4096) this.stderr += d;
    });
    child.on('spawn', () => {
      if (this.state.state !== 'ok') this.state = { state: 'ok', detail: `following ${cmd} ${this.args().join(' ')}` };
    });
    child.on('error', (err: NodeJS.ErrnoException) => {
      this.child = null;
      if (err.code === 'ENOENT') this.down(`${cmd} not found: journald is not available on this machine (install systemd, or tail files with --log)`);
      else this.down(`cannot run ${cmd}: ${err.message}`);
    });
    child.on('exit', (code, signal) => {
      this.child = null;
      if (this.stopped || this.state.state === 'down') return;
      const why = this.stderr.trim().split('\n').pop() ?? '';
      // journalctl exits 1 at once when there is no journal to read: nothing will change by retrying soon.
      if (/No journal files were found|Failed to open|not a journal/i.test(this.stderr)) {
        this.down(`journald is not available: ${why}`);
        return;
      }
      this.counters.restarts++;
      this.state = { state: 'restarting', detail: `journalctl exited (${signal ?? code}${why ? `: ${why}` : ''}); restarting in ${this.delayMs / 1000} s` };
      this.opts.log('warn', this.state.detail!);
      this.restartTimer = setTimeout(() => {
        this.restartTimer = null;
        if (!this.stopped) this.start();
      }, this.delayMs);
      this.restartTimer.unref();
      this.delayMs = Math.min(this.delayMs * 2, 60_000);
    });
  }

  private down(detail: string): void {
    if (this.state.state !== 'down') this.opts.log('error', detail);
    this.state = { state: 'down', detail };
  }

  stop(): Promise<void> {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child) return Promise.resolve();
    return new Promise((resolve) => {
      const done = setTimeout(() => {
        child.kill('SIGKILL');
        resolve();
      }, 2000);
      child.once('exit', () => {
        clearTimeout(done);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }
}
