/**
 * What /proc says about a process and about TCP sockets, for the process and network traces of an event.
 * Parsers take file contents (tests feed fixture text, after node_exporter's collectors); the two readers do the
 * I/O and never throw for a process that went away or a file that cannot be read.
 *
 * Formats: proc(5). /proc/<pid>/stat's second field is the command name in parentheses and may itself contain
 * spaces and parentheses, so fields are counted from the last ')'. CPU times there are in USER_HZ ticks, which
 * Linux fixes at 100 for everything it exports to user space whatever the kernel's HZ.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { formatIPv4, formatIPv6 } from '../protocol/ip';

const USER_HZ = 100;

export interface ProcStat {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  utimeSeconds: number;
  stimeSeconds: number;
  threads: number;
  vsizeBytes: number;
  rssPages: number;
}

/** Parses /proc/<pid>/stat; null when it is not one. */
export function parseProcStat(text: string): ProcStat | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 1 || close < open) return null;
  const pid = Number(text.slice(0, open).trim());
  const f = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  // f[0] is field 3 (state) of proc(5); field n is f[n - 3].
  if (!Number.isInteger(pid) || f.length < 22) return null;
  const num = (n: number) => Number(f[n - 3]);
  const out: ProcStat = {
    pid,
    comm: text.slice(open + 1, close),
    state: f[0],
    ppid: num(4),
    utimeSeconds: num(14) / USER_HZ,
    stimeSeconds: num(15) / USER_HZ,
    threads: num(20),
    vsizeBytes: num(23),
    rssPages: num(24),
  };
  return Object.values(out).every((v) => typeof v === 'string' || Number.isFinite(v)) ? out : null;
}

/** Parses /proc/<pid>/status into its `Key: value` pairs (values trimmed). */
export function parseProcStatus(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) out[line.slice(0, colon)] = line.slice(colon + 1).trim();
  }
  return out;
}

/** A `NNN kB` value of /proc/<pid>/status in bytes, null when absent (kernel threads have no VmRSS). */
export function statusKb(status: Record<string, string>, key: string): number | null {
  const m = /^(\d+)\s*kB$/.exec(status[key] ?? '');
  return m ? Number(m[1]) * 1024 : null;
}

export interface ProcIo {
  rchar: number;
  wchar: number;
  syscr: number;
  syscw: number;
  readBytes: number;
  writeBytes: number;
}

/** Parses /proc/<pid>/io; null when a field is missing. */
export function parseProcIo(text: string): ProcIo | null {
  const kv = parseProcStatus(text);
  const n = (k: string) => (kv[k] !== undefined && /^\d+$/.test(kv[k]) ? Number(kv[k]) : NaN);
  const out = { rchar: n('rchar'), wchar: n('wchar'), syscr: n('syscr'), syscw: n('syscw'), readBytes: n('read_bytes'), writeBytes: n('write_bytes') };
  return Object.values(out).every(Number.isFinite) ? out : null;
}

/** /proc/<pid>/cmdline: NUL-separated arguments, shown space-separated and bounded. */
export function parseCmdline(buf: Buffer, maxLength = 1024): string {
  let s = buf.toString('utf8');
  if (s.endsWith('\0')) s = s.slice(0, -1);
  s = s.replace(/\0/g, ' ');
  return s.length > maxLength ? `${s.slice(0, maxLength)}…` : s;
}

export interface ProcessSnapshot {
  pid: number;
  name: string;
  cmdline: string;
  state: string;
  ppid: number;
  rssBytes: number | null;
  vmsBytes: number | null;
  cpuUserSeconds: number;
  cpuSystemSeconds: number;
  threads: number;
  ioReadBytes: number | null;
  ioWriteBytes: number | null;
  ioReadSyscalls: number | null;
  ioWriteSyscalls: number | null;
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/**
 * A snapshot of a live process, or null when it does not exist (or no longer does). /proc/<pid>/io needs the
 * right to ptrace the process: without it the I/O fields are null.
 */
export function readProcess(pid: number, procRoot = '/proc'): ProcessSnapshot | null {
  if (!Number.isInteger(pid) || pid < 1) return null;
  const dir = `${procRoot}/${pid}`;
  const statText = readText(`${dir}/stat`);
  const st = statText === null ? null : parseProcStat(statText);
  if (!st) return null;
  const status = parseProcStatus(readText(`${dir}/status`) ?? '');
  const ioText = readText(`${dir}/io`);
  const io = ioText === null ? null : parseProcIo(ioText);
  let cmdline = '';
  try {
    cmdline = parseCmdline(readFileSync(`${dir}/cmdline`));
  } catch {
    // Gone between the reads: the stat snapshot still stands.
  }
  return {
    pid: st.pid,
    name: status.Name ?? st.comm,
    cmdline,
    state: st.state,
    ppid: st.ppid,
    rssBytes: statusKb(status, 'VmRSS'),
    vmsBytes: statusKb(status, 'VmSize'),
    cpuUserSeconds: st.utimeSeconds,
    cpuSystemSeconds: st.stimeSeconds,
    threads: st.threads,
    ioReadBytes: io?.readBytes ?? null,
    ioWriteBytes: io?.writeBytes ?? null,
    ioReadSyscalls: io?.syscr ?? null,
    ioWriteSyscalls: io?.syscw ?? null,
  };
}

/** TCP states as numbered in the kernel's include/net/tcp_states.h. */
const TCP_STATES = ['', 'ESTABLISHED', 'SYN_SENT', 'SYN_RECV', 'FIN_WAIT1', 'FIN_WAIT2', 'TIME_WAIT', 'CLOSE', 'CLOSE_WAIT', 'LAST_ACK', 'LISTEN', 'CLOSING', 'NEW_SYN_RECV'];

export interface TcpSocket {
  protocol: 'tcp' | 'tcp6';
  localIp: string;
  localPort: number;
  remoteIp: string;
  remotePort: number;
  state: string;
}

function hostWord(hex: string, littleEndian: boolean): number {
  const v = parseInt(hex, 16) >>> 0;
  if (!littleEndian) return v;
  // The kernel prints each 32-bit word of the address as the number it is in memory.
  return (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
}

function parseEndpoint(s: string, family: 4 | 6, le: boolean): { ip: string; port: number } | null {
  const colon = s.indexOf(':');
  const addr = s.slice(0, colon);
  const port = parseInt(s.slice(colon + 1), 16);
  if (colon < 0 || !/^[0-9A-Fa-f]+$/.test(addr) || !Number.isInteger(port)) return null;
  if (family === 4) return addr.length === 8 ? { ip: formatIPv4(hostWord(addr, le)), port } : null;
  if (addr.length !== 32) return null;
  const w = [0, 8, 16, 24].map((i) => hostWord(addr.slice(i, i + 8), le));
  return { ip: formatIPv6(w[0], w[1], w[2], w[3]), port };
}

/** Parses /proc/net/tcp (family 4) or /proc/net/tcp6 (family 6); lines that are not sockets are skipped. */
export function parseProcNetTcp(text: string, family: 4 | 6, littleEndian = os.endianness() === 'LE'): TcpSocket[] {
  const out: TcpSocket[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4 || !/^\d+:$/.test(f[0])) continue;
    const local = parseEndpoint(f[1], family, littleEndian);
    const remote = parseEndpoint(f[2], family, littleEndian);
    const st = parseInt(f[3], 16);
    if (!local || !remote) continue;
    out.push({ protocol: family === 4 ? 'tcp' : 'tcp6', localIp: local.ip, localPort: local.port, remoteIp: remote.ip, remotePort: remote.port, state: TCP_STATES[st] ?? `UNKNOWN_${st}` });
  }
  return out;
}

/** Both socket tables of this host (empty when /proc/net is unreadable). */
export function readTcpSockets(procRoot = '/proc'): TcpSocket[] {
  return [...parseProcNetTcp(readText(`${procRoot}/net/tcp`) ?? '', 4), ...parseProcNetTcp(readText(`${procRoot}/net/tcp6`) ?? '', 6)];
}

/** Whether the socket has `ip` at either end; an IPv4 address also matches its IPv4-mapped IPv6 form. */
export function socketInvolves(s: TcpSocket, ip: string): boolean {
  const mapped = `::ffff:${ip}`;
  return s.remoteIp === ip || s.localIp === ip || s.remoteIp === mapped || s.localIp === mapped;
}
