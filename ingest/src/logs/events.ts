/**
 * A log event as stored in `log_events`, and the batch writer that stores them. Every producer of events
 * (file tailers, journald, the service's own lifecycle) queues through this one writer.
 */
import { BatchWriter, type WriterHost } from '../store';

export type LogLevel = 'debug' | 'info' | 'notice' | 'warning' | 'error' | 'critical';

/**
 * What a log line says happened, in one vocabulary for every source: the parsers produce these, the security
 * engine (traces, reputation, patterns) and the queries branch on them. A line that matches no rule of its
 * parser keeps its text with action `other`.
 */
export const LOG_ACTIONS = [
  // sshd
  'failed_password', // "Failed password for [invalid user] X from IP" (also "Failed none/keyboard-interactive")
  'failed_publickey', // "Failed publickey for X from IP": no failure to fail2ban unless the user is invalid
  'auth_failure', // "error: PAM: Authentication failure for X from IP", "Received disconnect ...: 3: ...: Auth fail"
  'invalid_user', // "Invalid user X from IP"
  'accepted_password',
  'accepted_publickey',
  'preauth_disconnect', // "Connection closed/Disconnected from [authenticating|invalid] user X IP port N [preauth]"
  'max_auth_attempts', // "maximum authentication attempts exceeded for ..."
  'pam_auth_failure', // "pam_unix(sshd:auth): authentication failure; ... rhost=IP"
  'user_not_allowed', // "User X from IP not allowed because ..." (AllowUsers, DenyUsers, groups, locked account)
  'login_refused', // "ROOT LOGIN REFUSED FROM IP"
  'connection_refused', // tcpwrappers "refused connect from HOST (IP)"
  'connection', // "Connection from IP port N" (LogLevel VERBOSE)
  'disconnect', // a disconnect after authentication ("Received disconnect from IP port N:11: disconnected by user")
  'negotiation_failure', // "Unable to negotiate with IP", "Did not receive identification string from IP"
  'accepted_other', // "Accepted keyboard-interactive/pam (or hostbased, gssapi-with-mic) for X from IP"
  'session_opened',
  'session_closed',
  // sudo
  'sudo_command',
  'sudo_auth_failure',
  'sudo_not_allowed', // "user NOT in sudoers", "command not allowed"
  // fail2ban
  'f2b_found',
  'f2b_ban',
  'f2b_unban',
  'f2b_restore_ban',
  // kernel firewall (UFW / iptables LOG)
  'firewall_block',
  'firewall_allow',
  // syslog lines that report a failure of a service
  'error',
  // the service itself
  'start',
  'stop',
  'other',
] as const;
export type LogAction = (typeof LOG_ACTIONS)[number];

export interface LogEvent {
  /**
   * `log_events.id`, set by the writer when it queues the event (push, write), so what references the row (event
   * traces) knows it before the row is written. Absent for an event that was never stored.
   */
  id?: number;
  /** Unix seconds. */
  timestamp: number;
  /** Where the line came from: auth, fail2ban, syslog, kern, journald, netwatch (the service itself). */
  source: string;
  level: LogLevel;
  message: string;
  ip?: string | null;
  user?: string | null;
  service?: string | null;
  /** What happened, in a fixed vocabulary per source: failed_password, invalid_user, ban, start, ... */
  action?: LogAction | null;
  /**
   * Per-source details. The log parsers set `f2b_failure: true` on exactly the sshd lines fail2ban's sshd filter
   * counts as a failure of `ip` (ingest/src/logs/sshd.ts), so reputation failures agree with fail2ban; `ip` is then
   * the connection's address even when this line names none ("Disconnecting: Too many authentication failures").
   */
  metadata?: Record<string, unknown> | null;
}

/**
 * The one writer of `log_events`. It numbers the events itself, continuing after the largest stored id, so an
 * event's id is known as soon as it is queued; writers of rows that reference it list this writer in their
 * `flushFirst`, which commits the event before its reference.
 */
export class LogEventWriter extends BatchWriter<LogEvent> {
  private nextId: number;

  constructor(host: WriterHost, opts: { batchSize?: number; flushIntervalMs?: number; maxQueue?: number } = {}) {
    super(host, {
      name: 'log_events',
      sql: 'INSERT INTO log_events (id, timestamp, source, level, message, ip, user, service, action, metadata) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      toParams: (e) => [
        e.id ?? null,
        Math.floor(e.timestamp),
        e.source,
        e.level,
        e.message,
        e.ip ?? null,
        e.user ?? null,
        e.service ?? null,
        e.action ?? null,
        e.metadata ? JSON.stringify(e.metadata) : null,
      ],
      ...opts,
    });
    this.nextId = ((host.db.prepare('SELECT max(id) FROM log_events').pluck().get() as number | null) ?? 0) + 1;
  }

  override push(e: LogEvent): boolean {
    e.id = this.nextId;
    if (!super.push(e)) {
      delete e.id;
      return false;
    }
    this.nextId++;
    return true;
  }

  /** Numbers the event at once; should the row then be dropped (timeout), a trace referencing it is rejected and counted. */
  override write(e: LogEvent): Promise<boolean> {
    e.id = this.nextId++;
    return super.write(e);
  }
}

export function createLogEventWriter(host: WriterHost, opts: { batchSize?: number; flushIntervalMs?: number; maxQueue?: number } = {}): LogEventWriter {
  return new LogEventWriter(host, opts);
}
