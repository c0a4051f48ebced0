/**
 * Logging as hclog's JSON format, which go-plugin's host parses from the plugin's stderr line by line
 * (log_entry.go there): `@level`, `@message` (a string, always) and `@timestamp` in Go's layout
 * `2006-01-02T15:04:05.000000Z07:00` (exactly six fractional digits, which toISOString's three fail), plus
 * any other keys as the entry's key/value pairs. Grafana re-logs each entry under the plugin's name.
 */
export const LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const;
export type Level = (typeof LEVELS)[number];

export type Fields = Record<string, unknown>;

/** `@timestamp` in UTC with microseconds; `nowMs` may carry a fraction of a millisecond. */
export function hclogTimestamp(nowMs: number): string {
  const whole = Math.floor(nowMs);
  const iso = new Date(whole).toISOString(); // 2026-11-22T10:00:00.123Z
  const micros = Math.floor((nowMs - whole) * 1000);
  return `${iso.slice(0, 23)}${String(micros).padStart(3, '0')}Z`;
}

/** Values as JSON allows; errors become their message (an Error serialises to `{}`), bigints their digits. */
function plain(v: unknown): unknown {
  if (v instanceof Error) return v.message;
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  return v;
}

/** One log line; keys starting with `@` in `fields` are renamed so they cannot clobber hclog's own. */
export function hclogLine(level: Level, message: string, fields: Fields | undefined, nowMs: number): string {
  const entry: Record<string, unknown> = { '@level': level, '@message': String(message), '@timestamp': hclogTimestamp(nowMs) };
  if (fields) for (const [k, v] of Object.entries(fields)) if (v !== undefined) entry[k.startsWith('@') ? `_${k.slice(1)}` : k] = plain(v);
  return `${JSON.stringify(entry)}\n`;
}

export interface Logger {
  level: Level;
  trace(msg: string, fields?: Fields): void;
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
}

export function parseLevel(s: string | undefined, fallback: Level): Level {
  const v = (s ?? '').trim().toLowerCase();
  if (v === 'warning') return 'warn';
  return (LEVELS as readonly string[]).includes(v) ? (v as Level) : fallback;
}

/** A logger writing hclog JSON lines; `write` defaults to stderr, `clock` to a sub-millisecond wall clock. */
export function createLogger(level: Level, write: (line: string) => void = (l) => process.stderr.write(l), clock: () => number = wallClockMs): Logger {
  const logger: Logger = {
    level,
    trace: (m, f) => log('trace', m, f),
    debug: (m, f) => log('debug', m, f),
    info: (m, f) => log('info', m, f),
    warn: (m, f) => log('warn', m, f),
    error: (m, f) => log('error', m, f),
  };
  function log(l: Level, msg: string, fields?: Fields) {
    if (LEVELS.indexOf(l) < LEVELS.indexOf(logger.level)) return;
    write(hclogLine(l, msg, fields, clock()));
  }
  return logger;
}

let originMs = Date.now() - performance.now();

/**
 * Wall clock with sub-millisecond resolution: performance.now's monotonic fraction on an origin taken from
 * Date.now, re-anchored when the system clock is stepped by more than a second.
 */
export function wallClockMs(): number {
  const t = originMs + performance.now();
  const wall = Date.now();
  if (Math.abs(t - wall) > 1000) {
    originMs = wall - performance.now();
    return wall;
  }
  return t;
}
