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
 *
 * The expressions are the reference; for speed, the messages that make nearly all of a real auth.log's sshd lines
 * are first tried by hand-written matchers ({@link matchSshdAt}) that give the same answer or decline. They read
 * bytes: the offline summary (`netwatch-ingest logs --summary`) scans a file's own bytes in place, feeding the
 * tracker without cutting strings out of them ({@link SshdFailureTracker.observeFast}), and text is first turned
 * into bytes by {@link codeUnits}, so that both take the very same code.
 */
import { formatIPv4, formatIPv6, parseIp, parseIPv4 } from '../protocol/ip';
import type { LogAction } from './events';
import { CU_SPACE, codeUnits, U_FFFD } from './text-bytes';

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
  { re: rx(String.raw`^[aA]uthentication (?:failure|error|failed) for (?<user>.*) from ${HOST}( via \S+)?${SUFF}$`), lits: ['Authentication ', 'authentication '], action: 'auth_failure' },
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
  { re: rx(String.raw`^(?<user>ROOT) LOGIN REFUSED FROM ${HOST}`), lits: ['ROOT LOGIN REFUSED FROM '], action: 'login_refused' },
  { re: rx(String.raw`^[iI](?:llegal|nvalid) user (?<user>.*?) from ${HOST}${SUFF}$`), lits: ['Invalid user ', 'invalid user ', 'Illegal user ', 'illegal user '], action: 'invalid_user' },
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
  // fail2ban's rule wants a word for the method: "keyboard-interactive/pam" and "gssapi-with-mic" logins are still logins.
  { re: /^Accepted (?<method>\S+) for (?<user>\S+) from (?<ip4>[0-9.]+|[0-9a-fA-F:]+)(?:\s|$)/, action: acceptedAction },
  { re: /^Server listening on /, action: 'start' },
  { re: /^Received signal \d+; terminating/, action: 'stop' },
];

// Every fail2ban rule starts with a fixed letter: index them by it so a line is tried only against the rules that
// can match it (in their original relative order, which is all that fail2ban's first-match semantics needs).
const RULES_BY_FIRST: (Rule[] | undefined)[] = new Array(128).fill(undefined);
for (const rule of F2B_RULES) {
  // The literal text the expression starts with (up to its first special character), as a cheap pre-test.
  const lit = /^\^((?:[A-Za-z0-9 _:'-]|\\\()+)/.exec(rule.re.source);
  if (!rule.lits && lit && lit[1].length >= 4) rule.lits = [lit[1].replace(/\\\(/g, '(')];
  const src = rule.re.source;
  const firsts = src.startsWith('^[aA]') ? 'aA' : src.startsWith('^[iI]') ? 'iI' : src.startsWith('^(?<user>ROOT)') ? 'R' : src.startsWith('^(?:Connection') ? 'CD' : src[1];
  if (!/^[A-Za-z]+$/.test(firsts)) throw new Error(`sshd rule without a known first letter: ${src}`);
  for (const c of firsts) {
    const code = c.charCodeAt(0);
    (RULES_BY_FIRST[code] ??= []).push(rule);
  }
}

/**
 * For {@link mayMatchFail2ban}, by first letter: the literal starts of the rules for it (bytes), or null when one
 * of them has none (any content may match). Arrays of one shape, not the rules (whose shapes differ: reading
 * `rule.lits` per line was a megamorphic load in the scan).
 */
const STARTS_BY_FIRST: (Uint8Array[] | null | undefined)[] = RULES_BY_FIRST.map((rules) => {
  if (rules === undefined) return undefined;
  const starts: Uint8Array[] = [];
  for (const rule of rules) {
    if (rule.lits === undefined) return null;
    for (const l of rule.lits) starts.push(Buffer.from(l, 'latin1'));
  }
  return starts;
});

/*
 * Hand-written matchers for the messages that make nearly all of a real auth.log's sshd lines (failed and accepted
 * passwords, invalid users, pam failures, disconnects, closed connections, too many attempts). Each one answers
 * exactly as the first of fail2ban's rules (above) that matches would, or declines: it claims a match only when
 * the line has the plain shape it parses strictly (a dotted quad followed by a space or the end, one " from ",
 * known suffixes), which is a shape where the expression's first choice at every quantifier (the shortest lazy
 * user, the longest greedy one, the IPv4 branch of <HOST>) already succeeds and every earlier rule for the same
 * first letter provably fails, so the groups are the expression's. Anything else goes to the expressions.
 * sshd.test.ts checks both against each other on every shared log line and on mutations of them.
 */

/** {@link matchSshdAt}: no rule of fail2ban's filter matches the content (certain). */
export const FAST_NONE = 0;
/** {@link matchSshdAt}: a rule matches, as described by {@link SSHD_FAST}. */
export const FAST_MATCH = 1;
/** {@link matchSshdAt}: the content is not of a shape the matchers know; only the expressions can tell. */
export const FAST_UNSURE = 2;

/** The match {@link matchSshdAt} found, by offsets into its text. One object, overwritten by every call. */
export interface SshdFastMatch {
  action: LogAction;
  /** Which matcher answered (for tests). */
  matcher: string;
  /** The ip4 group of <HOST> (the only host form the matchers take): [ipStart, ipEnd), or ipStart -1 for none. */
  ipStart: number;
  ipEnd: number;
  /** The ip4 text is canonical as it stands (every octet at most 255, no leading zero), so canonicalIp is itself. */
  ipCanonical: boolean;
  /** The canonical ip4 as a 32-bit integer, signed (when ipCanonical). */
  ipValue: number;
  /** The user fail2ban takes (the user group, or pam's ruser when that is empty): [userStart, userEnd), empty for none. */
  userStart: number;
  userEnd: number;
  /** The method group (Failed, Accepted): [methodStart, methodEnd), empty for none. */
  methodStart: number;
  methodEnd: number;
  nofail: boolean;
  forget: boolean;
  gained: boolean;
  /**
   * Where the text the matcher did not read character by character starts, or -1 when it read all of it (as most
   * do): before it the content holds no control character, so a caller that refuses binary lines checks only
   * from here.
   */
  restStart: number;
}

export const SSHD_FAST: SshdFastMatch = {
  action: 'other',
  matcher: '',
  ipStart: -1,
  ipEnd: -1,
  ipCanonical: false,
  ipValue: 0,
  userStart: 0,
  userEnd: 0,
  methodStart: 0,
  methodEnd: 0,
  nofail: false,
  forget: false,
  gained: false,
  restStart: 0,
};

const F = SSHD_FAST;
let quadCanonical = false;
let quadValue = 0;

/**
 * A dotted quad at `i` (four parts of one to three digits) followed by a space or `end`: its end, or -1. This is
 * what the ip4 branch of <HOST>, tried first, takes of such text; `quadCanonical` says whether it is canonical.
 */
function dottedQuadAt(t: Uint8Array, i: number, end: number): number {
  let canonical = true;
  let value = 0;
  for (let part = 0; part < 4; part++) {
    const from = i;
    let v = 0;
    while (i < end && i - from < 3) {
      const d = t[i] - 48;
      if (d < 0 || d > 9) break;
      v = v * 10 + d;
      i++;
    }
    if (i === from) return -1;
    if (v > 255 || (i - from > 1 && t[from] === 48)) canonical = false;
    value = (value << 8) | (v & 255);
    if (part < 3) {
      if (i >= end || t[i] !== 46 /* . */) return -1;
      i++;
    }
  }
  if (i < end && t[i] !== 32) return -1;
  quadCanonical = canonical;
  quadValue = value;
  return i;
}

/** " port <digits>" at `i`: its end, or -1. */
function portAt(t: Uint8Array, i: number, end: number): number {
  if (!lit(t, i, ' port ')) return -1;
  let j = i + 6;
  while (j < end && isDigit(t[j])) j++;
  return j > i + 6 ? j : -1;
}

const isDigit = (c: number) => c >= 48 && c <= 57;

let suffPreauth = false;

/**
 * fail2ban's __suff, `(?: (?:port \d+|on \S+|\[preauth\])){0,3}\s*`, then the end: whether `t[i, end)` is up to
 * three " port N" and " [preauth]" items (the forms sshd writes) and nothing else. Sets `suffPreauth`.
 */
function suffToEnd(t: Uint8Array, i: number, end: number): boolean {
  suffPreauth = false;
  for (let n = 0; n < 3 && i < end; n++) {
    const p = portAt(t, i, end);
    if (p > 0) i = p;
    else if (lit(t, i, ' [preauth]')) {
      i += 10;
      suffPreauth = true;
    } else return false;
  }
  return i === end;
}

/** `ON_PORT(?: ssh\d*)?` as sshd writes it (" port N ssh2"), then __suff to the end. */
function portSshSuffToEnd(t: Uint8Array, i: number, end: number): boolean {
  const p = portAt(t, i, end);
  if (p > 0) i = p;
  if (lit(t, i, ' ssh')) {
    i += 4;
    while (i < end && isDigit(t[i])) i++;
  }
  return suffToEnd(t, i, end);
}

/**
 * Whether `t[from, to)` is free of control characters (what isBinary refuses) and, when `colon`, of ':': the text
 * of a user name a matcher takes as it stands.
 */
function plainText(t: Uint8Array, from: number, to: number, colon: boolean): boolean {
  for (let i = from; i < to; i++) {
    const c = t[i];
    if (c < 32 || c === 127 || c === U_FFFD || (colon && c === 58)) return false;
  }
  return true;
}

/**
 * The end of the run of \S characters at `i`; -1 (the matcher declines) at a control character, which \S would
 * take but a binary line must not reach a match by, or a non-ASCII one, which \s may know as a space.
 */
function nonSpaceRun(t: Uint8Array, i: number, end: number): number {
  for (; i < end; i++) {
    const c = t[i];
    if (c === 32 || (c >= 9 && c <= 13)) return i;
    if (c < 32 || c >= 127) return -1;
  }
  return i;
}

/** " from " at or after `i` and before `end`: its offset, or -1. */
function fromAt(t: Uint8Array, i: number, end: number): number {
  return indexIn(t, i, end, ' from ');
}

/**
 * Whether the ASCII text `s` is at `t[i]` (false where it would run past the end of `t`, as String#startsWith).
 * The first bytes are compared before the loop, where most calls that fail do. That makes its bytecode longer than
 * the inlining limit bin/netwatch-ingest.js sets for `logs`, on purpose: inlined at its forty call sites, it made
 * the optimizing compiler's work (more CPU than the scan's own, see there) 5% larger, for no faster scan.
 */
function lit(t: Uint8Array, i: number, s: string): boolean {
  const n = s.length;
  if (n === 0) return true;
  if (t[i] !== s.charCodeAt(0)) return false;
  if (n > 1 && t[i + 1] !== s.charCodeAt(1)) return false;
  if (n > 2 && t[i + 2] !== s.charCodeAt(2)) return false;
  if (n > 3 && t[i + 3] !== s.charCodeAt(3)) return false;
  for (let k = 4; k < n; k++) if (t[i + k] !== s.charCodeAt(k)) return false;
  return true;
}

/** The first `s` (ASCII) wholly inside `t[from, end)`: its offset, or -1. */
function indexIn(t: Uint8Array, from: number, end: number, s: string): number {
  const c0 = s.charCodeAt(0);
  for (let i = from; i + s.length <= end; i++) if (t[i] === c0 && lit(t, i, s)) return i;
  return -1;
}

function found(matcher: string, action: LogAction, ipStart: number, ipEnd: number, userStart: number, userEnd: number, nofail: boolean, forget: boolean, gained: boolean): number {
  F.matcher = matcher;
  F.action = action;
  F.ipStart = ipStart;
  F.ipEnd = ipEnd;
  F.ipCanonical = ipStart >= 0 && quadCanonical;
  F.ipValue = quadValue;
  F.userStart = userStart;
  F.userEnd = userEnd;
  F.methodStart = F.methodEnd = 0;
  F.nofail = nofail;
  F.forget = forget;
  F.gained = gained;
  F.restStart = -1;
  return FAST_MATCH;
}

const DISCONNECTED = 'Disconnected from';
const TOO_MANY = 'Disconnecting: Too many authentication failures';
const CLOSED = 'Connection closed by';
const RESET = 'Connection reset by';
const CONNECTION_FROM = 'Connection from ';
const MAX_ATTEMPTS = 'maximum authentication attempts exceeded for ';

/**
 * Matches the content `t[at, end)` of an sshd line (after fail2ban's prefix) against fail2ban's rules without
 * running them when its shape is one the matchers know: FAST_MATCH (the match in {@link SSHD_FAST}), FAST_NONE or
 * FAST_UNSURE. Allocates nothing.
 */
export function matchSshdAt(t: Uint8Array, at: number, end: number): number {
  const c = t[at];
  const byFirst = c < 128 ? MATCHERS_BY_FIRST[c] : undefined;
  return byFirst !== undefined ? byFirst(t, at, end) : otherShape(t, at);
}

// No shape a matcher knows: a rule whose literal start the content lacks certainly does not match.
function otherShape(t: Uint8Array, at: number): number {
  return mayMatchFail2ban(t, at) ? FAST_UNSURE : FAST_NONE;
}

/*
 * The matchers by the content's first letter. A table rather than a switch on purpose: called through it, the
 * letters' functions are not inlined into matchSshdAt, and V8 compiles each once, small, instead of one large
 * matchSshdAt holding them all (on the 200,000-line benchmark log the optimizing compiler's time, on a second
 * thread, had grown to exceed the scan's own).
 */
type FirstLetterMatcher = (t: Uint8Array, at: number, end: number) => number;
const MATCHERS_BY_FIRST: (FirstLetterMatcher | undefined)[] = new Array(128).fill(undefined);
// The dispatchers compare the words the messages share once, then the byte where they part.
MATCHERS_BY_FIRST[70 /* F */] = (t, at, end) => {
  if (lit(t, at, 'Failed p')) {
    const c = t[at + 8];
    if (c === 97 /* a */ && lit(t, at + 9, 'ssword for ')) return failedPassword(t, at, end);
    if (c === 117 /* u */ && lit(t, at + 9, 'blickey for ')) return failedPublickey(t, at, end);
  }
  return otherShape(t, at);
};
// A letter with one matcher has the matcher itself (it checks its literal start), so it is compiled once.
MATCHERS_BY_FIRST[85 /* U */] = notAllowed;
MATCHERS_BY_FIRST[73 /* I */] = invalidUser;
MATCHERS_BY_FIRST[112 /* p */] = pamAuthFailure;
MATCHERS_BY_FIRST[82 /* R */] = receivedDisconnect;
MATCHERS_BY_FIRST[68 /* D */] = (t, at, end) => {
  if (lit(t, at, 'Disconnect')) {
    const c = t[at + 10];
    if (c === 101 /* e */ && lit(t, at + 11, 'd from')) return closed(t, at + DISCONNECTED.length, end);
    if (c === 105 /* i */ && lit(t, at + 11, 'ng: Too many authentication failures')) return tooMany(t, at + TOO_MANY.length, end);
  }
  return otherShape(t, at);
};
MATCHERS_BY_FIRST[67 /* C */] = (t, at, end) => {
  // Both rules for "C" start "Connection " (CRON lines are the usual "C").
  if (!lit(t, at, 'Connection ')) return FAST_NONE;
  const c = t[at + 11];
  if (c === 99 /* c */ && lit(t, at + 12, 'losed by')) return closed(t, at + CLOSED.length, end);
  if (c === 114 /* r */ && lit(t, at + 12, 'eset by')) return closed(t, at + RESET.length, end);
  if (c === 102 /* f */ && lit(t, at + 12, 'rom ')) return connectionFrom(t, at + CONNECTION_FROM.length, end);
  return otherShape(t, at);
};
MATCHERS_BY_FIRST[65 /* A */] = accepted;
MATCHERS_BY_FIRST[109 /* m */] = maxAttempts;

// "Failed password for [invalid user ]USER from IP[ port N][ sshN]". The rules before it need "Failed publickey";
// the ": " forms (rules 3 and 5) need a colon, which the line does not have; what is left is rule 4 (invalid user,
// lazy user) or rule 6 (greedy user without colon), and with one " from " both take the text before it.
function failedPassword(t: Uint8Array, at: number, end: number): number {
  let u = at + 20;
  const invalid = lit(t, u, 'invalid user ');
  if (invalid) u += 13;
  const f = fromAt(t, u, end);
  if (f < 0 || (!invalid && f === u) || !plainText(t, u, f, true)) return FAST_UNSURE;
  const ip = dottedQuadAt(t, f + 6, end);
  if (ip < 0) return FAST_UNSURE;
  let i = portAt(t, ip, end);
  if (i < 0) i = ip;
  if (lit(t, i, ' ssh')) {
    i += 4;
    while (i < end && isDigit(t[i])) i++;
  }
  if (i !== end) return FAST_UNSURE;
  found(invalid ? 'failed-invalid' : 'failed', 'failed_password', f + 6, ip, u, f, false, false, false);
  F.methodStart = at + 7;
  F.methodEnd = at + 15;
  return FAST_MATCH;
}

// "Failed publickey for USER from IP port N ssh2: RSA SHA256:...": rule 5 ("Failed \S+ for \S+ from <HOST>...: "),
// which only rules for "invalid user" precede; with publickey = nofail it identifies the connection only.
function failedPublickey(t: Uint8Array, at: number, end: number): number {
  const u = at + 21;
  if (lit(t, u, 'invalid user ')) return FAST_UNSURE;
  const ue = nonSpaceRun(t, u, end);
  if (ue <= u || !lit(t, ue, ' from ')) return FAST_UNSURE;
  const ip = dottedQuadAt(t, ue + 6, end);
  if (ip < 0) return FAST_UNSURE;
  let i = portAt(t, ip, end);
  if (i < 0 || !lit(t, i, ' ssh')) return FAST_UNSURE;
  i += 4;
  while (i < end && isDigit(t[i])) i++;
  if (!lit(t, i, ': ')) return FAST_UNSURE;
  found('failed-publickey', 'failed_publickey', ue + 6, ip, u, ue, true, false, false);
  F.restStart = i + 2;
  F.methodStart = at + 7;
  F.methodEnd = at + 16;
  return FAST_MATCH;
}

// Every rule for "U" is "User not known to the underlying authentication module for ..." or says " not allowed
// because ": a line with neither ("User child is on pid 1234") is certainly none of them.
function notAllowed(t: Uint8Array, at: number, end: number): number {
  if (!lit(t, at, 'User ')) return otherShape(t, at);
  if (lit(t, at, 'User not known to the underlying authentication module for ')) return FAST_UNSURE;
  return indexIn(t, at, end, ' not allowed because ') >= 0 ? FAST_UNSURE : FAST_NONE;
}

// "Invalid user USER from IP[ port N][ [preauth]]": the only rule for "I", with a lazy user.
function invalidUser(t: Uint8Array, at: number, end: number): number {
  if (!lit(t, at, 'Invalid user ')) return otherShape(t, at);
  const u = at + 13;
  const f = fromAt(t, u, end);
  if (f < 0 || !plainText(t, u, f, false)) return FAST_UNSURE;
  const ip = dottedQuadAt(t, f + 6, end);
  if (ip < 0 || !suffToEnd(t, ip, end)) return FAST_UNSURE;
  return found('invalid', 'invalid_user', f + 6, ip, u, f, false, false, false);
}

// "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=IP[  user=USER]": the
// only rule for "p". Session and "check pass" lines are certainly not it, and say so without an expression.
function pamAuthFailure(t: Uint8Array, at: number, end: number): number {
  if (!lit(t, at, 'pam_')) return otherShape(t, at);
  let i = at + 4;
  while (i < end && t[i] >= 97 && t[i] <= 122) i++;
  if (i === at + 4 || !lit(t, i, PAM_AUTH)) return FAST_NONE;
  i += PAM_AUTH.length;
  const ws = i;
  for (; i < end; i++) {
    const c = t[i];
    if (c > 127) return FAST_UNSURE;
    if (c !== 32 && (c < 9 || c > 13)) break;
  }
  if (i === ws || !lit(t, i, PAM_FAILURE)) return FAST_NONE;
  if (i !== ws + 1) return FAST_UNSURE;
  i += PAM_FAILURE.length;
  // Exactly the four fields sshd writes, then ruser: what the {0,4} repetition takes first.
  let value = 0;
  // An indexed loop: for-of would compile the iterator protocol into this hot function.
  for (let k = 0; k < PAM_FIELDS.length; k++) {
    const field = PAM_FIELDS[k];
    if (!lit(t, i, field)) return FAST_UNSURE;
    value = i + field.length;
    i = nonSpaceRun(t, value, end);
    if (i < 0) return FAST_UNSURE;
  }
  const ruserStart = value;
  const ruserEnd = i;
  if (!lit(t, i, ' rhost=')) return FAST_UNSURE;
  const ipStart = i + 7;
  const ip = dottedQuadAt(t, ipStart, end);
  if (ip < 0) return FAST_UNSURE;
  i = ip;
  // fail2ban's ALT_USER: the user group when it is not empty, else ruser.
  let us = ruserStart;
  let ue = ruserEnd;
  if (i < end) {
    let j = i;
    while (j < end && t[j] === 32) j++;
    if (lit(t, j, 'user=')) {
      const v = nonSpaceRun(t, j + 5, end);
      if (v < 0) return FAST_UNSURE;
      if (v > j + 5) {
        us = j + 5;
        ue = v;
      }
      i = v;
    }
  }
  if (!suffToEnd(t, i, end)) return FAST_UNSURE;
  return found('pam', 'pam_auth_failure', ipStart, ip, us, ue, true, false, false);
}

const PAM_AUTH = '(sshd:auth):';
const PAM_FAILURE = 'authentication failure;';
const PAM_FIELDS = [' logname=', ' uid=', ' euid=', ' tty=', ' ruser='] as const;

// "Received disconnect from IP port N:11: ...": rule "...:\s*3: ..." fails at the "1", rule "...:\s*11:" matches.
function receivedDisconnect(t: Uint8Array, at: number, end: number): number {
  if (!lit(t, at, 'Received disconnect from ')) return otherShape(t, at);
  const ip = dottedQuadAt(t, at + 25, end);
  if (ip < 0) return FAST_UNSURE;
  const p = portAt(t, ip, end);
  if (p < 0 || !lit(t, p, ':11:')) return FAST_UNSURE;
  found('received-disconnect', 'disconnect', at + 25, ip, 0, 0, true, true, false);
  F.restStart = p + 4;
  return FAST_MATCH;
}

// "Connection closed by", "Connection reset by", "Disconnected from", then "[ invalid user USER| authenticating user
// USER] IP[ port N][ [preauth]]": the first rule for "C", the first for "D" that "Disconnected" can match.
function closed(t: Uint8Array, i: number, end: number): number {
  let us = 0;
  let ue = 0;
  const iu = lit(t, i, ' invalid user ') ? 14 : lit(t, i, ' authenticating user ') ? 21 : 0;
  if (iu > 0) {
    us = i + iu;
    ue = nonSpaceRun(t, us, end);
    if (ue <= us) return FAST_UNSURE;
    i = ue;
  }
  if (t[i] !== 32) return FAST_UNSURE;
  const ip = dottedQuadAt(t, i + 1, end);
  if (ip < 0 || !suffToEnd(t, ip, end)) return FAST_UNSURE;
  // disconnectAction: "[preauth]" in the match, or a user group that took part.
  const preauth = suffPreauth || iu > 0;
  return found('closed', preauth ? 'preauth_disconnect' : 'disconnect', i + 1, ip, us, ue, true, true, false);
}

// "Disconnecting: Too many authentication failures[ for USER][ [preauth]]" (the first "Disconnecting" rule needs
// " invalid user" or " authenticating user" after it).
function tooMany(t: Uint8Array, i: number, end: number): number {
  let us = 0;
  let ue = 0;
  if (lit(t, i, ' for ')) {
    us = i + 5;
    ue = nonSpaceRun(t, us, end);
    if (ue <= us) return FAST_UNSURE;
    i = ue;
  }
  if (!suffToEnd(t, i, end)) return FAST_UNSURE;
  return found('too-many', 'max_auth_attempts', -1, -1, us, ue, false, false, false);
}

// "Connection from IP ...": the second rule for "C" (the first needs "closed" or "reset").
function connectionFrom(t: Uint8Array, i: number, end: number): number {
  const ip = dottedQuadAt(t, i, end);
  if (ip < 0) return FAST_UNSURE;
  found('connection', 'connection', i, ip, 0, 0, true, false, false);
  F.restStart = ip;
  return FAST_MATCH;
}

// "Accepted METHOD for USER from IP ...", METHOD a word (keyboard-interactive/pam is no \w+: fail2ban's rule never
// matches it, and the expressions say so). The rule for "Authentication ..." needs a "u" second.
function accepted(t: Uint8Array, at: number, end: number): number {
  if (!lit(t, at, 'Accepted ')) return otherShape(t, at);
  const m = at + 9;
  let i = m;
  for (; i < end; i++) {
    const c = t[i];
    if (!(isDigit(c) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95)) break;
  }
  if (i === m || !lit(t, i, ' for ')) return FAST_UNSURE;
  const us = i + 5;
  const ue = nonSpaceRun(t, us, end);
  if (ue <= us || !lit(t, ue, ' from ')) return FAST_UNSURE;
  const ip = dottedQuadAt(t, ue + 6, end);
  if (ip < 0) return FAST_UNSURE;
  const len = i - m;
  const action: LogAction = len === 8 && lit(t, m, 'password') ? 'accepted_password' : len === 9 && lit(t, m, 'publickey') ? 'accepted_publickey' : 'accepted_other';
  found('accepted', action, ue + 6, ip, us, ue, false, true, true);
  F.restStart = ip;
  F.methodStart = m;
  F.methodEnd = i;
  return FAST_MATCH;
}

// "maximum authentication attempts exceeded for USER from IP port N ssh2 [preauth]": the only rule for "m", with a
// greedy user, which one " from " decides.
function maxAttempts(t: Uint8Array, at: number, end: number): number {
  if (!lit(t, at, MAX_ATTEMPTS)) return otherShape(t, at);
  const u = at + MAX_ATTEMPTS.length;
  const f = fromAt(t, u, end);
  if (f < 0 || !plainText(t, u, f, false)) return FAST_UNSURE;
  const ip = dottedQuadAt(t, f + 6, end);
  if (ip < 0 || !portSshSuffToEnd(t, ip, end)) return FAST_UNSURE;
  return found('max-attempts', 'max_auth_attempts', f + 6, ip, u, f, false, false, false);
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

/** The first of fail2ban's rules that matches `content`, by the expressions. */
function matchFail2banRules(content: string, withPort: boolean): SshdMatch | null {
  const rules = RULES_BY_FIRST[content.charCodeAt(0)];
  if (rules) {
    for (const rule of rules) {
      if (rule.lits !== undefined && !startsWithAny(content, rule.lits)) continue;
      const m = rule.re.exec(content);
      if (m) return fromMatch(rule, m, true, withPort);
    }
  }
  return null;
}

function matchExtraRules(content: string): SshdMatch | null {
  for (const rule of EXTRA_RULES) {
    const m = rule.re.exec(content);
    if (m) return fromMatch(rule, m, false);
  }
  return null;
}

/** {@link SSHD_FAST} of `content` as the SshdMatch the expressions give. */
function fromFastMatch(content: string, withPort: boolean): SshdMatch {
  const f = SSHD_FAST;
  const hostText = f.ipStart >= 0 ? content.slice(f.ipStart, f.ipEnd) : null;
  const ip = hostText === null ? null : f.ipCanonical ? hostText : canonicalIp(hostText);
  const port = withPort ? PORT_RE.exec(content) : null;
  return {
    action: f.action,
    ip,
    host: ip === null ? hostText : null,
    user: f.userEnd > f.userStart ? content.slice(f.userStart, f.userEnd) : null,
    method: f.methodEnd > f.methodStart ? content.slice(f.methodStart, f.methodEnd) : null,
    hostGroups: { ip4: hostText, ip6: null, dns: null },
    port: port ? Number(port[1]) : null,
    f2b: true,
    nofail: f.nofail,
    forget: f.forget,
    gained: f.gained,
  };
}

/** Matches the message of an sshd line (after its "host sshd[pid]: " prefix and an "error: " prefix). */
export function matchSshdContent(content: string, f2bOnly = false): SshdMatch | null {
  const r = matchSshdAt(codeUnits(content), 0, content.length);
  if (r === FAST_MATCH) return fromFastMatch(content, !f2bOnly);
  if (r === FAST_UNSURE) {
    const m = matchFail2banRules(content, !f2bOnly);
    if (m !== null) return m;
  }
  return f2bOnly ? null : matchExtraRules(content);
}

/** {@link matchSshdContent} by the expressions alone, without the hand-written matchers: what they are tested against. */
export function matchSshdContentByExpression(content: string, f2bOnly = false): SshdMatch | null {
  return matchFail2banRules(content, !f2bOnly) ?? (f2bOnly ? null : matchExtraRules(content));
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
  const at = scanFail2banPrefix(codeUnits(text), 0, text.length);
  if (at < 0) return splitByExpression(text);
  return { mlfid: text.slice(0, scannedMlfidEnd), content: text.slice(at) };
}

/** Where the last successful {@link scanFail2banPrefix} found the end of the connection id. */
export let scannedMlfidEnd = 0;
/**
 * The host of the last line {@link scanFail2banPrefix} took (it has no space or control character), as bytes
 * ({@link codeUnits}): compared in place with the next line's host (a log usually has one). Equal bytes are an
 * equally valid host (the checks below read only the classes codeUnits keeps); the connection id itself is
 * compared as text (SshdFailureTracker).
 */
const scannedHost = new Uint8Array(255);
let scannedHostLength = 0;
/** Counts the changes of {@link scannedHost}: one generation, one host. */
let scannedHostGeneration = 0;
/** The pid of the last line {@link scanFail2banPrefix} took with an sshd tag, as a connection key takes it; else -1. */
let scannedPid = -1;

/**
 * The hand scan of {@link splitFail2banPrefix} over `text[from, end)`: the offset of the content (and the end
 * of the connection id in {@link scannedMlfidEnd}), or -1 when the line is not of the usual shape and only the
 * expression can tell.
 */
export function scanFail2banPrefix(text: Uint8Array, from: number, end: number): number {
  if (end - from <= 3 || text[from] !== 32) return -1;
  // A log has one host, or a few: the last one accepted is compared in place before the host is checked again.
  let hostEnd = from + 1 + scannedHostLength;
  if (!(scannedHostLength > 0 && text[hostEnd] === 32 && sameHost(text, from + 1))) {
    const h0 = text[from + 1];
    hostEnd = text.indexOf(32, from + 2);
    // A control character in the host is left to the expression too: the offline scan relies on a line it matches
    // by hand having none before the content (parse.ts tallyBytes).
    if (isSpace(h0) || h0 === 91 /* [ */ || h0 === 60 /* < */ || hostEnd < 0 || hostEnd >= end || hasOtherSpace(text, from + 1, hostEnd)) return -1;
    scannedHostLength = hostEnd - from - 1 <= scannedHost.length ? hostEnd - from - 1 : 0;
    for (let i = 0; i < scannedHostLength; i++) scannedHost[i] = text[from + 1 + i];
    scannedHostGeneration++;
  }
  if (hostEnd + 1 >= end) return -1;
  const t = hostEnd + 1;
  const c = text[t];
  if (isSpace(c) || c === 91 || c === 40 /* ( */ || c === 64 /* @ */ || c === 58 /* : */ || c === 107 /* k */) return -1;
  if (c === 115 /* s */ && lit(text, t, 'sshd')) {
    if (text[t + 4] !== 91 /* [ */) return -1;
    let i = t + 5;
    let pid = 0;
    while (i < end && text[i] >= 48 && text[i] <= 57) pid = pid * 10 + text[i++] - 48;
    if (i === t + 5 || text[i] !== 93 /* ] */ || text[i + 1] !== 58 /* : */ || text[i + 2] !== 32) return -1;
    // As ConnectionCache.keyOf takes a pid: digits without a leading zero, up to MAX_KEYED_PID.
    scannedPid = i - t - 5 > 7 || (i - t - 5 > 1 && text[t + 5] === 48) || pid > MAX_KEYED_PID ? -1 : pid;
    const at = i + 3;
    const d = text[at];
    if (at >= end || isSpace(d) || d === 91) return -1;
    return withPref(text, at, end);
  }
  // Not a daemon the expression knows: the content starts at the tag ("CRON[1]: ..."), and a rule can match
  // only a line whose message has no tag at all.
  scannedPid = -1;
  return withPref(text, t, end);
}

function sameHost(text: Uint8Array, at: number): boolean {
  for (let i = 0; i < scannedHostLength; i++) if (text[at + i] !== scannedHost[i]) return false;
  return true;
}

// sshd.conf __pref: "error: ", "fatal: ", optionally followed by "PAM: ", outside the connection id.
function withPref(text: Uint8Array, at: number, end: number): number {
  scannedMlfidEnd = at;
  let s = at;
  const c = text[s];
  if ((c === 101 /* e */ && lit(text, s, 'error: ')) || (c === 102 /* f */ && lit(text, s, 'fatal: '))) {
    s += 7;
    if (lit(text, s, 'PAM: ')) s += 5;
    // The content needs one character; otherwise the expression would not take the prefix.
    if (s >= end) return -1;
  }
  return s;
}

/** Whether a rule of fail2ban's filter can match content starting at `at` (first letter and literal start). */
export function mayMatchFail2ban(text: Uint8Array, at: number): boolean {
  const starts = STARTS_BY_FIRST[text[at]];
  if (starts === undefined) return false;
  if (starts === null) return true;
  for (let k = 0; k < starts.length; k++) {
    const start = starts[k];
    let i = 0;
    while (i < start.length && text[at + i] === start[i]) i++;
    if (i === start.length) return true;
  }
  return false;
}

/** Whether `text[from, to)` holds a character Python's \s may take for a space, or a control character. */
function hasOtherSpace(text: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = text[i];
    // codeUnits maps U+0085, U+00A0 and everything above U+167F (where Unicode's other spaces are) to 0xfe and up.
    if (c < 32 || c === 127 || c >= CU_SPACE) return true;
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
  /** The connection id: fail2ban's F-MLFID, " host sshd[pid]: "; null when the connection is found by `key`. */
  id: string | null;
  /** {@link ConnectionCache.keyOf} of the id, or -1 (the id is not of the usual shape: found by its text). */
  key: number;
  /** The host texts fail2ban keeps per connection (ip4, ip6, dns groups): a later line overrides only what it names. */
  ip4: string | null;
  ip6: string | null;
  dns: string | null;
  /** canonicalIp of ip4, else of ip6: the address fail2ban reports for the connection (kept with them). */
  ip: string | null;
  /** `ip` as a signed 32-bit integer when it is an IPv4 address (valid when ipIsV4). */
  ipValue: number;
  ipIsV4: boolean;
  /**
   * The user names tried (fail2ban keeps a set; only "more than one" matters): the first one, and whether another
   * was seen since.
   */
  user: string | null;
  users2: boolean;
  /** A failure was seen before any line of the connection named its address. */
  pending: boolean;
  // ConnectionCache's links: the next entry of the same hash, and the neighbours in insertion order.
  hash: number;
  sameHash: Connection | null;
  older: Connection | null;
  newer: Connection | null;
}

/** Pids above Linux's largest pid_max (2^22) do not get a key. */
const MAX_KEYED_PID = 4194304;
/** Hosts given a number for keys (a log has one, or a few); the ids of hosts beyond go by their text. */
const MAX_KEYED_HOSTS = 255;

/**
 * fail2ban's cache of connections, in insertion order (the oldest goes first when full). An id of the usual shape,
 * " HOST sshd[PID]: ", is found by a number, its key, made of the host's number and the pid: the offline scan
 * reads both off the line (no string is cut out of it, no hash computed, no id compared), and the key is a
 * function of the id's text alone, so a line read as text finds the same connection. Any other id hangs off a
 * hash of its text and is compared in place.
 */
class ConnectionCache {
  private readonly byKey = new Map<number, Connection>();
  private readonly buckets = new Map<number, Connection>();
  private readonly hostNumbers = new Map<string, number>();
  private oldest: Connection | null = null;
  private newest: Connection | null = null;
  size = 0;

  /** The number of `host` for keys (given at first sight), or -1 when MAX_KEYED_HOSTS are numbered already. */
  hostNumber(host: string): number {
    let n = this.hostNumbers.get(host);
    if (n === undefined) {
      if (this.hostNumbers.size >= MAX_KEYED_HOSTS) return -1;
      this.hostNumbers.set(host, (n = this.hostNumbers.size));
    }
    return n;
  }

  /**
   * The key of the id `text`, or -1 when it is not " HOST sshd[PID]: " with a host without spaces and a pid
   * written as a number is (no leading zero) up to MAX_KEYED_PID. One id, one key, and no two ids share one.
   */
  keyOf(text: string): number {
    const n = text.length;
    if (n < 12 || text.charCodeAt(0) !== 32 || !text.endsWith(']: ')) return -1;
    const hostEnd = text.indexOf(' ', 1);
    if (hostEnd < 2 || !text.startsWith('sshd[', hostEnd + 1)) return -1;
    const pid = pidAt(text, hostEnd + 6, n - 3);
    if (pid < 0) return -1;
    const h = this.hostNumber(text.slice(1, hostEnd));
    return h < 0 ? -1 : connectionKey(h, pid);
  }

  findKey(key: number): Connection | null {
    return this.byKey.get(key) ?? null;
  }

  find(text: string, from: number, to: number, hash: number): Connection | null {
    for (let c = this.buckets.get(hash) ?? null; c !== null; c = c.sameHash) if (c.id!.length === to - from && text.startsWith(c.id!, from)) return c;
    return null;
  }

  /** {@link find} of the id `b[from, to)` (ASCII bytes). */
  findBytes(b: Uint8Array, from: number, to: number, hash: number): Connection | null {
    for (let c = this.buckets.get(hash) ?? null; c !== null; c = c.sameHash) if (c.id!.length === to - from && sameText(b, from, c.id!)) return c;
    return null;
  }

  /** Adds `c`: by its key, or (key -1) by the hash of its id. */
  add(c: Connection, hash: number): void {
    if (c.key >= 0) this.byKey.set(c.key, c);
    else {
      c.hash = hash;
      c.sameHash = this.buckets.get(hash) ?? null;
      this.buckets.set(hash, c);
    }
    c.older = this.newest;
    c.newer = null;
    if (this.newest !== null) this.newest.newer = c;
    else this.oldest = c;
    this.newest = c;
    this.size++;
  }

  remove(c: Connection): void {
    if (c.key >= 0) this.byKey.delete(c.key);
    else this.unhash(c);
    if (c.older !== null) c.older.newer = c.newer;
    else this.oldest = c.newer;
    if (c.newer !== null) c.newer.older = c.older;
    else this.newest = c.older;
    c.older = c.newer = null;
    this.size--;
  }

  private unhash(c: Connection): void {
    const head = this.buckets.get(c.hash)!;
    if (head === c) {
      if (c.sameHash === null) this.buckets.delete(c.hash);
      else this.buckets.set(c.hash, c.sameHash);
    } else {
      let p = head;
      while (p.sameHash !== c) p = p.sameHash!;
      p.sameHash = c.sameHash;
    }
    c.sameHash = null;
  }

  first(): Connection | null {
    return this.oldest;
  }
}

/**
 * FNV-1a over the last 16 characters of `text[from, to)` (where ids differ: the pid), and the length; kept a Smi
 * (30 bits) so that the Map takes it without boxing.
 */
function idHash(text: string, from: number, to: number): number {
  let h = Math.imul(0x811c9dc5 ^ (to - from), 0x01000193);
  for (let i = Math.max(from, to - 16); i < to; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h & 0x3fffffff;
}

/** {@link idHash} of ASCII bytes: the same number as for the same text. */
function idHashBytes(b: Uint8Array, from: number, to: number): number {
  let h = Math.imul(0x811c9dc5 ^ (to - from), 0x01000193);
  for (let i = Math.max(from, to - 16); i < to; i++) h = Math.imul(h ^ b[i], 0x01000193);
  return h & 0x3fffffff;
}

/** Whether the ASCII bytes at `b[at]` are the text `s`. */
function sameText(b: Uint8Array, at: number, s: string): boolean {
  for (let k = 0; k < s.length; k++) if (b[at + k] !== s.charCodeAt(k)) return false;
  return true;
}

/** The ASCII bytes `b[from, to)` as text. */
function asciiText(b: Buffer, from: number, to: number): string {
  return b.toString('latin1', from, to);
}

/** The key of host number `host` and `pid` (a Smi: 255 hosts times 2^22 + 1 pids stay under 2^30). */
function connectionKey(host: number, pid: number): number {
  return host * (MAX_KEYED_PID + 1) + pid;
}

/** The pid written at `text[from, to)` (digits, no leading zero, at most MAX_KEYED_PID), or -1. */
function pidAt(text: string, from: number, to: number): number {
  if (to <= from || to - from > 7 || (to - from > 1 && text.charCodeAt(from) === 48)) return -1;
  let v = 0;
  for (let i = from; i < to; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v <= MAX_KEYED_PID ? v : -1;
}

function newConnection(id: string | null, key: number, ip4: string | null, ip6: string | null, dns: string | null, ip: string | null, ipIsV4: boolean, ipValue: number, user: string | null): Connection {
  return { id, key, ip4, ip6, dns, ip, ipIsV4, ipValue, user, users2: false, pending: false, hash: 0, sameHash: null, older: null, newer: null };
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
  private readonly cache = new ConnectionCache();
  private evicted = 0;
  /** The connection's address after the last {@link observeFast}: text, and as a number when IPv4. */
  lastIp: string | null = null;
  lastIpIsV4 = false;
  lastIpValue = 0;
  /** The host number of the prefix scan's host generation `hostGeneration` (see observeFast). */
  private hostGeneration = -1;
  private hostNumber = -1;

  constructor(private readonly maxConnections = 100) {}

  /** Feeds one line of connection `mlfid` that an fail2ban rule matched (`m.f2b`). */
  observe(mlfid: string, m: SshdMatch): TrackedLine {
    const g = m.hostGroups;
    const key = this.cache.keyOf(mlfid);
    const hash = key >= 0 ? 0 : idHash(mlfid, 0, mlfid.length);
    let state = key >= 0 ? this.cache.findKey(key) : this.cache.find(mlfid, 0, mlfid.length, hash);
    if (state) {
      if (m.user) addUser(state, m.user);
      // A successful login clears the failures still waiting for an address.
      if (m.gained) state.pending = false;
      if (g.ip4 !== null || g.ip6 !== null) {
        if (g.ip4 !== null) state.ip4 = g.ip4;
        if (g.ip6 !== null) state.ip6 = g.ip6;
        setIp(state, state.ip4 !== null ? canonicalIp(state.ip4) : canonicalIp(state.ip6!));
      }
      if (g.dns !== null) state.dns = g.dns;
      if (m.forget) this.cache.remove(state);
    } else {
      state = newConnection(key >= 0 ? null : mlfid, key, g.ip4, g.ip6, g.dns, null, false, 0, m.forget ? null : m.user);
      setIp(state, g.ip4 !== null ? canonicalIp(g.ip4) : g.ip6 !== null ? canonicalIp(g.ip6) : null);
      if (!m.forget) this.insert(state, hash);
    }
    return { failure: this.outcome(state, m.nofail || m.gained), ip: state.ip };
  }

  /**
   * {@link observe} for the line of the ASCII bytes `b` whose content {@link matchSshdAt} matched (SSHD_FAST), of
   * connection `b[idStart, idEnd)`: whether the line is a failure of its address. That address is the line's own
   * when it names one (an ip4), else {@link lastIp}. Allocates only for a connection or an address not seen before.
   */
  observeFast(b: Buffer, idStart: number, idEnd: number): boolean {
    const f = SSHD_FAST;
    // The id's key from what the prefix scan read: the pid, and the host (numbered once per host it meets).
    let key = -1;
    if (scannedPid >= 0 && scannedHostLength > 0) {
      if (this.hostGeneration !== scannedHostGeneration) {
        this.hostGeneration = scannedHostGeneration;
        this.hostNumber = this.cache.hostNumber(asciiText(b, idStart + 1, idStart + 1 + scannedHostLength));
      }
      if (this.hostNumber >= 0) key = connectionKey(this.hostNumber, scannedPid);
    }
    let hash = 0;
    let state: Connection | null;
    if (key >= 0) state = this.cache.findKey(key);
    else {
      hash = idHashBytes(b, idStart, idEnd);
      state = this.cache.findBytes(b, idStart, idEnd, hash);
    }
    const nofail = f.nofail || f.gained;
    if (state === null && f.forget) {
      // A connection's last line that is also its first: nothing to keep, the line alone decides.
      this.lastIp = null;
      this.lastIpIsV4 = false;
      return !nofail && f.ipStart >= 0 && f.ipCanonical;
    }
    if (state !== null) {
      if (f.userEnd > f.userStart) {
        const n = f.userEnd - f.userStart;
        if (state.user === null) state.user = asciiText(b, f.userStart, f.userEnd);
        else if (!state.users2 && !(state.user.length === n && sameText(b, f.userStart, state.user))) state.users2 = true;
      }
      if (f.gained) state.pending = false;
      if (f.ipStart >= 0 && !(state.ip4 !== null && state.ip4.length === f.ipEnd - f.ipStart && sameText(b, f.ipStart, state.ip4))) {
        state.ip4 = asciiText(b, f.ipStart, f.ipEnd);
        state.ip = f.ipCanonical ? state.ip4 : null;
        state.ipIsV4 = f.ipCanonical;
        state.ipValue = f.ipValue;
      }
      if (f.forget) this.cache.remove(state);
    } else {
      const ip4 = f.ipStart >= 0 ? asciiText(b, f.ipStart, f.ipEnd) : null;
      const user = f.userEnd > f.userStart ? asciiText(b, f.userStart, f.userEnd) : null;
      state = newConnection(key >= 0 ? null : asciiText(b, idStart, idEnd), key, ip4, null, null, f.ipCanonical ? ip4 : null, f.ipCanonical, f.ipValue, user);
      this.insert(state, hash);
    }
    this.lastIp = state.ip;
    this.lastIpIsV4 = state.ipIsV4;
    this.lastIpValue = state.ipValue;
    return this.outcome(state, nofail);
  }

  counters(): TrackerCounters {
    return { evicted: this.evicted, size: this.cache.size };
  }

  private insert(state: Connection, hash: number): void {
    if (this.cache.size >= this.maxConnections) {
      this.cache.remove(this.cache.first()!);
      this.evicted++;
    }
    this.cache.add(state, hash);
  }

  /** Whether a line of the connection (after its update) counts as a failure of the connection's address. */
  private outcome(state: Connection, nofail: boolean): boolean {
    // Earlier failures waiting for an address, or attempts on more than one user name, make even a "no failure"
    // line (an accepted login, a closed connection) count.
    if (state.pending || state.users2) {
      state.pending = false;
      nofail = false;
    }
    if (nofail) return false;
    if (state.ip4 === null && state.ip6 === null && state.dns === null) {
      state.pending = true;
      return false;
    }
    // A host name fail2ban would resolve (usedns=warn), or an address that does not parse: we never resolve or
    // trust what a log line says, so such a failure counts for nobody.
    return state.ip !== null;
  }
}

function setIp(state: Connection, ip: string | null): void {
  state.ip = ip;
  const v4 = ip === null ? null : parseIPv4(ip);
  state.ipIsV4 = v4 !== null;
  state.ipValue = v4 === null ? 0 : v4 | 0;
}

function addUser(state: Connection, user: string): void {
  if (state.user === null) state.user = user;
  else if (user !== state.user) state.users2 = true;
}
