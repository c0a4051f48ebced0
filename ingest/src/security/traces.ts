/**
 * What makes an event trace: which events are security-relevant, how severe each one is (0-100), the causality
 * chain it closes (the earlier events of the same address, or of the same user when there is no address, within
 * the trace window), the services involved and a one-sentence root cause. Pure functions over the event and the
 * context the engine keeps; engine.ts stores the result.
 */
import type { LogAction, LogEvent } from '../logs/events';
import type { Severity } from '../protocol';

/**
 * Actions that make a trace. Sessions, connections, service start/stop and `other` do not (they are volume, not
 * signal), unless fail2ban counts the line as a failure ({@link isSecurityRelevant}).
 */
export const TRACED_ACTIONS: ReadonlySet<LogAction> = new Set<LogAction>([
  'failed_password',
  'failed_publickey',
  'auth_failure',
  'invalid_user',
  'accepted_password',
  'accepted_publickey',
  'accepted_other',
  'preauth_disconnect',
  'max_auth_attempts',
  'pam_auth_failure',
  'user_not_allowed',
  'login_refused',
  'connection_refused',
  'negotiation_failure',
  'sudo_command',
  'sudo_auth_failure',
  'sudo_not_allowed',
  'f2b_found',
  'f2b_ban',
  'f2b_unban',
  'f2b_restore_ban',
  'firewall_block',
  'error',
]);

/**
 * Failed or refused authentications: what chains count as failures and what repetition makes more severe. A
 * rejected public key is not one (clients offer their keys in turn); brute force itself counts what fail2ban counts.
 */
export const FAILURE_ACTIONS: ReadonlySet<string> = new Set(['failed_password', 'auth_failure', 'invalid_user', 'max_auth_attempts', 'pam_auth_failure', 'user_not_allowed', 'login_refused']);

export function isErrorLevel(e: LogEvent): boolean {
  return e.level === 'error' || e.level === 'critical';
}

/**
 * Whether an event makes a trace. Every event that moves a reputation counter does (a failure fail2ban counts,
 * whatever its action, an invalid user, a login, a ban), so the live counters equal the offline summary's.
 */
export function isSecurityRelevant(e: LogEvent): boolean {
  return (e.action != null && TRACED_ACTIONS.has(e.action)) || e.metadata?.f2b_failure === true || isErrorLevel(e);
}

/** One earlier event in a causality chain. */
export interface ChainStep {
  action: string;
  eventId: number | null;
  /** Unix seconds. */
  t: number;
  user: string | null;
  service: string | null;
}

/** Consecutive steps of the same action, merged: what `causality_chain` stores. */
export interface ChainLink {
  action: string;
  count: number;
  first: number;
  last: number;
  users: string[];
  event_ids: number[];
}

const MAX_LINK_USERS = 5;
const MAX_LINK_IDS = 10;

export function summarizeChain(steps: readonly ChainStep[]): ChainLink[] {
  const out: ChainLink[] = [];
  for (const s of steps) {
    let link = out[out.length - 1];
    if (!link || link.action !== s.action) {
      link = { action: s.action, count: 0, first: s.t, last: s.t, users: [], event_ids: [] };
      out.push(link);
    }
    link.count++;
    if (s.t < link.first) link.first = s.t;
    if (s.t > link.last) link.last = s.t;
    if (s.user && link.users.length < MAX_LINK_USERS && !link.users.includes(s.user)) link.users.push(s.user);
    if (s.eventId !== null && link.event_ids.length < MAX_LINK_IDS) link.event_ids.push(s.eventId);
  }
  return out;
}

/** `invalid_user → failed_password ×5 → f2b_ban` */
export function chainText(links: readonly ChainLink[]): string {
  return links.map((l) => (l.count > 1 ? `${l.action} ×${l.count}` : l.action)).join(' → ');
}

export interface TraceContext {
  /** Failures of the same address (or user) within the window before this event. */
  priorFailures: number;
  /** Distinct users those failures named. */
  priorUsers: number;
  /** The address's threat score just before this event. */
  threatScore: number;
  /** The address's bans so far, this one included. */
  bans: number;
  /** Brute-force threshold (failures), for the wording of the root cause. */
  bruteForceFailures: number;
}

const BASE_SEVERITY: Partial<Record<LogAction, number>> = {
  failed_password: 30,
  failed_publickey: 10,
  auth_failure: 30,
  invalid_user: 35,
  user_not_allowed: 35,
  login_refused: 40,
  connection_refused: 25,
  negotiation_failure: 20,
  pam_auth_failure: 30,
  max_auth_attempts: 45,
  preauth_disconnect: 15,
  accepted_password: 10,
  accepted_publickey: 5,
  accepted_other: 10,
  sudo_auth_failure: 45,
  sudo_not_allowed: 50,
  sudo_command: 15,
  f2b_found: 25,
  f2b_ban: 60,
  f2b_restore_ban: 40,
  f2b_unban: 10,
  firewall_block: 15,
  error: 50,
};

const PRIVILEGED_USERS = new Set(['root', 'admin', 'administrator', 'toor']);

/**
 * Severity of one event, 0-100: a base per action, raised by repetition (each earlier failure of the same source
 * in the window, 2 points, up to 30), by a privileged target account (10), by the source's threat score (a fifth
 * of it, up to 20), and by level (error 50, critical 75 at least). An accepted login after five failures is a
 * likely guessed password (70).
 */
export function eventSeverity(e: LogEvent, ctx: TraceContext): number {
  const a = e.action ?? 'other';
  let s = BASE_SEVERITY[a as LogAction] ?? 20;
  if (FAILURE_ACTIONS.has(a)) {
    s += Math.min(30, 2 * ctx.priorFailures);
    if (e.user && PRIVILEGED_USERS.has(e.user)) s += 10;
  } else if (a === 'accepted_password' || a === 'accepted_publickey' || a === 'accepted_other') {
    if (ctx.priorFailures >= ctx.bruteForceFailures) s = 70;
    else if (ctx.priorFailures > 0) s += 15;
  } else if (a === 'f2b_ban') {
    s += Math.min(20, 10 * Math.max(0, ctx.bans - 1));
  }
  if (e.ip) s += Math.min(20, ctx.threatScore / 5);
  if (e.level === 'critical') s = Math.max(s, 75);
  else if (e.level === 'error') s = Math.max(s, 50);
  return Math.round(Math.min(100, Math.max(0, s)) * 10) / 10;
}

/** The severity name of a score: the thresholds `minSeverity` filters by. */
export const SEVERITY_FLOOR: Readonly<Record<Severity, number>> = { info: 0, notice: 20, warning: 40, error: 60, critical: 80 };

export function severityLabel(score: number): Severity {
  if (score >= SEVERITY_FLOOR.critical) return 'critical';
  if (score >= SEVERITY_FLOOR.error) return 'error';
  if (score >= SEVERITY_FLOOR.warning) return 'warning';
  if (score >= SEVERITY_FLOOR.notice) return 'notice';
  return 'info';
}

function duration(seconds: number): string {
  if (seconds < 60) return `${Math.max(0, Math.round(seconds))}s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)}m`;
  return `${Math.round(seconds / 360) / 10}h`;
}

function meta(e: LogEvent, key: string): string | null {
  const v = e.metadata?.[key];
  return typeof v === 'string' || typeof v === 'number' ? String(v) : null;
}

/** One sentence saying what the event means in its chain. */
export function rootCause(e: LogEvent, links: readonly ChainLink[], ctx: TraceContext, errorHint?: string): string {
  const a = e.action ?? 'other';
  const from = e.ip ? ` from ${e.ip}` : '';
  const who = e.user ? ` ${e.user}` : '';
  const failures = links.filter((l) => FAILURE_ACTIONS.has(l.action)).reduce((n, l) => n + l.count, 0);
  const span = links.length > 0 ? duration(links[links.length - 1].last - links[0].first) : '0s';
  const jail = meta(e, 'jail');
  switch (a) {
    case 'failed_password':
    case 'auth_failure':
    case 'pam_auth_failure':
    case 'max_auth_attempts':
    case 'user_not_allowed':
    case 'login_refused':
    case 'invalid_user': {
      const n = ctx.priorFailures + 1;
      const what =
        a === 'invalid_user'
          ? `login attempt for non-existent user${who}`
          : a === 'user_not_allowed'
            ? `login for${who || ' a user'} refused by sshd's allow/deny lists`
            : a === 'login_refused'
              ? `root login refused`
              : `failed login for${who || ' an unknown user'}`;
      if (n >= ctx.bruteForceFailures) {
        const users = ctx.priorUsers > 1 ? ` against ${ctx.priorUsers} users` : '';
        return `password guessing${from}${users}: ${n} failures in ${span} (${what})`;
      }
      return `${what}${from}`;
    }
    case 'failed_publickey':
      return `public key rejected for${who || ' an unknown user'}${from}`;
    case 'connection_refused':
      return `TCP wrappers refused a connection${from}`;
    case 'negotiation_failure':
      return `connection${from} gave up before authentication (no identification or no common key exchange): a scanner or an old client`;
    case 'preauth_disconnect':
      return `connection${from} closed before authentication${failures > 0 ? ` after ${failures} failures` : ''}`;
    case 'accepted_password':
    case 'accepted_publickey':
    case 'accepted_other': {
      const how = a === 'accepted_password' ? 'password' : a === 'accepted_publickey' ? 'public key' : (meta(e, 'method') ?? 'another method');
      if (ctx.priorFailures >= ctx.bruteForceFailures) return `login accepted for${who}${from} by ${how} after ${ctx.priorFailures} failures: the password may have been guessed`;
      if (ctx.priorFailures > 0) return `login accepted for${who}${from} by ${how} after ${ctx.priorFailures} failed attempts`;
      return `login accepted for${who}${from} by ${how}`;
    }
    case 'sudo_auth_failure':
      return `wrong password for sudo by${who || ' an unknown user'}`;
    case 'sudo_not_allowed':
      return `${e.user ?? 'a user'} was refused by sudo (not in sudoers, or a command not allowed)`;
    case 'sudo_command': {
      const cmd = meta(e, 'command');
      return `${e.user ?? 'a user'} ran a command as ${meta(e, 'runAs') ?? 'root'} through sudo${cmd ? `: ${cmd}` : ''}`;
    }
    case 'f2b_found':
      return `fail2ban${jail ? ` jail ${jail}` : ''} counted a failure${from}`;
    case 'f2b_ban':
      return `fail2ban${jail ? ` jail ${jail}` : ''} banned ${e.ip ?? 'an address'}${failures > 0 ? ` after ${failures} failures in ${span}` : ''}${ctx.bans > 1 ? ` (ban ${ctx.bans})` : ''}`;
    case 'f2b_restore_ban':
      return `fail2ban${jail ? ` jail ${jail}` : ''} restored its ban of ${e.ip ?? 'an address'} at restart`;
    case 'f2b_unban':
      return `fail2ban${jail ? ` jail ${jail}` : ''} lifted its ban of ${e.ip ?? 'an address'}`;
    case 'firewall_block': {
      const proto = meta(e, 'proto');
      const dpt = meta(e, 'dpt');
      return `firewall blocked ${proto ?? 'a packet'}${from}${dpt ? ` to port ${dpt}` : ''}`;
    }
    default:
      return errorHint ?? `${e.service ?? e.source} reported: ${e.message.slice(0, 200)}`;
  }
}

/** Services of the event and of its chain, in order of appearance. */
export function relatedServices(e: LogEvent, steps: readonly ChainStep[]): string[] {
  const out: string[] = [];
  for (const s of [...steps.map((x) => x.service), e.service ?? null]) if (s && !out.includes(s)) out.push(s);
  return out;
}
