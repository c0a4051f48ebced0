/**
 * One log line -> one LogEvent (or a counted skip). The parser of one source: it holds what a line alone does not
 * say — the year of RFC 3164 dates, the timestamp of undated lines, and sshd's connections (fail2ban correlates a
 * connection's lines, so the failure count of a line can depend on an earlier one).
 *
 * Source types (`--log TYPE:PATH`): auth (auth.log / secure), fail2ban (fail2ban.log), syslog, kern (kern.log),
 * auto (decided per line). The type names the event source; which program wrote a line is read from the line.
 */
import type { LogAction, LogEvent, LogLevel } from './events';
import { capField, parseFail2banMessage, parseFirewallMessage, parseSudoMessage, type ProgramMatch } from './programs';
import { logEvidence } from '../security/evidence';
import { canonicalIp, FAST_MATCH, FAST_NONE, matchSshdAt, matchSshdContent, scanFail2banPrefix, scannedMlfidEnd, splitFail2banPrefix, SSHD_FAST, SshdFailureTracker, stripSshdErrorPrefix, type SshdMatch } from './sshd';
import { fail2banText, fastBsdDate, levelFromPri, parseSyslogLine, YearInference, type SyslogFrame } from './syslog';
import type { JournalFields } from './journald';
import { LogSummary } from './summary';

import { LOG_TYPES, type LogType } from './sources';

export { LOG_TYPES, type LogType };

export const SKIP_REASONS = ['empty', 'binary', 'overlong', 'garbage'] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

/** Longest message stored, characters (the line itself may be longer, up to the tailer's line limit). */
export const MAX_MESSAGE_CHARS = 2048;

export type ParseResult = { event: LogEvent; skip?: undefined } | { event?: undefined; skip: SkipReason };

export interface LineParserOptions {
  type: LogType;
  /** The latest time lines can be from (ms): now when tailing, the file's mtime offline. Default: now. */
  refMs?: number;
  /** Connections of sshd kept for fail2ban's correlation (fail2ban keeps 100). */
  maxConnections?: number;
}

const AUTH_APPS = new Set(['sshd', 'sudo', 'su', 'login', 'passwd', 'chpasswd', 'useradd', 'userdel', 'usermod', 'groupadd', 'systemd-logind', 'polkitd', 'pkexec', 'CRON', 'cron', 'dropbear', 'chsh', 'chfn', 'gdm-password']);
const ERROR_WORDS = /\b(?:error|failed|failure|fatal|panic|segfault|denied|cannot|unable)\b/i;
const WARN_WORDS = /\b(?:warn(?:ing)?|deprecated|timeout|timed out|refused)\b/i;
const CRIT_WORDS = /\b(?:critical|emergency|out of memory|oom-killer|kernel panic)\b/i;
const FROM_IP = /\bfrom ((?:\d{1,3}\.){3}\d{1,3}|[0-9a-fA-F]{0,4}:[0-9a-fA-F:.]{2,45})\b/;

const SSHD_LEVEL: Partial<Record<LogAction, LogLevel>> = {
  failed_password: 'warning',
  failed_publickey: 'notice',
  auth_failure: 'warning',
  invalid_user: 'warning',
  user_not_allowed: 'warning',
  login_refused: 'warning',
  connection_refused: 'warning',
  max_auth_attempts: 'warning',
  pam_auth_failure: 'warning',
  negotiation_failure: 'notice',
  accepted_password: 'info',
  accepted_publickey: 'info',
  accepted_other: 'info',
};

/** True when the text holds bytes no text log holds: NUL and other C0 controls but tab, DEL, or U+FFFD from undecodable bytes. */
export function isBinary(line: string): boolean {
  return isBinaryRange(line, 0, line.length);
}

function isBinaryRange(line: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = line.charCodeAt(i);
    if ((c < 32 && c !== 9) || c === 127 || c === 0xfffd) return true;
  }
  return false;
}

/** {@link isBinaryRange} of ASCII bytes. */
function isBinaryBytes(b: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = b[i];
    if ((c < 32 && c !== 9) || c === 127) return true;
  }
  return false;
}

function isAsciiText(text: string): boolean {
  // Every character one UTF-8 byte: all of them ASCII (counted natively, without a loop to compile).
  return Buffer.byteLength(text, 'utf8') === text.length;
}

/** "fail2ban" at `b[i]`. */
function isFail2banAt(b: Uint8Array, i: number): boolean {
  return b[i] === 102 && b[i + 1] === 97 && b[i + 2] === 105 && b[i + 3] === 108 && b[i + 4] === 50 && b[i + 5] === 98 && b[i + 6] === 97 && b[i + 7] === 110;
}

function textLevel(msg: string): LogLevel {
  if (CRIT_WORDS.test(msg)) return 'critical';
  if (ERROR_WORDS.test(msg)) return 'error';
  if (WARN_WORDS.test(msg)) return 'warning';
  return 'info';
}

export class LogLineParser {
  readonly type: LogType;
  private readonly years: YearInference;
  private readonly tracker: SshdFailureTracker;
  private lastTimestamp: number | null = null;

  constructor(opts: LineParserOptions) {
    this.type = opts.type;
    this.years = new YearInference(opts.refMs ?? Date.now());
    this.tracker = new SshdFailureTracker(opts.maxConnections ?? 100);
  }

  /** Moves the reference time (a tail calls it as the clock advances). */
  setReference(refMs: number): void {
    this.years.setReference(refMs);
  }

  trackerCounters() {
    return this.tracker.counters();
  }

  /** Parses one line without its newline (a trailing CR is dropped). */
  parse(raw: string): ParseResult {
    const line = raw.charCodeAt(raw.length - 1) === 13 ? raw.slice(0, -1) : raw;
    if (line.length === 0 || (line.length < 64 && line.trim() === '')) return { skip: 'empty' };
    if (isBinary(line)) return { skip: 'binary' };
    const frame = parseSyslogLine(line, this.years);
    if (frame.timestamp === null) {
      // fail2ban.log is not syslog: "2024-03-27 13:06:56,123 fail2ban.actions [1]: NOTICE [sshd] Ban 1.2.3.4" is
      // framed as ISO above; an undated line with no "prog: " shape is not a log line.
      if (frame.app === null && frame.format !== 'rfc5424') return { skip: 'garbage' };
      frame.timestamp = this.lastTimestamp ?? this.years.reference() / 1000;
    } else {
      this.lastTimestamp = frame.timestamp;
    }
    return { event: this.toEvent(line, frame) };
  }

  /**
   * Counts one line into `summary` as {@link parse} followed by `summary.add(event)` would, without building the
   * event for the common lines (a dated line of any program but fail2ban): the offline summary of a large file
   * spends its time here. Every other line goes through parse() itself.
   */
  tally(raw: string, summary: LogSummary): SkipReason | null {
    const line = raw.charCodeAt(raw.length - 1) === 13 ? raw.slice(0, -1) : raw;
    const c0 = line.charCodeAt(0);
    const text = c0 === 60 /* < */ || c0 === 32 || c0 === 9 || line.includes('fail2ban') ? null : fail2banText(line);
    if (text === null || isBinary(line)) return this.parseInto(raw, summary);
    const p = splitFail2banPrefix(text);
    if (p === null) return null;
    const m = matchSshdContent(p.content, true);
    if (m === null) {
      // A login by a method fail2ban's rule does not take (keyboard-interactive/pam) still counts as accepted.
      return p.content.startsWith('Accepted ') ? this.parseInto(raw, summary) : null;
    }
    const t = this.tracker.observe(p.mlfid, m);
    summary.count(m.ip ?? t.ip, t.failure, m.action);
    return null;
  }

  private parseInto(raw: string, summary: LogSummary): SkipReason | null {
    const r = this.parse(raw);
    if (r.skip) return r.skip;
    summary.add(r.event);
    return null;
  }

  /**
   * {@link tally} over many lines at once: `text` holds complete ASCII lines joined by "\n" (no final newline).
   * The bytes of the same text go through {@link tallyBytes}; text with other characters goes line by line.
   */
  tallyBlock(text: string, summary: LogSummary, onSkip: (reason: SkipReason) => void): number {
    if (isAsciiText(text)) return this.tallyBytes(Buffer.from(text, 'latin1'), summary, onSkip);
    const lines = text.split('\n');
    for (const line of lines) {
      const skip = this.tally(line, summary);
      if (skip) onSkip(skip);
    }
    return lines.length;
  }

  /**
   * {@link tally} over many lines at once (LineSink.bytes): `b` holds complete lines of ASCII joined by "\n" (no
   * final newline), a byte being a character. The usual line is scanned in place, matched by the hand-written
   * matchers of sshd.ts, and costs no string unless it counts (a new connection, user or address). A line that
   * contributes nothing to a summary is not inspected further, so binary lines among those are not counted as
   * skipped; any other line goes through tally(). Lines longer than `maxLineBytes` are skipped as overlong.
   */
  tallyBytes(b: Buffer, summary: LogSummary, onSkip: (reason: SkipReason) => void, maxLineBytes = Infinity): number {
    const n = b.length;
    let lines = 0;
    for (let s = 0; s <= n; lines++) {
      let e = b.indexOf(10, s);
      if (e < 0) e = n;
      if (e - s > maxLineBytes) onSkip('overlong');
      else this.tallyLine(b, s, e > s && b[e - 1] === 13 ? e - 1 : e, summary, onSkip);
      s = e + 1;
    }
    return lines;
  }

  /**
   * One line `b[s, e)` of {@link tallyBytes} (without its newline and CR). A method of its own, so that V8 compiles
   * it once: a loop over the lines around it would have it compiled twice, on-stack and then again whole.
   */
  private tallyLine(b: Buffer, s: number, e: number, summary: LogSummary, onSkip: (reason: SkipReason) => void): void {
    const f = SSHD_FAST;
    const c0 = e > s ? b[s] : 0;
    // Shapes only the full path knows: empty, PRI, indented, no fast date, fail2ban's own lines.
    const at = c0 === 60 || c0 <= 32 || fastBsdDate(b, s, e) < 0 ? -1 : scanFail2banPrefix(b, s + 15, e);
    const idEnd = scannedMlfidEnd;
    if (at < 0 || (b[s + 16] === 102 && isFail2banAt(b, s + 16)) || (b[idEnd] === 102 && isFail2banAt(b, idEnd))) return this.tallyText(b, s, e, summary, onSkip);
    const r = matchSshdAt(b, at, e);
    if (r === FAST_MATCH) {
      // The matcher read all of the line but its rest: a control character can only be there.
      if (f.restStart >= 0 && isBinaryBytes(b, f.restStart, e)) return onSkip('binary');
      const failure = this.tracker.observeFast(b, s + 15, idEnd);
      const ev = logEvidence(f.action, failure);
      if (ev === 0) return;
      // The line's own address, or (a line naming none) its connection's; either way the IPv4 number.
      if (f.ipStart >= 0) {
        if (f.ipCanonical) summary.countEvidenceV4(f.ipValue, ev);
      } else if (this.tracker.lastIpIsV4) summary.countEvidenceV4(this.tracker.lastIpValue, ev);
      else if (this.tracker.lastIp !== null) summary.countEvidence(this.tracker.lastIp, ev);
    } else if (r !== FAST_NONE) this.tallyUnsure(b, s, at, idEnd, e, summary, onSkip);
  }

  /** A line of {@link tallyBytes} that only the expressions can decide (rare: kept out of the scan's loop). */
  private tallyUnsure(b: Buffer, s: number, at: number, idEnd: number, e: number, summary: LogSummary, onSkip: (reason: SkipReason) => void): void {
    if (isBinaryBytes(b, s, e)) return onSkip('binary');
    const content = b.toString('latin1', at, e);
    const m = matchSshdContent(content, true);
    if (m !== null) {
      const t = this.tracker.observe(b.toString('latin1', s + 15, idEnd), m);
      summary.count(m.ip ?? t.ip, t.failure, m.action);
    } else if (content.startsWith('Accepted ')) this.tallyText(b, s, e, summary, onSkip);
  }

  /** A line of {@link tallyBytes} that goes through {@link tally}. */
  private tallyText(b: Buffer, s: number, e: number, summary: LogSummary, onSkip: (reason: SkipReason) => void): void {
    const skip = this.tally(b.toString('latin1', s, e), summary);
    if (skip) onSkip(skip);
  }

  /** One journal entry (journalctl -o json): the journal gives the framing, the message is parsed as a line's. */
  parseJournal(f: JournalFields): ParseResult {
    if (f.message.trim() === '') return { skip: 'empty' };
    if (isBinary(f.message)) return { skip: 'binary' };
    const timestamp = f.timestamp ?? this.lastTimestamp ?? this.years.reference() / 1000;
    this.lastTimestamp = timestamp;
    const frame: SyslogFrame = {
      format: 'journal',
      timestamp,
      // The journal's PRIORITY is the syslog severity; keep the facility unknown (user.*) for levelFromPri.
      pri: f.priority !== null ? 8 + f.priority : null,
      host: f.host,
      app: f.identifier,
      pid: f.pid,
      message: f.message,
      f2bText: f.message,
    };
    const e = this.toEvent(f.message, frame);
    e.source = 'journald';
    if (f.unit) e.metadata = { ...e.metadata, unit: f.unit };
    return { event: e };
  }

  private toEvent(line: string, frame: SyslogFrame): LogEvent {
    const app = frame.app;
    const f2bApp = app !== null && app.startsWith('fail2ban');
    // fail2ban.log: "fail2ban.actions [123]: NOTICE [sshd] Ban ..." lands in app/message, or all in the message.
    if (f2bApp) {
      const msg = app!.startsWith('fail2ban.') ? `${app}: ${frame.message}` : frame.message;
      const f = parseFail2banMessage(msg);
      if (f) return this.programEvent(frame, 'fail2ban', 'fail2ban', f, msg);
    } else if (frame.format === 'iso' && frame.f2bText.startsWith(' fail2ban.')) {
      // fail2ban.log itself: "<date> fail2ban.actions        [611]: NOTICE  [sshd] Ban 1.2.3.4" is no syslog header.
      const msg = frame.f2bText.slice(1);
      const f = parseFail2banMessage(msg);
      if (f) return this.programEvent({ ...frame, host: null, pid: null, app: null }, 'fail2ban', 'fail2ban', f, msg);
    }
    // fail2ban's view of the line decides failures, whatever the program (its filter does not require "sshd[").
    let sshd: SshdMatch | null = null;
    let f2b: { failure: boolean; ip: string | null } | null = null;
    if (frame.format === 'journal') {
      // As fail2ban's systemd backend: the journal gives the connection (host, program, pid) and the message.
      if (app === 'sshd') {
        sshd = matchSshdContent(stripSshdErrorPrefix(frame.message));
        if (sshd?.f2b) f2b = this.tracker.observe(`${frame.host ?? ''} sshd[${frame.pid ?? ''}]: `, sshd);
      }
    } else if (frame.format === 'rfc5424') {
      // fail2ban's default (file) mode finds no date and no "sshd[pid]:" in an RFC 5424 line, so it counts no
      // failure in it (it would with logtype = rfc5424); the failure flag follows fail2ban, the action the line.
      if (app === 'sshd') sshd = matchSshdContent(stripSshdErrorPrefix(frame.message));
      const p = splitFail2banPrefix(frame.f2bText);
      const m = p !== null ? matchSshdContent(p.content, true) : null;
      if (p !== null && m !== null) {
        f2b = this.tracker.observe(p.mlfid, m);
        sshd ??= m;
      }
    } else {
      const p = splitFail2banPrefix(frame.f2bText);
      if (p !== null) {
        const m = matchSshdContent(p.content);
        if (m !== null && m.f2b) {
          f2b = this.tracker.observe(p.mlfid, m);
          sshd = m;
        } else if (app === 'sshd') {
          sshd = m;
        }
      }
    }
    if (sshd !== null) return this.sshdEvent(frame, sshd, f2b);
    if (app === 'sudo') {
      const s = parseSudoMessage(frame.message);
      if (s) return this.programEvent(frame, 'auth', 'sudo', s);
    }
    if (app === 'kernel' || this.type === 'kern') {
      const k = parseFirewallMessage(frame.message);
      if (k) return this.programEvent(frame, 'kern', 'kernel', k);
    }
    return this.genericEvent(frame);
  }

  private source(guess: string): string {
    return this.type === 'auto' ? guess : this.type;
  }

  private base(frame: SyslogFrame, source: string, service: string | null, message: string, level: LogLevel): LogEvent {
    return {
      timestamp: frame.timestamp!,
      source: this.source(source),
      level,
      message: message.length > MAX_MESSAGE_CHARS ? message.slice(0, MAX_MESSAGE_CHARS) : message,
      ip: null,
      user: null,
      service: capField(service, 64),
      action: 'other',
      metadata: null,
    };
  }

  private frameMeta(frame: SyslogFrame): Record<string, unknown> {
    const meta: Record<string, unknown> = {};
    if (frame.host !== null) meta.host = capField(frame.host, 255);
    if (frame.pid !== null) meta.pid = frame.pid;
    return meta;
  }

  private sshdEvent(frame: SyslogFrame, m: SshdMatch, f2b: { failure: boolean; ip: string | null } | null): LogEvent {
    const e = this.base(frame, 'auth', frame.app ?? 'sshd', frame.message, SSHD_LEVEL[m.action] ?? 'info');
    e.action = m.action;
    e.user = capField(m.user, 128);
    e.ip = m.ip ?? f2b?.ip ?? null;
    const meta = this.frameMeta(frame);
    if (m.port !== null) meta.port = m.port;
    if (m.method !== null) meta.method = capField(m.method, 32);
    if (m.host !== null) meta.remote_host = capField(m.host, 255);
    if (f2b?.failure) meta.f2b_failure = true;
    e.metadata = meta;
    return e;
  }

  private programEvent(frame: SyslogFrame, source: string, service: string, p: ProgramMatch, message = frame.message): LogEvent {
    const e = this.base(frame, source, service, message, p.level);
    e.action = p.action;
    e.ip = p.ip ?? null;
    e.user = p.user ?? null;
    e.metadata = { ...this.frameMeta(frame), ...p.metadata };
    return e;
  }

  private genericEvent(frame: SyslogFrame): LogEvent {
    const app = frame.app;
    const source = app === 'kernel' ? 'kern' : app !== null && AUTH_APPS.has(app) ? 'auth' : 'syslog';
    const level = frame.pri !== null ? levelFromPri(frame.pri) : textLevel(frame.message);
    const e = this.base(frame, source, app, frame.message, level);
    if (level === 'error' || level === 'critical') e.action = 'error';
    const ip = FROM_IP.exec(frame.message);
    if (ip) e.ip = canonicalIp(ip[1]);
    const meta = this.frameMeta(frame);
    if (frame.msgid) meta.msgid = capField(frame.msgid, 32);
    if (frame.structuredData && frame.structuredData !== '-') meta.structured_data = capField(frame.structuredData, 1024);
    e.metadata = Object.keys(meta).length > 0 ? meta : null;
    return e;
  }
}

/**
 * Runs the offline summary's scan ({@link LogLineParser.tallyBytes}) 16 times over a few lines of every shape its
 * matchers take, on a parser and summary of its own that are thrown away. V8 compiles the scan's hot functions
 * after the first thousand lines or so, on the type feedback seen by then; a message first met later (the first
 * "User child is on pid", the first "fatal:", the first eviction of a connection) makes it throw that code away
 * and compile it again. This costs about 10 ms at start; on the 200,000-line benchmark log it saves more than that
 * (no deoptimization left in the scan, against eight).
 */
export function primeTally(): void {
  // V8 gives a function its feedback only after its first few calls (lazy feedback allocation): run them more.
  // Only the scan of blocks: readLinesSync hands every line of a file to it but a last one without a newline, and
  // warming up the line-by-line path too would queue its functions for the optimizing compiler, where they would
  // delay the scan's own.
  const lines = Buffer.from(PRIME_LINES, 'latin1');
  for (let i = 0; i < 16; i++) {
    const parser = new LogLineParser({ type: 'auto', refMs: Date.UTC(2024, 0, 1), maxConnections: 2 });
    const summary = new LogSummary();
    parser.tallyBytes(lines, summary, () => {});
    summary.rows();
  }
}

const PRIME_LINES = [
  '1 sshd[1]: Connection from 203.0.113.1 port 22 on 203.0.113.9 port 22',
  '1 sshd[1]: Invalid user bob from 203.0.113.1 port 22',
  '1 sshd[1]: pam_unix(sshd:auth): check pass; user unknown',
  '1 sshd[1]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.1',
  '1 sshd[1]: Failed password for invalid user bob from 203.0.113.1 port 22 ssh2',
  '1 sshd[1]: Failed password for root from 203.0.113.1 port 22 ssh2',
  '1 sshd[1]: error: maximum authentication attempts exceeded for root from 203.0.113.1 port 22 ssh2 [preauth]',
  '1 sshd[1]: Disconnecting: Too many authentication failures [preauth]',
  '1 sshd[1]: Connection closed by 203.0.113.1 port 22 [preauth]',
  '2 sshd[2]: Disconnecting: Too many authentication failures for root [preauth]',
  '3 sshd[3]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.3  user=root',
  '3 sshd[3]: Failed password for root from 203.0.113.3 port 22 ssh2',
  '4 sshd[4]: Failed publickey for bob from 10.0.0.4 port 22 ssh2: RSA SHA256:x',
  '4 sshd[4]: Accepted publickey for bob from 10.0.0.4 port 22 ssh2: RSA SHA256:x',
  '5 sshd[5]: Accepted password for root from 203.0.113.5 port 22 ssh2',
  '5 sshd[5]: pam_unix(sshd:session): session opened for user root by (uid=0)',
  '5 sshd[5]: Received disconnect from 203.0.113.5 port 22:11: disconnected by user',
  '5 sshd[5]: Disconnected from 203.0.113.5 port 22',
  '6 sshd[6]: Connection reset by authenticating user root 10.0.0.6 port 22 [preauth]',
  '6 sshd[6]: User child is on pid 7',
  '6 sshd[6]: Server listening on 0.0.0.0 port 22.',
  '6 CRON[7]: pam_unix(cron:session): session closed for user root',
  '7 sshd[7]: Failed password for invalid user ann from 10.0.0.7 port 22 ssh2',
  '7 sshd[7]: Failed password for invalid user bob from 10.0.0.7 port 22 ssh2',
  '7 sshd[7]: Accepted password for bob from 10.0.0.7 port 22 ssh2',
  '8 sshd[8]: fatal: Unable to negotiate with 10.0.0.8 port 22: no matching key exchange method found',
  '8 sshd[8]: Received signal 15; terminating.',
  '8 sshd[8]: Did not receive identification string from 10.0.0.8',
  '8 sshd[8]: Address 10.0.0.8 maps to host, but this does not map back to the address',
  '8 sshd[8]: Found matching RSA key',
  '8 sshd[8]: Ignoring unknown option',
  '8 sshd[8]: Close session: user root from 10.0.0.8 port 22 id 0',
  '8 sshd[8]: message repeated 2 times: [ Failed password for root from 10.0.0.8 port 22 ssh2]',
]
  // Two hosts and addresses on both sides of 128.0.0.0 (the sign of the address as a 32-bit integer).
  .map((l, i) => `Jan  1 00:00:0${l.slice(0, 1)} host${i % 2}${l.slice(1)}`)
  .join('\n');
