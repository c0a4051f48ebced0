/**
 * Log lines in the formats the real programs write, for the demo: syslog's traditional file format (what rsyslog
 * writes to auth.log, syslog and kern.log: `Mmm dd hh:mm:ss host prog[pid]: message`, local time, the RFC 3164
 * layout) and fail2ban.log (`YYYY-MM-DD hh:mm:ss,mmm fail2ban.module [pid]: LEVEL [jail] message`, local time).
 */

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** `Dec  1 21:05:09`: the day padded with a space, as rsyslog's RSYSLOG_TraditionalFileFormat writes it. */
export function syslogDate(ms: number): string {
  const d = new Date(ms);
  return `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** `host prog[pid]: message` after the date; pid null for programs that log without one (kernel). */
export function syslogLine(ms: number, host: string, program: string, pid: number | null, message: string): string {
  return `${syslogDate(ms)} ${host} ${program}${pid === null ? '' : `[${pid}]`}: ${message}`;
}

/** `2026-12-01 21:05:09` in local time; with `millis`, `,123` appended as fail2ban's logger does. */
export function isoLocal(ms: number, millis = false): string {
  const d = new Date(ms);
  const base = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return millis ? `${base},${pad(d.getMilliseconds(), 3)}` : base;
}

export type Fail2banLevel = 'INFO' | 'NOTICE' | 'WARNING';

/** One fail2ban.log line: the module name padded to 24 and the level to 8 columns, as fail2ban's default format. */
export function fail2banLine(ms: number, module: 'filter' | 'actions' | 'server', pid: number, level: Fail2banLevel, message: string): string {
  return `${isoLocal(ms, true)} ${`fail2ban.${module}`.padEnd(24)} [${pid}]: ${level.padEnd(8)} ${message}`;
}

/** The kernel's log prefix: seconds since boot with microseconds, `[ 1234.567890]`. */
export function kernelTime(uptimeSeconds: number): string {
  return `[${uptimeSeconds.toFixed(6).padStart(12, ' ')}]`;
}
