/**
 * sshd messages, and which of them are authentication failures exactly as fail2ban counts them.
 *
 * The rules below are fail2ban 1.0.2's `filter.d/sshd.conf` in its default mode (`mode = normal`,
 * `publickey = nofail`), rewritten for JavaScript regular expressions, in the filter's order: fail2ban stops at
 * the first rule that matches a line, so order decides which rule (and which user) a line gets. Python's
 * conditional groups (`(?(cond_user)...)`) have no JavaScript equivalent; each rule using them is split into its
 * branches, tried in the order Python's backtracking tries them. `.` runs with the `s` flag because Python's `.`
 * matches everything but the newline a single line never holds.
 *
 * A line alone does not always decide: fail2ban correlates the lines of one connection by their prefix
 * ("host sshd[pid]: ") and {@link SshdFailureTracker} replays that logic (filter.py `_mergeFailure`), so that
 * "Disconnecting: Too many authentication failures" (no address) counts for the address of its connection and an
 * accepted login after attempts on several user names still counts as a failure.
 */
import { formatIPv4, formatIPv6, parseIp } from '../protocol/ip';
import type { LogAction } from './events';

// fail2ban's <HOST> with usedns=warn (failregex.py R_HOST): an IPv4 (optionally v4-mapped), an IPv6, or a name.
const HOST = String.raw`(?:\[?(?:(?:::f{4,6}:)?(?<ip4>(?:\d{1,3}\.){3}\d{1,3})|(?<ip6>(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|(?<=:):)))\]?|(?<dns>[\w\-.^_]*\w))`;
const SUFF = String.raw`(?: (?:port \d+|on \S+|\[preauth\])){0,3}\s*`;
const ON_PORT = String.raw`(?: (?:port \d+|on \S+)){0,2}`;
const AUTHNG_USER = String.raw`(?: (?:invalid|authenticating) user (?<user>\S+|.*?))?`;
const NOT_FROM = String.raw`(?:(?! from ).)`;

/** One fail2ban rule (or one branch of it). `nofail`/`forget`/`gained` are fail2ban's F-NOFAIL, F-MLFFORGET, F-MLFGAINED tags. */
interface Rule {
  re: RegExp;
  /** Prefixes one of which every line the rule matches starts with: a cheap test before running the expression. */
  lits?: string[];
  action: LogAction | ((m: RegExpExecArray) => LogAction);
  /** The match is never a failure itself (it identifies the connection). */
  nofail?: boolean | ((m: RegExpExecArray) => boolean);
  /** The connection ends with this line. */
  forget?: boolean;
  /** A successful login: resets the connection's failures unless several users were tried. */
  gained?: boolean;
}

const rx = (s: string) => new RegExp(s, 's');
const failedAction = (m: RegExpExecArray): LogAction => (m.groups!.method === 'publickey' ? 'failed_publickey' : 'failed_password');
const disconnectAction = (m: RegExpExecArray): LogAction => (m[0].includes('[preauth]') || m.groups!.user !== undefined ? 'preauth_disconnect' : 'disconnect');
const acceptedAction = (m: RegExpExecArray): LogAction => (m.groups!.method === 'password' ? 'accepted_password' : m.groups!.method === 'publickey' ? 'accepted_publickey' : 'accepted_other');

/** The filter's failregex list in order (sshd.conf cmnfailre, mdre-normal-other, cfooterre). */
const F2B_RULES: readonly Rule[] = [
  { re: rx(String.raw`^[aA]uthentication (?:failure|error|failed) for (?<user>.*) from ${HOST}( via \S+)?${SUFF}$`), action: 'auth_failure' },
  { re: rx(String.raw`^User not known to the underlying authentication module for (?<user>.*) from ${HOST}${SUFF}$`), action: 'invalid_user' },
  // cmnfailre-failed-pub-invalid: a failed public key for a user that does not exist is a failure.
  { re: rx(String.raw`^Failed (?<method>publickey) for invalid user (?<user>\S+) from ${HOST}${ON_PORT}(?: ssh\d*)?: `), action: 'failed_publickey' },
  { re: rx(String.raw`^Failed (?<method>publickey) for invalid user (?<user>${NOT_FROM}*?) from ${HOST}${ON_PORT}(?: ssh\d*)?${NOT_FROM}*$`), action: 'failed_publickey' },
  // "Failed <method> for [invalid user ]<user> from <HOST>": with publickey = nofail, a failed key of a valid user is no failure.
  ...[
    String.raw`^Failed (?<method>\S+) for invalid user (?<user>\S+) from ${HOST}${ON_PORT}(?: ssh\d*)?: `,
    String.raw`^Failed (?<method>\S+) for invalid user (?<user>${NOT_FROM}*?) from ${HOST}${ON_PORT}(?: ssh\d*)?${NOT_FROM}*$`,
    String.raw`^Failed (?<method>\S+) for (?<user>\S+) from ${HOST}${ON_PORT}(?: ssh\d*)?: `,
    String.raw`^Failed (?<method>\S+) for (?<user>[^:]+) from ${HOST}${ON_PORT}(?: ssh\d*)?${NOT_FROM}*$`,
  ].map((s): Rule => ({ re: rx(s), action: failedAction, nofail: (m) => m.groups!.method === 'publickey' })),
  { re: rx(String.raw`^(?<user>ROOT) LOGIN REFUSED FROM ${HOST}`), action: 'login_refused' },
  { re: rx(String.raw`^[iI](?:llegal|nvalid) user (?<user>.*?) from ${HOST}${SUFF}$`), action: 'invalid_user' },
  { re: rx(String.raw`^User (?<user>\S+|.*?) from ${HOST} not allowed because not listed in AllowUsers${SUFF}$`), action: 'user_not_allowed' },
  { re: rx(String.raw`^User (?<user>\S+|.*?) from ${HOST} not allowed because listed in DenyUsers${SUFF}$`), action: 'user_not_allowed' },
  { re: rx(String.raw`^User (?<user>\S+|.*?) from ${HOST} not allowed because not in any group${SUFF}$`), action: 'user_not_allowed' },
  { re: rx(String.raw`^refused connect from \S+ \(${HOST}\)`), action: 'connection_refused' },
  { re: rx(String.raw`^Received disconnect from ${HOST}${ON_PORT}:\s*3: .*: Auth fail${SUFF}$`), action: 'auth_failure', forget: true },
  { re: rx(String.raw`^User (?<user>\S+|.*?) from ${HOST} not allowed because a group is listed in DenyGroups${SUFF}$`), action: 'user_not_allowed' },
  { re: rx(String.raw`^User (?<user>\S+|.*?) from ${HOST} not allowed because none of user's groups are listed in AllowGroups${SUFF}$`), action: 'user_not_allowed' },
  {
    re: rx(String.raw`^pam_[a-z]+\(sshd:auth\):\s+authentication failure;(?:\s+(?:(?:logname|e?uid|tty)=\S*)){0,4}\s+ruser=(?<ruser>\S*)\s+rhost=${HOST}(?:\s+user=(?<user>\S*))?${SUFF}$`),
    action: 'pam_auth_failure',
    nofail: true,
  },
  { re: rx(String.raw`^maximum authentication attempts exceeded for (?<user>.*) from ${HOST}${ON_PORT}(?: ssh\d*)?${SUFF}$`), action: 'max_auth_attempts' },
  { re: rx(String.raw`^User (?<user>\S+|.*?) not allowed because account is locked${SUFF}`), action: 'user_not_allowed' },
  {
    re: rx(String.raw`^Disconnecting(?: from)?(?: (?:invalid|authenticating)) user (?<user>\S+) ${HOST}${ON_PORT}:\s*Change of username or service not allowed:\s*.*\[preauth\]\s*$`),
    action: 'auth_failure',
    forget: true,
  },
  { re: rx(String.raw`^Disconnecting: Too many authentication failures(?: for (?<user>\S+|.*?))?${SUFF}$`), action: 'max_auth_attempts' },
  { re: rx(String.raw`^Received disconnect from ${HOST}${ON_PORT}:\s*11:`), action: disconnectAction, nofail: true, forget: true },
  {
    re: rx(String.raw`^(?:Connection (?:closed|reset)|Disconnected) (?:by|from)${AUTHNG_USER} ${HOST}(?:${SUFF}|\s*)$`),
    lits: ['Connection closed ', 'Connection reset ', 'Disconnected '],
    action: disconnectAction,
    nofail: true,
    forget: true,
  },
  { re: rx(String.raw`^Accepted (?<method>\w+) for (?<user>\S+) from ${HOST}(?:\s|$)`), action: acceptedAction, forget: true, gained: true },
  { re: rx(String.raw`^Connection from ${HOST}`), action: 'connection', nofail: true },
];

/** Lines of sshd fail2ban does not care about, still worth an event. Tried only when no fail2ban rule matched. */
const EXTRA_RULES: readonly Rule[] = [
  { re: /^pam_unix\(sshd:session\): session opened for user (?<user>\S+?)(?:\(uid=\d+\))?(?: by|$)/, action: 'session_opened' },
  { re: /^pam_unix\(sshd:session\): session closed for user (?<user>\S+)/, action: 'session_closed' },
  { re: /^Unable to negotiate with (?<ip4>[0-9.]+|[0-9a-fA-F:]+) port \d+: /, action: 'negotiation_failure' },
  { re: /^Did not receive identification string from (?<ip4>[0-9.]+|[0-9a-fA-F:]+)/, action: 'negotiation_failure' },
  { re: /^Server listening on /, action: 'start' },
  { re: /^Received signal \d+; terminating/, action: 'stop' },
];

// Every fail2ban rule starts with a fixed letter: index them by it so a line is tried only against the rules that
// can match it (in their original relative order, which is all that fail2ban's first-match semantics needs).
const RULES_BY_FIRST = new Map<number, Rule[]>();
for (const rule of F2B_RULES) {
  // The literal text the expression starts with (up to its first special character), as a cheap pre-test.
  const lit = /^\^((?:[A-Za-z0-9 _:'-]|\\\()+)/.exec(rule.re.source);
  if (!rule.lits && lit && lit[1].length >= 4) rule.lits = [lit[1].replace(/\\\(/g, '(')];
  const src = rule.re.source;
  const firsts = src.startsWith('^[aA]') ? 'aA' : src.startsWith('^[iI]') ? 'iI' : src.startsWith('^(?<user>ROOT)') ? 'R' : src.startsWith('^(?:Connection') ? 'CD' : src[1];
  if (!/^[A-Za-z]+$/.test(firsts)) throw new Error(`sshd rule without a known first letter: ${src}`);
  for (const c of firsts) {
    const code = c.charCodeAt(0);
    if (!RULES_BY_FIRST.has(code)) RULES_BY_FIRST.set(code, []);
    RULES_BY_FIRST.get(code)!.push(rule);
  }
}

export interface SshdMatch {
  action: LogAction;
  /** Canonical text of a valid address named by the line (IPv4-mapped IPv6 as IPv4, as fail2ban reports it). */
  ip: string | null;
  /** The host text when it is not an address (fail2ban would try DNS; we never resolve what a log line says). */
  host: string | null;
  user: string | null;
  method: string | null;
  port: number | null;
  /** The raw host groups of fail2ban's <HOST> (one of them set when the line names a host). */
  hostGroups: { ip4: string | null; ip6: string | null; dns: string | null };
  /** fail2ban semantics: see {@link Rule}. `f2b` is false for lines only our extra rules know. */
  f2b: boolean;
  nofail: boolean;
  forget: boolean;
  gained: boolean;
}

const PORT_RE = / port (\d{1,5})\b/;

/** Canonical text of an address from a log line, or null when it is not a valid one. */
export function canonicalIp(text: string): string | null {
  const p = parseIp(text);
  if (!p) return null;
  if (p.family === 4) return formatIPv4(p.words[0]);
  // fail2ban (ipdns.py) turns IPv4-mapped IPv6 into IPv4; so do we, so that counts agree per address.
  if (p.words[0] === 0 && p.words[1] === 0 && p.words[2] === 0xffff) return formatIPv4(p.words[3]);
  return formatIPv6(p.words[0], p.words[1], p.words[2], p.words[3]);
}

function fromMatch(rule: Rule, m: RegExpExecArray, f2b: boolean, withPort = true): SshdMatch {
  const g = m.groups ?? {};
  const hostText = g.ip4 ?? g.ip6 ?? null;
  const ip = hostText !== null ? canonicalIp(hostText) : null;
  // fail2ban's ALT_USER: pam's ruser stands in for an empty user.
  const user = g.user || g.ruser || null;
  const port = withPort ? PORT_RE.exec(m.input) : null;
  return {
    action: typeof rule.action === 'function' ? rule.action(m) : rule.action,
    ip,
    host: ip === null ? (hostText ?? g.dns ?? null) : null,
    user,
    method: g.method ?? null,
    hostGroups: { ip4: g.ip4 ?? null, ip6: g.ip6 ?? null, dns: g.dns ?? null },
    port: port ? Number(port[1]) : null,
    f2b,
    nofail: typeof rule.nofail === 'function' ? rule.nofail(m) : rule.nofail === true,
    forget: rule.forget === true,
    gained: rule.gained === true,
  };
}

function startsWithAny(s: string, prefixes: string[]): boolean {
  for (const p of prefixes) if (s.startsWith(p)) return true;
  return false;
}

/** Matches the message of an sshd line (after its "host sshd[pid]: " prefix and an "error: " prefix). */
export function matchSshdContent(content: string, f2bOnly = false): SshdMatch | null {
  const rules = RULES_BY_FIRST.get(content.charCodeAt(0));
  if (rules) {
    for (const rule of rules) {
      if (rule.lits !== undefined && !startsWithAny(content, rule.lits)) continue;
      const m = rule.re.exec(content);
      if (m) return fromMatch(rule, m, true, !f2bOnly);
    }
  }
  if (f2bOnly) return null;
  for (const rule of EXTRA_RULES) {
    const m = rule.re.exec(content);
    if (m) return fromMatch(rule, m, false);
  }
  return null;
}

/**
 * fail2ban's prefregex for file logs (common.conf `lt_file` __prefix_line with `_daemon = sshd`, then sshd.conf
 * `__pref`) over the text of a line without its date: the prefix is the connection id (F-MLFID), the rest the
 * content the rules see. Every part is optional, so a line of another daemon keeps "cron[1]: ..." in its content
 * and no rule matches it, as in fail2ban.
 */
const PREFIX_RE =
  /^((?:\[\])?\s*(?:<[^.]+\.[^.]+>\s+)?(?:\S+\s+)?(?:kernel:\s?\[ *\d+\.\d+\]:?\s+)?(?:@vserver_\S+\s+)?(?:(?:(?:\[\d+\])?:\s+[[(]?sshd(?:\(\S+\))?[\])]?:?|[[(]?sshd(?:\(\S+\))?[\])]?(?:\[\d+\])?:?)\s+)?(?:\[ID \d+ \S+\]\s+)?)(?:(?:error|fatal): (?:PAM: )?)?(.+)$/s;

export interface Fail2banPrefix {
  mlfid: string;
  content: string;
}

const isSpace = (c: number) => c === 32 || (c >= 9 && c <= 13);

/**
 * Splits like {@link PREFIX_RE}. The usual shape, " host sshd[123]: message" or " host prog[123]: message" with
 * single spaces, is scanned by hand (a fifth of the expression's cost on the benchmark log); anything else, and
 * anything that might be one of the expression's rarer parts (a kernel prefix, "@vserver_", "[ID ...]", another
 * form of the sshd tag), goes through the expression itself, so both give the same answer.
 */
export function splitFail2banPrefix(text: string): Fail2banPrefix | null {
  const at = scanFail2banPrefix(text, 0, text.length);
  if (at < 0) return splitByExpression(text);
  return { mlfid: text.slice(0, scannedMlfidEnd), content: text.slice(at) };
}

/** Where the last successful {@link scanFail2banPrefix} found the end of the connection id. */
export let scannedMlfidEnd = 0;

/**
 * The hand scan of {@link splitFail2banPrefix} over `text[from, end)`: the offset of the content (and the end
 * of the connection id in {@link scannedMlfidEnd}), or -1 when the line is not of the usual shape and only the
 * expression can tell.
 */
export function scanFail2banPrefix(text: string, from: number, end: number): number {
  if (end - from <= 3 || text.charCodeAt(from) !== 32 || isSpace(text.charCodeAt(from + 1))) return -1;
  const h0 = text.charCodeAt(from + 1);
  const hostEnd = text.indexOf(' ', from + 2);
  if (h0 === 91 /* [ */ || h0 === 60 /* < */ || hostEnd < 0 || hostEnd + 1 >= end || hasOtherSpace(text, from + 2, hostEnd)) return -1;
  const t = hostEnd + 1;
  const c = text.charCodeAt(t);
  if (isSpace(c) || c === 91 || c === 40 /* ( */ || c === 64 /* @ */ || c === 58 /* : */ || c === 107 /* k */) return -1;
  if (c === 115 /* s */ && text.startsWith('sshd', t)) {
    if (!text.startsWith('sshd[', t)) return -1;
    let i = t + 5;
    while (i < end && text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) i++;
    if (i === t + 5 || text.charCodeAt(i) !== 93 /* ] */ || text.charCodeAt(i + 1) !== 58 /* : */ || text.charCodeAt(i + 2) !== 32) return -1;
    const at = i + 3;
    const d = text.charCodeAt(at);
    if (at >= end || isSpace(d) || d === 91) return -1;
    return withPref(text, at, end);
  }
  // Not a daemon the expression knows: the content starts at the tag ("CRON[1]: ..."), and a rule can match
  // only a line whose message has no tag at all.
  return withPref(text, t, end);
}

// sshd.conf __pref: "error: ", "fatal: ", optionally followed by "PAM: ", outside the connection id.
function withPref(text: string, at: number, end: number): number {
  scannedMlfidEnd = at;
  let s = at;
  if (text.startsWith('error: ', s) || text.startsWith('fatal: ', s)) {
    s += 7;
    if (text.startsWith('PAM: ', s)) s += 5;
    // The content needs one character; otherwise the expression would not take the prefix.
    if (s >= end) return -1;
  }
  return s;
}

/** Whether a rule of fail2ban's filter can match content starting at `at` (first letter and literal start). */
export function mayMatchFail2ban(text: string, at: number): boolean {
  const rules = RULES_BY_FIRST.get(text.charCodeAt(at));
  if (rules === undefined) return false;
  for (const rule of rules) {
    if (rule.lits === undefined) return true;
    for (const lit of rule.lits) if (text.startsWith(lit, at)) return true;
  }
  return false;
}

function hasOtherSpace(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if ((c >= 9 && c <= 13) || (c >= 0x1c && c <= 0x1f) || c === 0x85 || c === 0xa0 || c > 0x167f) return true;
  }
  return false;
}

export function splitByExpression(text: string): Fail2banPrefix | null {
  const m = PREFIX_RE.exec(text);
  return m ? { mlfid: m[1], content: m[2] } : null;
}

/** sshd.conf `__pref`, for messages whose prefix is known from elsewhere (RFC 5424, journald). */
export function stripSshdErrorPrefix(message: string): string {
  const m = /^(?:error|fatal): (?:PAM: )?/.exec(message);
  return m && m[0].length < message.length ? message.slice(m[0].length) : message;
}

interface Connection {
  /** The host texts fail2ban keeps per connection (ip4, ip6, dns groups): a later line overrides only what it names. */
  ip4: string | null;
  ip6: string | null;
  dns: string | null;
  users: Set<string> | null;
  /** A failure was seen before any line of the connection named its address. */
  pending: boolean;
}

export interface TrackerCounters {
  /** Connections forgotten because the cache was full (fail2ban keeps 100, first in first out). */
  evicted: number;
  /** Connections held now. */
  size: number;
}

export interface TrackedLine {
  /** fail2ban counts this line as one failure of `ip`. */
  failure: boolean;
  /** The connection's address as fail2ban sees it after this line (the line's own, or an earlier line's). */
  ip: string | null;
}

/**
 * The per-connection state of fail2ban's filter (filter.py `_mergeFailure` and `findFailure` as fail2ban-regex
 * runs them with `-o`: first matching rule only, a failure without an address held as pending until a later line
 * of the same connection names one). Bounded like fail2ban's cache: `maxConnections` entries (fail2ban: 100),
 * the oldest inserted evicted first, counted. fail2ban also expires entries after 5 minutes of its wall clock,
 * which never happens within one fail2ban-regex run, so there is no time limit here.
 */
export class SshdFailureTracker {
  private readonly cache = new Map<string, Connection>();
  private evicted = 0;

  constructor(private readonly maxConnections = 100) {}

  /** Feeds one line of connection `mlfid` that an fail2ban rule matched (`m.f2b`). */
  observe(mlfid: string, m: SshdMatch): TrackedLine {
    const g = m.hostGroups;
    let state = this.cache.get(mlfid);
    if (state) {
      if (m.user) (state.users ??= new Set()).add(m.user);
      // A successful login clears the failures still waiting for an address.
      if (m.gained) state.pending = false;
      if (g.ip4 !== null) state.ip4 = g.ip4;
      if (g.ip6 !== null) state.ip6 = g.ip6;
      if (g.dns !== null) state.dns = g.dns;
      if (m.forget) this.cache.delete(mlfid);
    } else {
      state = { ip4: g.ip4, ip6: g.ip6, dns: g.dns, users: m.user ? new Set([m.user]) : null, pending: false };
      if (!m.forget) {
        if (this.cache.size >= this.maxConnections) {
          this.cache.delete(this.cache.keys().next().value as string);
          this.evicted++;
        }
        this.cache.set(mlfid, state);
      } else {
        state.users = null;
      }
    }
    let nofail = m.nofail || m.gained;
    // Earlier failures waiting for an address, or attempts on more than one user name, make even a "no failure"
    // line (an accepted login, a closed connection) count.
    if (state.pending || (state.users !== null && state.users.size > 1)) {
      state.pending = false;
      nofail = false;
    }
    const ip = state.ip4 !== null ? canonicalIp(state.ip4) : state.ip6 !== null ? canonicalIp(state.ip6) : null;
    if (nofail) return { failure: false, ip };
    if (state.ip4 === null && state.ip6 === null && state.dns === null) {
      state.pending = true;
      return { failure: false, ip: null };
    }
    // A host name fail2ban would resolve (usedns=warn), or an address that does not parse: we never resolve or
    // trust what a log line says, so such a failure counts for nobody.
    return { failure: ip !== null, ip };
  }

  counters(): TrackerCounters {
    return { evicted: this.evicted, size: this.cache.size };
  }
}
