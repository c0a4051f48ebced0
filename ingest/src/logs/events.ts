/**
 * A log event as stored in `log_events`, and the batch writer that stores them. Every producer of events
 * (file tailers, journald, the service's own lifecycle) queues through this one writer.
 */
import { BatchWriter, type WriterHost } from '../store';

export type LogLevel = 'debug' | 'info' | 'notice' | 'warning' | 'error' | 'critical';

export interface LogEvent {
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
  action?: string | null;
  metadata?: Record<string, unknown> | null;
}

export function createLogEventWriter(host: WriterHost, opts: { batchSize?: number; flushIntervalMs?: number; maxQueue?: number } = {}): BatchWriter<LogEvent> {
  return new BatchWriter<LogEvent>(host, {
    name: 'log_events',
    sql: 'INSERT INTO log_events (timestamp, source, level, message, ip, user, service, action, metadata) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    toParams: (e) => [
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
}
