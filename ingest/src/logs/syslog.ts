/**
 * Syslog framing: the timestamp, host, tag and pid around a message, in the three shapes log files hold —
 * RFC 3164 (BSD: "Mar 27 13:06:56 host sshd[1291]: ...", no year, local time), RFC 5424 ("<34>1 2024-03-27T13:06:56Z
 * host sshd 1291 - - ..."), and rsyslog's high-precision file format (an RFC 3339 timestamp in place of the BSD
 * one). Pure functions over one line; the year of RFC 3164 lines comes from a {@link YearInference}.
 */
import { codeUnits } from './text-bytes';

export type FrameFormat = 'rfc3164' | 'rfc5424' | 'iso' | 'journal' | 'none';

export interface SyslogFrame {
  format: FrameFormat;
  /** Unix seconds (fractional when the line has sub-seconds); null when the line has no timestamp. */
  timestamp: number | null;
  /** PRI (facility * 8 + severity) when the line carries one. */
  pri: number | null;
  host: string | null;
  /** TAG / APP-NAME: the program, "sshd", "sudo", "kernel", "CRON"... */
  app: string | null;
  pid: number | null;
  message: string;
  /** RFC 5424 STRUCTURED-DATA, raw ("-" when none). */
  structuredData?: string;
  msgid?: string | null;
  /**
   * The line as fail2ban's filters see it: without the date its date detector cuts out (filter.py processLine
   * joins what is before and after the date). Equals the line when fail2ban finds no date in it.
   */
  f2bText: string;
}

const MONTHS: Record<string, number> = { jan: 0, feb: 1, mar: 2, apr: 3, may: 4, jun: 5, jul: 6, aug: 7, sep: 8, oct: 9, nov: 10, dec: 11 };

/**
 * fail2ban's default date templates that log files use, anchored at the line start as `{^LN-BEG}` anchors them
 * (datetemplate.py: up to two non-word characters may precede the date), with its field expressions
 * (strptime.py timeRE): "(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?" and
 * "%ExY(?P<_sep>[-/.])%m(?P=_sep)%d(?:T|  ?)%H:%M:%S(?:[.,]%f)?(?:\s*%z)?". Group 1 is the date fail2ban cuts out.
 */
const BSD_DATE_RE =
  /^(?:\W{0,2})?((?:(?:mon|tue|wed|thu|fri|sat|sun) )?(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec) ([1-2]\d|[0 ]?[1-9]|3[0-1])  ?([0-2]?\d):([0-5]?\d):([0-5]?\d|6[0-1])(?:\.([0-9]{1,6}))?(?: (20\d\d))?)(?=\b|\W|$)/i;
const ISO_DATE_RE =
  /^(?:\W{0,2})?((20\d\d)([-/.])(0?[1-9]|1[0-2])\3([1-2]\d|[0 ]?[1-9]|3[0-1])(?:T|  ?)([0-1]?\d|2[0-3]):([0-5]?\d):([0-5]?\d|6[0-1])(?:[.,]([0-9]{1,6}))?(?:\s*(Z|UTC|GMT|[+-][01]\d(?::?\d{2})?))?)(?=\b|\W|$)/;

// After the date: "host tag[pid]: message" (RFC 3164 §4.1.3: TAG is up to 32 alphanumerics; real tags also hold
// '-', '_', '.', '/', and "sshd(pam_unix)" on older systems).
const HEADER_RE = /^ ?(\S+) ([^\s:[\]]{1,64}?(?:\([^\s)]{1,64}\))?)(?:\[(\d{1,10})\])?: ?(.*)$/s;
const TAG_ONLY_RE = /^ ?([A-Za-z][^\s:[\]]{0,63}?(?:\([^\s)]{1,64}\))?)(?:\[(\d{1,10})\])?: (.*)$/s;
// A line without a date: "tag[pid]: message" or "host tag[pid]: message".
const UNDATED_RE = /^(?:([A-Za-z0-9]\S*) )?([A-Za-z][^\s:[\]]{0,63}?(?:\([^\s)]{1,64}\))?)(?:\[(\d{1,10})\])?: (.*)$/s;
const RFC5424_RE = /^<(\d{1,3})>([1-9]\d?) (\S+) (\S+) (\S+) (\S+) (\S+) (.*)$/s;

// fastBsdDate runs once per line: its month and day are table look-ups rather than branches, so that every line
// takes the same path through it (a branch first taken thousands of lines in, at the first "Apr" or the first
// " 7", would throw its optimized code away).
/** Month + 1 by the low five bits of its three letters (distinct for the twelve names); 0 for none. */
const MONTH_BY_BITS = new Uint8Array(1 << 15);
/** The three lowercase letters of month i, packed (c0 << 16 | c1 << 8 | c2). */
const MONTH_KEY = new Int32Array(12);
for (const [name, i] of Object.entries(MONTHS)) {
  const bits = ((name.charCodeAt(0) & 31) << 10) | ((name.charCodeAt(1) & 31) << 5) | (name.charCodeAt(2) & 31);
  if (MONTH_BY_BITS[bits] !== 0) throw new Error(`month names collide: ${name}`);
  MONTH_BY_BITS[bits] = i + 1;
  MONTH_KEY[i] = (name.charCodeAt(0) << 16) | (name.charCodeAt(1) << 8) | name.charCodeAt(2);
}
/** Day of month by the two characters of fail2ban's %d, ([1-2]\d|[0 ]?[1-9]|3[0-1]): 0 for none. */
const DAY_BY_CHARS = new Uint8Array(128 * 128);
for (let d = 1; d <= 31; d++) {
  DAY_BY_CHARS[(48 + Math.floor(d / 10)) * 128 + 48 + (d % 10)] = d;
  if (d < 10) DAY_BY_CHARS[32 * 128 + 48 + d] = d;
}

const digit = (c: number) => c >= 48 && c <= 57;
const wordChar = (c: number) => digit(c) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
const digits2 = (s: string, i: number) => (s.charCodeAt(i) - 48) * 10 + s.charCodeAt(i + 1) - 48;

/**
 * The common "Mmm dd hh:mm:ss " at offset 0, checked by hand: (month << 16 | day), or -1 when the line is not
 * exactly that shape (a fraction, a year, a weekday, odd spacing...), which then goes through BSD_DATE_RE. Every
 * line accepted here is one BSD_DATE_RE matches with the same 15-character date. Reads bytes: a file's, or a
 * line's {@link codeUnits} (non-ASCII characters only ever make it decline, both ways).
 */
export function fastBsdDate(line: Uint8Array, o = 0, end = line.length): number {
  if (end - o < 15 || line[o + 3] !== 32 || line[o + 6] !== 32 || line[o + 9] !== 58 || line[o + 12] !== 58) return -1;
  const c0 = line[o];
  const c1 = line[o + 1];
  const c2 = line[o + 2];
  const month = MONTH_BY_BITS[((c0 & 31) << 10) | ((c1 & 31) << 5) | (c2 & 31)] - 1;
  if (month < 0 || (((c0 | 32) << 16) | ((c1 | 32) << 8) | (c2 | 32)) !== MONTH_KEY[month]) return -1;
  const d0 = line[o + 4];
  const d1 = line[o + 5];
  const day = (d0 | d1) < 128 ? DAY_BY_CHARS[d0 * 128 + d1] : 0;
  if (day === 0) return -1;
  const h0 = line[o + 7];
  const m0 = line[o + 10];
  const s0 = line[o + 13];
  if (!(h0 >= 48 && h0 <= 50 && digit(line[o + 8]) && m0 >= 48 && m0 <= 53 && digit(line[o + 11]) && s0 >= 48 && s0 <= 53 && digit(line[o + 14]))) return -1;
  if (end - o > 15) {
    const next = line[o + 15];
    if (next === 46 /* . */ || wordChar(next) || (next === 32 && end - o > 17 && line[o + 16] === 50 && line[o + 17] === 48)) return -1;
  }
  return (month << 16) | day;
}

/** Turns the year-less dates of RFC 3164 into absolute times (see {@link YearInference.resolve}). */
export class YearInference {
  private readonly cache = new Map<number, number>();
  /** @param refMs the latest time the lines can be from: now for a live tail, the file's mtime offline. */
  constructor(private refMs: number) {}

  setReference(refMs: number): void {
    if (Math.floor(refMs / 3600_000) !== Math.floor(this.refMs / 3600_000)) this.cache.clear();
    this.refMs = refMs;
  }

  reference(): number {
    return this.refMs;
  }

  /**
   * Epoch seconds of a local-time date without year: the latest year in which it is not later than the reference
   * (plus two days for clock and timezone skew). A file read in January holds "Dec 31" lines of last year and
   * "Jan 1" lines of this one; a "Feb 29" goes to the last leap year.
   */
  resolve(month: number, day: number, h: number, m: number, s: number, frac = 0): number {
    // Local time is costly to compute (Date with a time zone); lines come in runs of the same hour, and offsets
    // change on hour boundaries in practice, so the start of each local hour is computed once.
    const key = ((month * 32 + day) * 24 + h) | 0;
    let hourStart = this.cache.get(key);
    if (hourStart === undefined) {
      hourStart = this.resolveMs(month, day, h, 0, 0);
      if (this.cache.size > 4096) this.cache.clear();
      this.cache.set(key, hourStart);
    }
    return (hourStart + m * 60_000 + s * 1000 + frac) / 1000;
  }

  private resolveMs(month: number, day: number, h: number, m: number, s: number): number {
    const limit = this.refMs + 2 * 86400_000;
    let year = new Date(this.refMs).getFullYear();
    for (let tries = 0; tries < 9; tries++, year--) {
      const d = new Date(year, month, day, h, m, s);
      if (d.getMonth() !== month || d.getDate() !== day) continue; // Feb 29 of a common year
      const t = d.getTime();
      if (t <= limit) return t;
    }
    return new Date(new Date(this.refMs).getFullYear(), month, day, h, m, s).getTime();
  }
}

function fraction(digits: string | undefined): number {
  return digits ? Number(digits) / 10 ** digits.length * 1000 : 0;
}

function tzOffsetMs(tz: string | undefined): number | null {
  if (!tz) return null;
  if (tz === 'Z' || tz === 'UTC' || tz === 'GMT') return 0;
  const sign = tz[0] === '-' ? -1 : 1;
  const digits = tz.slice(1).replace(':', '');
  const hh = Number(digits.slice(0, 2));
  const mm = digits.length > 2 ? Number(digits.slice(2, 4)) : 0;
  return sign * (hh * 60 + mm) * 60_000;
}

function isoToSeconds(m: RegExpExecArray, yearIdx: number): number {
  const [y, mo, d, h, mi, s] = [m[yearIdx], m[yearIdx + 2], m[yearIdx + 3], m[yearIdx + 4], m[yearIdx + 5], m[yearIdx + 6]].map(Number);
  const frac = fraction(m[yearIdx + 7]);
  const off = tzOffsetMs(m[yearIdx + 8]);
  if (off === null) return (new Date(y, mo - 1, d, h, mi, s).getTime() + frac) / 1000;
  return (Date.UTC(y, mo - 1, d, h, mi, s) - off + frac) / 1000;
}

/** RFC 3339 timestamp of RFC 5424 (§6.2.3), or null for "-" and anything malformed. */
export function parseRfc3339(s: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(s);
  if (!m) return null;
  const off = tzOffsetMs(m[8])!;
  const ms = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) - off + (m[7] ? Number(m[7].slice(0, 6).padEnd(6, '0')) / 1000 : 0);
  return Number.isFinite(ms) ? ms / 1000 : null;
}

/** Splits RFC 5424 STRUCTURED-DATA (§6.3) from the MSG that follows; null when it is malformed. */
function splitStructuredData(rest: string): { sd: string; msg: string } | null {
  if (rest.startsWith('-')) return { sd: '-', msg: rest.length > 1 && rest[1] === ' ' ? rest.slice(2) : rest.slice(1) };
  let i = 0;
  while (i < rest.length && rest[i] === '[') {
    let inQuote = false;
    i++;
    for (; i < rest.length; i++) {
      const c = rest[i];
      if (c === '\\' && inQuote) i++;
      else if (c === '"') inQuote = !inQuote;
      else if (c === ']' && !inQuote) break;
    }
    if (i >= rest.length) return null;
    i++;
  }
  if (i === 0) return null;
  const msg = rest.slice(i);
  return { sd: rest.slice(0, i), msg: msg.startsWith(' ') ? msg.slice(1) : msg };
}

function nil(s: string): string | null {
  return s === '-' ? null : s;
}

function header(rest: string, frame: SyslogFrame): void {
  // No host: "Nov 23 21:50:19 sshd[8148]: ..." (a host name never ends with a colon).
  const t = TAG_ONLY_RE.exec(rest);
  if (t) {
    frame.app = t[1];
    frame.pid = t[2] !== undefined ? Number(t[2]) : null;
    frame.message = t[3];
    return;
  }
  const h = HEADER_RE.exec(rest);
  if (h) {
    frame.host = h[1];
    frame.app = h[2];
    frame.pid = h[3] !== undefined ? Number(h[3]) : null;
    frame.message = h[4];
  } else {
    // "host message" without a tag (RFC 3164 allows it), or a bare message.
    const sp = /^ ?(\S+) (.*)$/s.exec(rest);
    frame.host = sp ? sp[1] : null;
    frame.message = sp ? sp[2] : rest.trimStart();
  }
}

/**
 * Frames one line (no trailing newline). `years` resolves RFC 3164 dates; `lastTimestamp` stands in for lines
 * without a date (fail2ban does the same). Never throws; a line with no recognisable shape comes back with
 * format 'none', app null and the whole line as message.
 */
export function parseSyslogLine(line: string, years: YearInference): SyslogFrame {
  const frame: SyslogFrame = { format: 'none', timestamp: null, pri: null, host: null, app: null, pid: null, message: line, f2bText: line };
  let body = line;
  let priLen = 0;
  if (line.charCodeAt(0) === 60 /* < */) {
    const v = RFC5424_RE.exec(line);
    if (v) {
      const sd = splitStructuredData(v[8]);
      const ts = v[3] === '-' ? null : parseRfc3339(v[3]);
      if (sd && Number(v[1]) <= 191 && (ts !== null || v[3] === '-')) {
        frame.format = 'rfc5424';
        frame.pri = Number(v[1]);
        frame.timestamp = ts;
        frame.host = nil(v[4]);
        frame.app = nil(v[5]);
        const pid = nil(v[6]);
        frame.pid = pid !== null && /^\d{1,10}$/.test(pid) ? Number(pid) : null;
        frame.msgid = nil(v[7]);
        frame.structuredData = sd.sd;
        // §6.4: a UTF-8 MSG starts with a BOM.
        frame.message = sd.msg.charCodeAt(0) === 0xfeff ? sd.msg.slice(1) : sd.msg;
        return frame;
      }
    }
    const p = /^<(\d{1,3})>/.exec(line);
    if (p && Number(p[1]) <= 191) {
      frame.pri = Number(p[1]);
      priLen = p[0].length;
      body = line.slice(priLen);
    }
  }
  const fast = fastBsdDate(codeUnits(line));
  if (fast >= 0) {
    frame.format = 'rfc3164';
    frame.timestamp = years.resolve(fast >>> 16, fast & 0xffff, digits2(line, 7), digits2(line, 10), digits2(line, 13));
    frame.f2bText = line.slice(15);
    header(frame.f2bText, frame);
    return frame;
  }
  // fail2ban looks for the date at the very start of the line; a PRI in front hides it from fail2ban, not from us.
  let bsd = BSD_DATE_RE.exec(line);
  let off = 0;
  if (!bsd && priLen) {
    bsd = BSD_DATE_RE.exec(body);
    off = priLen;
  }
  if (bsd) {
    const start = off + bsd[0].length - bsd[1].length;
    const end = off + bsd[0].length;
    const month = MONTHS[bsd[2].toLowerCase()];
    const [day, h, m, s] = [Number(bsd[3]), Number(bsd[4]), Number(bsd[5]), Number(bsd[6])];
    const frac = fraction(bsd[7]);
    frame.format = 'rfc3164';
    frame.timestamp = bsd[8] ? (new Date(Number(bsd[8]), month, day, h, m, s).getTime() + frac) / 1000 : years.resolve(month, day, h, m, s, frac);
    frame.f2bText = off === 0 ? line.slice(0, start) + line.slice(end) : line;
    header(line.slice(end), frame);
    return frame;
  }
  const iso = ISO_DATE_RE.exec(line);
  if (iso) {
    const start = iso[0].length - iso[1].length;
    const end = iso[0].length;
    frame.format = 'iso';
    frame.timestamp = isoToSeconds(iso, 2);
    frame.f2bText = line.slice(0, start) + line.slice(end);
    header(line.slice(end), frame);
    return frame;
  }
  const u = UNDATED_RE.exec(body);
  if (u) {
    frame.host = u[1] ?? null;
    frame.app = u[2];
    frame.pid = u[3] !== undefined ? Number(u[3]) : null;
    frame.message = u[4];
  }
  return frame;
}

/** RFC 5424 §6.2.1 severities (PRI & 7) to the product's levels. */
export function levelFromPri(pri: number): 'critical' | 'error' | 'warning' | 'notice' | 'info' | 'debug' {
  const sev = pri & 7;
  if (sev <= 2) return 'critical';
  if (sev === 3) return 'error';
  if (sev === 4) return 'warning';
  if (sev === 5) return 'notice';
  if (sev === 6) return 'info';
  return 'debug';
}

/**
 * {@link SyslogFrame.f2bText} alone, for callers that need no framing (the offline summary); null when fail2ban
 * finds no date at the start of the line.
 */
export function fail2banText(line: string): string | null {
  if (fastBsdDate(codeUnits(line)) >= 0) return line.slice(15);
  const bsd = BSD_DATE_RE.exec(line) ?? ISO_DATE_RE.exec(line);
  if (!bsd) return null;
  const start = bsd[0].length - bsd[1].length;
  return line.slice(0, start) + line.slice(bsd[0].length);
}
