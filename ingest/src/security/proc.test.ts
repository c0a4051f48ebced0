import { readFileSync } from 'node:fs';
import net from 'node:net';
import { parseCmdline, parseProcIo, parseProcNetTcp, parseProcStat, parseProcStatus, readProcess, readTcpSockets, socketInvolves, statusKb } from './proc';

// Captured on this machine kind (Debian 12, x86-64): `cat /proc/self/stat`, status, io, and the socket tables
// while a Node server listened on [::]:38545 with one connection from [::1] and one from 127.0.0.1. The stat line's
// utime and stime (fields 14, 15) were 0 for cat and are set to 7 and 3 ticks here so the conversion shows.
const STAT =
  '17962 (cat) R 17960 17960 6992 0 -1 4194304 99 0 0 0 7 3 0 0 20 0 1 0 124565 3133440 393 18446744073709551615 94896778342400 94896778362281 140721062545840 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 94896778378288 94896778379904 94897649995776 140721062550046 140721062550066 140721062550066 140721062551531 0\n';
const STATUS = 'Name:\tcat\nUmask:\t0022\nState:\tR (running)\nTgid:\t17963\nPid:\t17963\nPPid:\t17960\nVmPeak:\t    3060 kB\nVmSize:\t    3060 kB\nVmRSS:\t    1704 kB\nThreads:\t1\n';
const IO = 'rchar: 6976\nwchar: 0\nsyscr: 10\nsyscw: 0\nread_bytes: 0\nwrite_bytes: 4096\ncancelled_write_bytes: 0\n';
const TCP =
  '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n' +
  '   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 564 1 00000000b161fab3 100 0 0 10 0\n' +
  '   1: 0100007F:A1A3 0100007F:D3C4 06 00000000:00000000 03:00000745 00000000     0        0 0 3 00000000ac786b09\n';
const TCP6 =
  '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n' +
  '   0: 00000000000000000000000000000000:9691 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 56244 1 00000000abcb773c 100 0 0 10 0\n' +
  '   1: 00000000000000000000000001000000:9691 00000000000000000000000001000000:812A 01 00000000:00000000 00:00000000 00000000     0        0 56246 1 000000003864a4f4 20 0 0 10 -1\n' +
  '   3: 0000000000000000FFFF00000100007F:9691 0000000000000000FFFF00000100007F:86AC 01 00000000:00000000 00:00000000 00000000     0        0 56248 1 0000000010e499db 20 0 0 10 -1\n';

describe('/proc/<pid> parsers', () => {
  it('reads the fields of stat, counting from the last parenthesis', () => {
    expect(parseProcStat(STAT)).toEqual({ pid: 17962, comm: 'cat', state: 'R', ppid: 17960, utimeSeconds: 0.07, stimeSeconds: 0.03, threads: 1, vsizeBytes: 3133440, rssPages: 393 });
  });

  it('keeps a command name with spaces and parentheses whole', () => {
    const tricky = STAT.replace('(cat)', '(tmux: server) (x)');
    expect(parseProcStat(tricky)).toMatchObject({ pid: 17962, comm: 'tmux: server) (x', state: 'R', ppid: 17960 });
  });

  it.each(['', 'garbage', '12 (x) R 1', '12 x) R 1 2 3'])('refuses %j as a stat line', (text) => {
    expect(parseProcStat(text)).toBeNull();
  });

  it('reads status values and kB sizes', () => {
    const s = parseProcStatus(STATUS);
    expect([s.Name, s.State, s.PPid, statusKb(s, 'VmRSS'), statusKb(s, 'VmSize'), statusKb(s, 'VmSwap')]).toEqual(['cat', 'R (running)', '17960', 1704 * 1024, 3060 * 1024, null]);
  });

  it('reads io counters, and refuses a truncated file', () => {
    expect(parseProcIo(IO)).toEqual({ rchar: 6976, wchar: 0, syscr: 10, syscw: 0, readBytes: 0, writeBytes: 4096 });
    expect(parseProcIo('rchar: 1\n')).toBeNull();
  });

  it('shows the command line space-separated and bounded', () => {
    expect(parseCmdline(Buffer.from('sshd: root [priv]\0\0'))).toBe('sshd: root [priv] ');
    expect(parseCmdline(Buffer.from('/usr/sbin/sshd\0-D\0'))).toBe('/usr/sbin/sshd -D');
    expect(parseCmdline(Buffer.from('a'.repeat(2000)), 10)).toBe(`${'a'.repeat(10)}…`);
  });

  it('snapshots this very process from the live /proc', () => {
    const snap = readProcess(process.pid)!;
    const comm = readFileSync(`/proc/${process.pid}/comm`, 'utf8').trim();
    expect(snap).toMatchObject({ pid: process.pid, ppid: process.ppid, name: comm, state: expect.stringMatching(/^[RS]$/) });
    expect(snap.cmdline).toContain('node');
    expect(snap.rssBytes! > 10 * 1024 * 1024 && snap.vmsBytes! > snap.rssBytes!).toBe(true);
    expect(snap.threads).toBeGreaterThanOrEqual(1);
    expect(snap.cpuUserSeconds + snap.cpuSystemSeconds).toBeGreaterThan(0);
    expect(snap.ioReadSyscalls).toBeGreaterThan(0);
  });

  it('gives null for a process that does not exist', () => {
    expect([readProcess(0), readProcess(-5), readProcess(2 ** 22 + 12345)]).toEqual([null, null, null]);
  });
});

describe('/proc/net/tcp parsers', () => {
  it('decodes IPv4 sockets (little-endian words, hex ports, state names)', () => {
    expect(parseProcNetTcp(TCP, 4, true)).toEqual([
      { protocol: 'tcp', localIp: '0.0.0.0', localPort: 2024, remoteIp: '0.0.0.0', remotePort: 0, state: 'LISTEN' },
      { protocol: 'tcp', localIp: '127.0.0.1', localPort: 41379, remoteIp: '127.0.0.1', remotePort: 54212, state: 'TIME_WAIT' },
    ]);
  });

  it('decodes IPv6 sockets, IPv4-mapped ones in their ::ffff: form', () => {
    expect(parseProcNetTcp(TCP6, 6, true)).toEqual([
      { protocol: 'tcp6', localIp: '::', localPort: 38545, remoteIp: '::', remotePort: 0, state: 'LISTEN' },
      { protocol: 'tcp6', localIp: '::1', localPort: 38545, remoteIp: '::1', remotePort: 33066, state: 'ESTABLISHED' },
      { protocol: 'tcp6', localIp: '::ffff:127.0.0.1', localPort: 38545, remoteIp: '::ffff:127.0.0.1', remotePort: 34476, state: 'ESTABLISHED' },
    ]);
  });

  it('matches an IPv4 address to its mapped form', () => {
    const [, , mapped] = parseProcNetTcp(TCP6, 6, true);
    expect([socketInvolves(mapped, '127.0.0.1'), socketInvolves(mapped, '127.0.0.2')]).toEqual([true, false]);
  });

  it('skips headers and malformed lines', () => {
    expect(parseProcNetTcp('junk\n  0: ZZZZ:0016 00000000:0000 0A\n   1: 0100007F:0016\n', 4, true)).toEqual([]);
  });

  it('finds a real loopback connection of this process in the live tables', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const client = net.connect(port, '127.0.0.1');
    await new Promise<void>((r) => client.on('connect', r));
    try {
      const mine = readTcpSockets().filter((s) => s.localPort === port || s.remotePort === port);
      expect(mine.map((s) => `${s.localIp}:${s.localPort === port ? 'P' : 'c'} ${s.remoteIp}:${s.remotePort === port ? 'P' : 'c'} ${s.state}`).sort()).toEqual([
        '127.0.0.1:P 0.0.0.0:c LISTEN',
        '127.0.0.1:P 127.0.0.1:c ESTABLISHED',
        '127.0.0.1:c 127.0.0.1:P ESTABLISHED',
      ]);
    } finally {
      client.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
