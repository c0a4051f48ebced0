/**
 * For the security tests: a real SQLite file in a temporary directory, the real log event writer, and log events
 * parsed from the shared real logs by the logs component's own parser.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLogEventWriter, type LogEvent, type LogEventWriter } from '../logs/events';
import { LogLineParser, type LogType } from '../logs/parse';
import { Store } from '../store';
import { testDataPath } from '../testing/data';

/** A temporary directory per test file; `file(name)` is a fresh path in it. */
export function tempDir(prefix: string): { file(name: string): string } {
  let dir = '';
  beforeAll(() => (dir = mkdtempSync(path.join(os.tmpdir(), prefix))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  return {
    file: (name) => {
      // Called at collection time the directory does not exist yet: the file would land in the working directory.
      if (dir === '') throw new Error('tempDir().file() must be called inside a test or a before hook');
      return path.join(dir, `${++n}-${name}`);
    },
  };
}

export function openStore(file: string): { store: Store; events: LogEventWriter } {
  const store = Store.open({ path: file });
  return { store, events: createLogEventWriter(store, { flushIntervalMs: 60_000 }) };
}

/** Every event of a shared log file, in order, parsed as `type` with the year inferred against `refMs`. */
export function parsedLog(file: string, type: LogType = 'auto', refMs = Date.UTC(2026, 0, 1)): LogEvent[] {
  const parser = new LogLineParser({ type, refMs });
  const out: LogEvent[] = [];
  for (const line of readFileSync(testDataPath('logs', file), 'utf8').split('\n')) {
    const r = parser.parse(line);
    if (r.event) out.push(r.event);
  }
  return out;
}

/** The reference per-IP failure counts of fail2ban-regex for a shared log (`<name>.fail2ban_counts.tsv`). */
export function fail2banCounts(name: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of readFileSync(testDataPath('logs', `${name}.fail2ban_counts.tsv`), 'utf8').split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const [n, ip] = line.split('\t');
    out[ip.trim()] = Number(n);
  }
  return out;
}

let pidSeq = 0;
/** A log event as a parser would make it; `at` in Unix seconds. */
export function ev(at: number, action: LogEvent['action'], fields: Partial<LogEvent> = {}): LogEvent {
  const failure = action === 'failed_password' || action === 'invalid_user' || action === 'max_auth_attempts';
  return {
    timestamp: at,
    source: 'auth',
    level: failure ? 'warning' : 'info',
    message: `${action} ${fields.user ?? ''} ${fields.ip ?? ''}`.trim(),
    service: 'sshd',
    action,
    ...fields,
    metadata: { pid: 900_000 + ++pidSeq, ...(failure ? { f2b_failure: true } : {}), ...fields.metadata },
  };
}
