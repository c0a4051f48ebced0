/**
 * Query time bounds: epoch milliseconds, RFC 3339 date-times, or Grafana's relative `now-<n><unit>`.
 * Date.parse alone is not used as the gate: it accepts engine-specific forms ("2026-11-22" as UTC
 * midnight, "Nov 22 2026" as local time) whose meaning differs between the server and the browser.
 */
import { NetwatchError } from './errors';

/** ECMAScript's largest time value (ECMA-262 §21.4.1.1), 8.64e15 ms after the epoch. */
const MAX_TIME_MS = 8.64e15;

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

// Grafana's relative times; calendar units (M, y) and rounding (now/d) depend on a time zone and are not accepted.
const RELATIVE = /^now(?:([+-])(\d{1,9})([smhdw]))?$/;

// RFC 3339 §5.6 date-time; "T"/"Z" may be lowercase and a space may separate date and time (§5.6 NOTE).
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

const EXPECTED = 'expected epoch milliseconds, an RFC 3339 date-time (2026-11-22T10:00:00Z) or now[-<n><s|m|h|d|w>]';

function bad(reason: string, path: string): NetwatchError {
  return new NetwatchError('NETWATCH_ERR_BAD_TIME_RANGE', reason, path);
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** Epoch ms of an RFC 3339 date-time, or NaN when a field is out of its range (RFC 3339 §5.7). */
function rfc3339Ms(m: RegExpExecArray): number {
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number);
  const offsetHours = m[9] ? Number(m[10]) : 0;
  const offsetMinutes = m[9] ? Number(m[11]) : 0;
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return NaN;
  // Second 60 is a leap second (§5.7); it reads as the first instant of the next minute, as POSIX time has it.
  if (hour > 23 || minute > 59 || second > 60 || offsetHours > 23 || offsetMinutes > 59) return NaN;
  // Digits past milliseconds are truncated; arithmetic on the fraction would round 0.57 s to 569 ms.
  const fractionMs = m[7] ? Number(`${m[7].slice(1)}00`.slice(0, 3)) : 0;
  const sign = m[9] === '-' ? -1 : 1;
  // Date.UTC maps years 0-99 to 1900-1999; those are before the epoch and refused by the caller anyway.
  const local = Date.UTC(year, month - 1, day, hour, minute, second, fractionMs);
  return local - sign * (offsetHours * 60 + offsetMinutes) * 60_000;
}

/**
 * Parses a time bound to epoch milliseconds: a finite number or numeric string (epoch ms), an RFC 3339
 * date-time with `Z` or a numeric offset, or `now`, `now-15m`, `now+1h` (units s, m, h, d, w) relative to `now`.
 * Times before the epoch are refused. Throws NETWATCH_ERR_BAD_TIME_RANGE naming the value otherwise.
 */
export function parseTime(v: unknown, path = '', now: number = Date.now()): number {
  let ms: number;
  if (typeof v === 'number') {
    ms = v;
  } else if (typeof v === 'string') {
    const s = v.trim();
    let m: RegExpExecArray | null;
    if (/^\d+(\.\d+)?$/.test(s)) {
      ms = Number(s);
    } else if ((m = RELATIVE.exec(s))) {
      ms = m[1] === undefined ? now : now + (m[1] === '-' ? -1 : 1) * Number(m[2]) * UNIT_MS[m[3]];
    } else if ((m = RFC3339.exec(s))) {
      ms = rfc3339Ms(m);
      if (Number.isNaN(ms)) throw bad(`${JSON.stringify(v)}: a date or time field is out of range`, path);
    } else {
      throw bad(`${JSON.stringify(v)}: ${EXPECTED}`, path);
    }
  } else {
    throw bad(`expected a number or string time, got ${v === null ? 'null' : typeof v}`, path);
  }
  const shown = typeof v === 'string' ? JSON.stringify(v) : String(v);
  if (!Number.isFinite(ms)) throw bad(`${shown}: ${EXPECTED}`, path);
  if (ms < 0) throw bad(`${shown}: time is before 1970-01-01T00:00:00Z`, path);
  if (ms > MAX_TIME_MS) throw bad(`${shown}: time is after the largest representable date`, path);
  return ms;
}

/** Parses both bounds against the same `now`; `from` may equal `to` but not follow it. */
export function parseTimeRange(from: unknown, to: unknown, now: number = Date.now()): { fromMs: number; toMs: number } {
  const fromMs = parseTime(from, '/from', now);
  const toMs = parseTime(to, '/to', now);
  if (fromMs > toMs) {
    throw bad(`from (${new Date(fromMs).toISOString()}) is after to (${new Date(toMs).toISOString()})`, '/from');
  }
  return { fromMs, toMs };
}
