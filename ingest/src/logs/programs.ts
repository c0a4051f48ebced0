/**
 * Messages of the programs other than sshd that matter to security: sudo, fail2ban's own log, and the kernel's
 * firewall log lines (UFW, iptables/nftables LOG targets). Pure functions over the message text (after the syslog
 * framing); each returns what the line says, or null when it is not that program's kind of line.
 */
import type { LogAction, LogLevel } from './events';
import { canonicalIp } from './sshd';

export interface ProgramMatch {
  action: LogAction;
  level: LogLevel;
  ip?: string | null;
  user?: string | null;
  metadata?: Record<string, unknown>;
}

/** Longest value kept from a log field: log lines are attacker-controlled (user names, commands). */
export const MAX_FIELD_CHARS = 256;

export function capField(s: string | undefined | null, max = MAX_FIELD_CHARS): string | null {
  if (s === undefined || s === null || s === '') return null;
  return s.length > max ? s.slice(0, max) : s;
}

// sudo(8) logs "user : [reason ; ]TTY=... ; PWD=... ; USER=... ; COMMAND=..." (sudoers(5), "LOG FORMAT").
const SUDO_RE = /^\s*(\S+) : (?:(.*?) ; )?TTY=(\S*) ; PWD=(.*?) ; USER=(\S+) ;(?: GROUP=\S+ ;)?(?: ENV=.*? ;)? COMMAND=(.*)$/s;
const SUDO_PAM_FAIL_RE = /^pam_unix\(sudo(?:-i)?:auth\): authentication failure;.*?\bruser=(\S*).*?(?:\buser=(\S+))?\s*$/s;
const SUDO_SESSION_RE = /^pam_unix\(sudo(?:-i)?:session\): session (opened|closed) for user (\S+?)(?:\(uid=\d+\))?(?: by (\S+?)(?:\(uid=\d+\))?)?$/s;

export function parseSudoMessage(msg: string): ProgramMatch | null {
  const m = SUDO_RE.exec(msg);
  if (m) {
    const reason = m[2];
    const meta = { tty: capField(m[3]), pwd: capField(m[4]), run_as: capField(m[5]), command: capField(m[6], 1024), ...(reason ? { reason: capField(reason) } : {}) };
    if (!reason) return { action: 'sudo_command', level: 'notice', user: capField(m[1]), metadata: meta };
    // "3 incorrect password attempts", "user NOT in sudoers", "command not allowed", "a password is required".
    const notAllowed = /NOT in sudoers|not allowed|NOT allowed/.test(reason);
    return { action: notAllowed ? 'sudo_not_allowed' : 'sudo_auth_failure', level: 'warning', user: capField(m[1]), metadata: meta };
  }
  const f = SUDO_PAM_FAIL_RE.exec(msg);
  if (f) return { action: 'sudo_auth_failure', level: 'warning', user: capField(f[2] || f[1]) };
  const s = SUDO_SESSION_RE.exec(msg);
  if (s) return { action: s[1] === 'opened' ? 'session_opened' : 'session_closed', level: 'info', user: capField(s[2]), metadata: s[3] ? { by: capField(s[3]) } : undefined };
  return null;
}

// fail2ban.log: "2024-03-27 13:06:56,123 fail2ban.actions        [1234]: NOTICE  [sshd] Ban 1.2.3.4" (the date is
// framed by the caller); through syslog the same text follows "fail2ban-server[pid]: " or "fail2ban.actions[pid]: ".
const F2B_LOG_RE = /^(?:(fail2ban\.\w+)\s*(?:\[\d+\])?:\s*)?(?:(DEBUG|INFO|NOTICE|WARNING|ERROR|CRITICAL)\s+)?\[([^\]\s]{1,64})\] (Found|Ban|Unban|Restore Ban|Restore Unban|Increase Ban|Ignore) (\S+)(.*)$/s;
const F2B_ACTIONS: Record<string, LogAction> = { Found: 'f2b_found', Ban: 'f2b_ban', Unban: 'f2b_unban', 'Restore Ban': 'f2b_restore_ban', 'Increase Ban': 'f2b_ban' };
const F2B_LEVEL: Record<string, LogLevel> = { DEBUG: 'debug', INFO: 'info', NOTICE: 'notice', WARNING: 'warning', ERROR: 'error', CRITICAL: 'critical' };

export function parseFail2banMessage(msg: string): ProgramMatch | null {
  const m = F2B_LOG_RE.exec(msg);
  if (!m) return null;
  const action = F2B_ACTIONS[m[4]];
  if (!action) return null;
  const ip = canonicalIp(m[5]);
  const level: LogLevel = m[2] ? F2B_LEVEL[m[2]] : action === 'f2b_found' ? 'info' : 'notice';
  const meta: Record<string, unknown> = { jail: m[3] };
  if (m[1]) meta.logger = m[1];
  // "Found 1.2.3.4 - 2024-03-27 13:06:56"; "Ban 1.2.3.4 (+ 3600 = ...)" for increased bans.
  const when = / - (\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})/.exec(m[6]);
  if (when) meta.failure_time = when[1];
  if (ip === null) meta.host = capField(m[5], 64);
  return { action, level, ip, metadata: meta };
}

// Netfilter LOG lines (xt_LOG / nf_log_syslog): "PREFIX IN=eth0 OUT= MAC=... SRC=... DST=... ... PROTO=TCP SPT=.. DPT=..".
const NF_FIELDS = /\b(IN|OUT|SRC|DST|PROTO|SPT|DPT|LEN|TTL)=(\S*)/g;
const UFW_RE = /\[UFW (BLOCK|ALLOW|AUDIT|LIMIT BLOCK|AUDIT INVALID)\]/;

export function parseFirewallMessage(msg: string): ProgramMatch | null {
  if (!msg.includes('SRC=') || !msg.includes('DST=')) return null;
  const f: Record<string, string> = {};
  NF_FIELDS.lastIndex = 0;
  for (let m = NF_FIELDS.exec(msg); m; m = NF_FIELDS.exec(msg)) if (!(m[1] in f)) f[m[1]] = m[2];
  const src = f.SRC ? canonicalIp(f.SRC) : null;
  const dst = f.DST ? canonicalIp(f.DST) : null;
  if (src === null || dst === null) return null;
  const ufw = UFW_RE.exec(msg);
  // The LOG prefix is whatever the rule author chose: ACCEPT/ALLOW in it means an allow rule logged the packet.
  const prefixEnd = msg.indexOf('IN=');
  const prefix = prefixEnd > 0 ? msg.slice(0, prefixEnd).replace(/^\[\s*\d+\.\d+\]\s*/, '').trim() : '';
  const allow = ufw ? ufw[1] === 'ALLOW' : /ACCEPT|ALLOW/i.test(prefix);
  const port = (s: string | undefined) => (s !== undefined && /^\d{1,5}$/.test(s) && Number(s) <= 65535 ? Number(s) : null);
  const meta: Record<string, unknown> = {
    src,
    dst,
    proto: capField(f.PROTO, 16),
    spt: port(f.SPT),
    dpt: port(f.DPT),
    in: capField(f.IN, 32),
    out: capField(f.OUT, 32),
  };
  if (prefix) meta.prefix = capField(prefix, 64);
  return { action: allow ? 'firewall_allow' : 'firewall_block', level: allow ? 'info' : 'notice', ip: src, metadata: meta };
}
