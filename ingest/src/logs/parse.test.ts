/**
 * The parsers on real lines of the shared logs (../shared/data/logs), one whole event per line. Lines are quoted
 * here from those files (each test checks the quote is still in its file), except the kinds the shared logs do
 * not hold (firewall lines, fail2ban's Found / Restore Ban, sudo refusals), written in their programs' formats.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { SeededRandom } from '../demo/random';
import { describeWithData, testDataPath } from '../testing/data';
import type { LogEvent } from './events';
import { LineSplitter, type LineSink } from './lines';
import { isBinary, LogLineParser, primeTally, type LogType } from './parse';
import { LogSummary } from './summary';

process.env.TZ = 'UTC';
// 2024-05-01: the elastic auth.log (Mar 27 - Apr 20) is from the months before it.
const REF = Date.UTC(2024, 4, 1);
const ts = (iso: string) => Date.parse(iso) / 1000;

function parseOne(line: string, type: LogType = 'auto'): LogEvent | string {
  const r = new LogLineParser({ type, refMs: REF }).parse(line);
  return r.event ?? r.skip;
}

const REAL: Array<[string, string, Partial<LogEvent>]> = [
  [
    'elastic_examples_auth.log',
    'Mar 29 14:15:41 ip-10-77-20-248 sshd[2414]: Failed password for invalid user pi from 181.25.206.27 port 50378 ssh2',
    { timestamp: ts('2024-03-29T14:15:41Z'), source: 'auth', level: 'warning', ip: '181.25.206.27', user: 'pi', service: 'sshd', action: 'failed_password', metadata: { host: 'ip-10-77-20-248', pid: 2414, port: 50378, method: 'password', f2b_failure: true } },
  ],
  [
    'elastic_examples_auth.log',
    'Mar 29 23:18:21 ip-10-77-20-248 sshd[6402]: Failed password for root from 218.60.136.106 port 56338 ssh2',
    { timestamp: ts('2024-03-29T23:18:21Z'), source: 'auth', level: 'warning', ip: '218.60.136.106', user: 'root', service: 'sshd', action: 'failed_password', metadata: { host: 'ip-10-77-20-248', pid: 6402, port: 56338, method: 'password', f2b_failure: true } },
  ],
  [
    'elastic_examples_auth.log',
    'Mar 27 14:54:57 ip-10-77-20-248 sshd[2967]: Invalid user support from 95.152.57.58',
    { timestamp: ts('2024-03-27T14:54:57Z'), source: 'auth', level: 'warning', ip: '95.152.57.58', user: 'support', service: 'sshd', action: 'invalid_user', metadata: { host: 'ip-10-77-20-248', pid: 2967, f2b_failure: true } },
  ],
  [
    'elastic_examples_auth.log',
    'Mar 29 10:43:01 ip-10-77-20-248 sshd[1193]: Accepted password for elastic_user_7 from 127.0.0.1 port 52942 ssh2',
    { timestamp: ts('2024-03-29T10:43:01Z'), source: 'auth', level: 'info', ip: '127.0.0.1', user: 'elastic_user_7', service: 'sshd', action: 'accepted_password', metadata: { host: 'ip-10-77-20-248', pid: 1193, port: 52942, method: 'password' } },
  ],
  [
    'elastic_examples_auth.log',
    'Mar 27 13:08:09 ip-10-77-20-248 sshd[1361]: Accepted publickey for ubuntu from 85.245.107.41 port 54259 ssh2: RSA SHA256:Kl8kPGZrTiz7g4FO1hyqHdsSBBb5Fge6NWOobN03XJg',
    { timestamp: ts('2024-03-27T13:08:09Z'), source: 'auth', level: 'info', ip: '85.245.107.41', user: 'ubuntu', service: 'sshd', action: 'accepted_publickey', metadata: { host: 'ip-10-77-20-248', pid: 1361, port: 54259, method: 'publickey' } },
  ],
  [
    'elastic_examples_auth.log',
    'Mar 27 17:08:34 ip-10-77-20-248 sshd[14514]: Connection closed by 85.245.107.41 port 58980 [preauth]',
    { timestamp: ts('2024-03-27T17:08:34Z'), source: 'auth', level: 'info', ip: '85.245.107.41', user: null, service: 'sshd', action: 'preauth_disconnect', metadata: { host: 'ip-10-77-20-248', pid: 14514, port: 58980 } },
  ],
  [
    'crowdsec_sshd-logs.log',
    'Feb 19 10:38:14 myhost sshd[3355]: Disconnected from invalid user ftp 92.255.85.135 port 26138 [preauth]',
    { timestamp: ts('2024-02-19T10:38:14Z'), source: 'auth', level: 'info', ip: '92.255.85.135', user: 'ftp', service: 'sshd', action: 'preauth_disconnect', metadata: { host: 'myhost', pid: 3355, port: 26138 } },
  ],
  [
    'elastic_examples_auth.log',
    'Mar 27 14:01:39 ip-10-77-20-248 sshd[2938]: error: maximum authentication attempts exceeded for root from 122.176.37.221 port 37107 ssh2 [preauth]',
    { timestamp: ts('2024-03-27T14:01:39Z'), source: 'auth', level: 'warning', ip: '122.176.37.221', user: 'root', service: 'sshd', action: 'max_auth_attempts', metadata: { host: 'ip-10-77-20-248', pid: 2938, port: 37107, f2b_failure: true } },
  ],
  [
    'elastic_examples_auth.log',
    'Mar 29 10:42:43 ip-10-77-20-248 sshd[1193]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=127.0.0.1  user=elastic_user_7',
    { timestamp: ts('2024-03-29T10:42:43Z'), source: 'auth', level: 'warning', ip: '127.0.0.1', user: 'elastic_user_7', service: 'sshd', action: 'pam_auth_failure', metadata: { host: 'ip-10-77-20-248', pid: 1193 } },
  ],
  [
    'elastic_examples_auth.log',
    'Mar 27 13:09:37 ip-10-77-20-248 sudo:   ubuntu : TTY=pts/0 ; PWD=/home/ubuntu ; USER=root ; COMMAND=/usr/bin/curl -L -O https://artifacts.elastic.co/downloads/beats/filebeat/filebeat-5.2.2-amd64.deb',
    {
      timestamp: ts('2024-03-27T13:09:37Z'),
      source: 'auth',
      level: 'notice',
      ip: null,
      user: 'ubuntu',
      service: 'sudo',
      action: 'sudo_command',
      metadata: { host: 'ip-10-77-20-248', tty: 'pts/0', pwd: '/home/ubuntu', run_as: 'root', command: '/usr/bin/curl -L -O https://artifacts.elastic.co/downloads/beats/filebeat/filebeat-5.2.2-amd64.deb' },
    },
  ],
  [
    'elastic_examples_auth.log',
    'Apr  3 10:39:07 ip-10-77-20-248 sudo: pam_unix(sudo:session): session opened for user root by ubuntu(uid=0)',
    { timestamp: ts('2024-04-03T10:39:07Z'), source: 'auth', level: 'info', ip: null, user: 'root', service: 'sudo', action: 'session_opened', metadata: { host: 'ip-10-77-20-248', by: 'ubuntu' } },
  ],
  [
    'fail2ban_tests_recidive.log',
    '2006-02-13 15:52:30,388 fail2ban.actions        [123]: NOTICE  [sendmail] Ban 1.2.3.4',
    { timestamp: ts('2006-02-13T15:52:30.388Z'), source: 'fail2ban', level: 'notice', ip: '1.2.3.4', user: null, service: 'fail2ban', action: 'f2b_ban', metadata: { jail: 'sendmail', logger: 'fail2ban.actions' } },
  ],
  [
    'fail2ban_tests_recidive.log',
    '2006-02-13 16:07:31,183 fail2ban.actions: NOTICE [sendmail] Unban 1.2.3.4',
    { timestamp: ts('2006-02-13T16:07:31.183Z'), source: 'fail2ban', level: 'notice', ip: '1.2.3.4', user: null, service: 'fail2ban', action: 'f2b_unban', metadata: { jail: 'sendmail', logger: 'fail2ban.actions' } },
  ],
  [
    'fail2ban_tests_recidive.log',
    'Jan 16 17:11:25 testorg fail2ban.actions[6605]: NOTICE [postfix-auth] Ban 192.0.2.1',
    { timestamp: ts('2024-01-16T17:11:25Z'), source: 'fail2ban', level: 'notice', ip: '192.0.2.1', user: null, service: 'fail2ban', action: 'f2b_ban', metadata: { host: 'testorg', pid: 6605, jail: 'postfix-auth', logger: 'fail2ban.actions' } },
  ],
  // RFC 5424: parsed, but no failure for fail2ban's default (file) mode, which finds no date or sshd tag in it.
  [
    'fail2ban_tests_sshd.log',
    '<38>1 2019-07-08T17:40:16.954167-04:00 hostname.example.com sshd 57915 - - Failed unknown for invalid user redmond from 192.0.2.1 port 59197 ssh2',
    { timestamp: 1562622016.954167, source: 'auth', level: 'warning', ip: '192.0.2.1', user: 'redmond', service: 'sshd', action: 'failed_password', metadata: { host: 'hostname.example.com', pid: 57915, port: 59197, method: 'unknown' } },
  ],
  [
    'fail2ban_tests_sshd.log',
    '<38>1 2019-07-08T17:40:17.954167-04:00 hostname.example.com sshd 55555 - [timeQuality tzKnown="1" isSynced="0"][xxx@123 test="[brackets]"] Failed unknown for invalid user redmond from 192.0.2.2 port 55555 ssh2',
    { timestamp: 1562622017.954167, source: 'auth', level: 'warning', ip: '192.0.2.2', user: 'redmond', service: 'sshd', action: 'failed_password', metadata: { host: 'hostname.example.com', pid: 55555, port: 55555, method: 'unknown' } },
  ],
  [
    'loghub_Linux_2k.log',
    'Jul 27 14:41:57 combo kernel: BIOS-provided physical RAM map:',
    { timestamp: ts('2023-07-27T14:41:57Z'), source: 'kern', level: 'info', ip: null, user: null, service: 'kernel', action: 'other', metadata: { host: 'combo' } },
  ],
  [
    'fail2ban_tests_sshd-journal.log',
    'srv sshd[32310]: Connection closed by 192.0.2.111 [preauth]',
    // An undated line (journal export): the reference time stands in for its date.
    { timestamp: REF / 1000, source: 'auth', level: 'info', ip: '192.0.2.111', user: null, service: 'sshd', action: 'preauth_disconnect', metadata: { host: 'srv', pid: 32310 } },
  ],
];

describeWithData('log line parsers on real lines', () => {
  it.each(REAL)('%s: %s', (file, line, want) => {
    expect(readFileSync(testDataPath('logs', file), 'utf8')).toContain(line);
    const got = parseOne(line);
    expect(got).toEqual({ message: expect.any(String), ...want });
  });

  it('parses every line of every shared log without throwing, and skips only the lines that are no log lines', () => {
    const skipped: Record<string, string[]> = {};
    for (const f of ['elastic_examples_auth.log', 'loghub_Linux_2k.log', 'crowdsec_sshd-logs.log', 'fail2ban_tests_sshd.log', 'fail2ban_tests_recidive.log']) {
      const parser = new LogLineParser({ type: 'auto', refMs: REF });
      for (const line of readFileSync(testDataPath('logs', f), 'utf8').split('\n')) {
        const r = parser.parse(line);
        if (r.skip && r.skip !== 'empty') (skipped[f] ??= []).push(line);
      }
    }
    // fail2ban's fixtures hold "# failJSON" comments and a few bare continuation lines; the real logs none.
    expect(Object.keys(skipped).sort()).toEqual(['fail2ban_tests_recidive.log', 'fail2ban_tests_sshd.log']);
    for (const lines of Object.values(skipped)) for (const l of lines) expect(l.startsWith('#') || !/^\w{3} [ \d]\d \d\d:/.test(l)).toBe(true);
  });
});

describe('log line parsers on the formats the shared logs lack', () => {
  it.each<[string, string, LogType, Partial<LogEvent>]>([
    [
      'UFW block (kern.log)',
      'Mar  3 10:05:11 gw kernel: [ 8412.237701] [UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC=203.0.113.7 DST=192.0.2.10 LEN=40 TOS=0x00 PREC=0x00 TTL=241 ID=54321 PROTO=TCP SPT=40123 DPT=22 WINDOW=1024 RES=0x00 SYN URGP=0',
      'kern',
      { timestamp: ts('2024-03-03T10:05:11Z'), source: 'kern', level: 'notice', ip: '203.0.113.7', user: null, service: 'kernel', action: 'firewall_block', metadata: { host: 'gw', src: '203.0.113.7', dst: '192.0.2.10', proto: 'TCP', spt: 40123, dpt: 22, in: 'eth0', out: null, prefix: '[UFW BLOCK]' } },
    ],
    [
      'iptables LOG with a custom prefix, IPv6',
      'Mar  3 10:05:12 gw kernel: [ 8413.1] DROP-IN: IN=eth0 OUT= SRC=2001:0db8:0000:0000:0000:0000:0000:0001 DST=2001:db8::2 LEN=80 PROTO=UDP SPT=5353 DPT=53 LEN=40',
      'auto',
      { timestamp: ts('2024-03-03T10:05:12Z'), source: 'kern', level: 'notice', ip: '2001:db8::1', user: null, service: 'kernel', action: 'firewall_block', metadata: { host: 'gw', src: '2001:db8::1', dst: '2001:db8::2', proto: 'UDP', spt: 5353, dpt: 53, in: 'eth0', out: null, prefix: 'DROP-IN:' } },
    ],
    [
      'fail2ban Found',
      '2024-03-27 13:06:56,123 fail2ban.filter         [611]: INFO    [sshd] Found 203.0.113.9 - 2024-03-27 13:06:55',
      'fail2ban',
      { timestamp: ts('2024-03-27T13:06:56.123Z'), source: 'fail2ban', level: 'info', ip: '203.0.113.9', user: null, service: 'fail2ban', action: 'f2b_found', metadata: { jail: 'sshd', logger: 'fail2ban.filter', failure_time: '2024-03-27 13:06:55' } },
    ],
    [
      'fail2ban Restore Ban',
      '2024-03-27 13:07:00,001 fail2ban.actions        [611]: NOTICE  [sshd] Restore Ban 203.0.113.9',
      'fail2ban',
      { timestamp: ts('2024-03-27T13:07:00.001Z'), source: 'fail2ban', level: 'notice', ip: '203.0.113.9', user: null, service: 'fail2ban', action: 'f2b_restore_ban', metadata: { jail: 'sshd', logger: 'fail2ban.actions' } },
    ],
    [
      'sudo refusal',
      'Mar  3 10:06:00 gw sudo:      bob : user NOT in sudoers ; TTY=pts/1 ; PWD=/home/bob ; USER=root ; COMMAND=/bin/cat /etc/shadow',
      'auth',
      { timestamp: ts('2024-03-03T10:06:00Z'), source: 'auth', level: 'warning', ip: null, user: 'bob', service: 'sudo', action: 'sudo_not_allowed', metadata: { host: 'gw', tty: 'pts/1', pwd: '/home/bob', run_as: 'root', command: '/bin/cat /etc/shadow', reason: 'user NOT in sudoers' } },
    ],
    [
      'sudo wrong passwords',
      'Mar  3 10:06:01 gw sudo:    alice : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/root ; USER=root ; COMMAND=/usr/bin/id',
      'auth',
      { timestamp: ts('2024-03-03T10:06:01Z'), source: 'auth', level: 'warning', ip: null, user: 'alice', service: 'sudo', action: 'sudo_auth_failure', metadata: { host: 'gw', tty: 'pts/0', pwd: '/root', run_as: 'root', command: '/usr/bin/id', reason: '3 incorrect password attempts' } },
    ],
    [
      'a service error through syslog',
      'Mar  3 10:07:00 gw nginx[880]: 2024/03/03 10:07:00 [emerg] 880#880: bind() to 0.0.0.0:80 failed (98: Address already in use)',
      'syslog',
      { timestamp: ts('2024-03-03T10:07:00Z'), source: 'syslog', level: 'error', ip: null, user: null, service: 'nginx', action: 'error', metadata: { host: 'gw', pid: 880 } },
    ],
  ])('%s', (_name, line, type, want) => {
    expect(parseOne(line, type)).toEqual({ message: expect.any(String), ...want });
  });

  it('names events by the configured type, whatever program wrote the line', () => {
    const e = parseOne('Mar 27 14:54:57 h sshd[2967]: Invalid user support from 95.152.57.58', 'syslog') as LogEvent;
    expect([e.source, e.action]).toEqual(['syslog', 'invalid_user']);
  });
});

describe('RFC 3164 year inference', () => {
  it('puts December lines in the previous year and January lines in the current one when a file crosses New Year', () => {
    const parser = new LogLineParser({ type: 'auth', refMs: Date.UTC(2025, 0, 2, 12) });
    const got = ['Dec 31 23:59:58 h sshd[1]: Server listening on 0.0.0.0 port 22.', 'Jan  1 00:00:03 h sshd[1]: Server listening on 0.0.0.0 port 22.'].map((l) => parser.parse(l).event!.timestamp);
    expect(got).toEqual([ts('2024-12-31T23:59:58Z'), ts('2025-01-01T00:00:03Z')]);
  });

  it('keeps a line a day in the future in the current year (clock skew), and puts Feb 29 in the last leap year', () => {
    const parser = new LogLineParser({ type: 'auth', refMs: Date.UTC(2025, 5, 10) });
    const got = ['Jun 11 08:00:00 h x: a', 'Feb 29 08:00:00 h x: b', 'Jun 13 08:00:00 h x: c'].map((l) => parser.parse(l).event!.timestamp);
    expect(got).toEqual([ts('2025-06-11T08:00:00Z'), ts('2024-02-29T08:00:00Z'), ts('2024-06-13T08:00:00Z')]);
  });
});

describe('lines that are not log lines', () => {
  it.each<[string, string, string]>([
    ['empty', '', 'empty'],
    ['blank', '   \t ', 'empty'],
    ['NUL bytes', 'Mar 27 13:06:56 h sshd[1]: \u0000\u0000\u0001binary', 'binary'],
    ['escape sequences', 'Mar 27 13:06:56 h sshd[1]: \u001b[31mred', 'binary'],
    ['no date, no program', 'just some words without a tag', 'garbage'],
    ['a comment', '# failJSON: { "match": false }', 'garbage'],
  ])('skips %s as %s', (_name, line, reason) => {
    expect(parseOne(line)).toBe(reason);
  });

  it('caps what it stores of a long line and of its fields', () => {
    const user = 'u'.repeat(3000);
    const e = parseOne(`Mar 27 14:54:57 h sshd[2967]: Invalid user ${user} from 95.152.57.58 port 22`) as LogEvent;
    expect([e.message.length, e.user!.length]).toEqual([2048, 128]);
  });

  it('refuses addresses that are not addresses (leading zeros, out of range) instead of storing them', () => {
    const got = ['Invalid user a from 192.030.0.6', 'Invalid user a from 300.1.1.1', 'Invalid user a from ::ffff:10.0.0.1'].map((m) => (parseOne(`Mar 27 14:54:57 h sshd[1]: ${m}`) as LogEvent).ip);
    expect(got).toEqual([null, null, '10.0.0.1']);
  });

  it('tells binary text from text', () => {
    expect([isBinary('plain text\twith tab'), isBinary('caf\u00e9'), isBinary('a\u0000b'), isBinary('del\u007f')]).toEqual([false, false, true, true]);
  });
});

describe('the offline summary scan (tallyBlock) and the event path agree', () => {
  const REF = Date.UTC(2024, 11, 31);
  // One line of each shape the hand-written matchers take, each counting for its address.
  const LINES = [
    'Mar 27 13:06:56 srv sshd[101]: Failed password for root from 203.0.113.1 port 40001 ssh2',
    'Mar 27 13:06:57 srv sshd[102]: Failed password for invalid user bob from 203.0.113.2 port 40002 ssh2',
    'Mar 27 13:06:58 srv sshd[103]: Invalid user bob from 203.0.113.3 port 40003',
    'Mar 27 13:06:59 srv sshd[104]: error: maximum authentication attempts exceeded for root from 203.0.113.4 port 40004 ssh2 [preauth]',
    'Mar 27 13:07:00 srv sshd[105]: Accepted password for alice from 203.0.113.5 port 40005 ssh2',
    'Mar 27 13:07:01 srv sshd[106]: Accepted publickey for alice from 203.0.113.6 port 40006 ssh2: ED25519 SHA256:abc',
  ];

  function viaEvents(lines: string[]) {
    const parser = new LogLineParser({ type: 'auto', refMs: REF });
    const summary = new LogSummary();
    const skipped: string[] = [];
    for (const l of lines) {
      const r = parser.parse(l);
      if (r.event) summary.add(r.event);
      else skipped.push(r.skip);
    }
    return { rows: summary.rows(), skipped };
  }

  function viaBlock(lines: string[]) {
    const parser = new LogLineParser({ type: 'auto', refMs: REF });
    const summary = new LogSummary();
    const skipped: string[] = [];
    const n = parser.tallyBlock(lines.join('\n'), summary, (r) => skipped.push(r));
    expect(n).toBe(lines.length);
    return { rows: summary.rows(), skipped };
  }

  it('counts the same per address for every shape', () => {
    const want = viaEvents(LINES);
    expect(want.rows.map((r) => [r.ip, r.failures, r.invalid_users, r.accepted])).toEqual([
      ['203.0.113.1', 1, 0, 0],
      ['203.0.113.2', 1, 0, 0],
      ['203.0.113.3', 1, 1, 0],
      ['203.0.113.4', 1, 0, 0],
      ['203.0.113.5', 0, 0, 1],
      ['203.0.113.6', 0, 0, 1],
    ]);
    expect(viaBlock(LINES)).toEqual(want);
  });

  it('counts nothing from a line with a control character, wherever in the line it is', () => {
    // The scan checks by hand only the part of a line its matchers did not read: every position is tried.
    for (const [k, line] of LINES.entries()) {
      for (let at = 0; at <= line.length; at++) {
        for (const c of ['\x01', '\x7f', '\x1b']) {
          const bad = line.slice(0, at) + c + line.slice(at);
          const lines = [...LINES.slice(0, k), bad, ...LINES.slice(k + 1)];
          const events = viaEvents(lines);
          expect(events.skipped).toEqual(['binary']);
          const block = viaBlock(lines);
          // The event path skips the line as binary; the scan either does too or finds it counts nothing.
          expect([at, c, block.rows]).toEqual([at, c, events.rows]);
          expect(block.skipped.length).toBeLessThanOrEqual(1);
        }
      }
    }
  });

  it('correlates the lines of a connection as fail2ban does: users tried, an address named later, evictions', () => {
    const at = (pid: number, msg: string) => `Mar 27 13:07:00 srv sshd[${pid}]: ${msg}`;
    const lines = [
      // Two user names of one length: the accepted login after them counts as a failure (fail2ban's users set).
      at(201, 'Failed password for root from 203.0.113.21 port 1 ssh2'),
      at(201, 'Failed password for rooT from 203.0.113.21 port 1 ssh2'),
      at(201, 'Accepted password for rooT from 203.0.113.21 port 1 ssh2'),
      // One user name twice: the accepted login does not count.
      at(202, 'Failed password for bob from 203.0.113.22 port 1 ssh2'),
      at(202, 'Accepted password for bob from 203.0.113.22 port 1 ssh2'),
      // A failure that names no address counts for the address a later line of the connection names.
      at(203, 'Disconnecting: Too many authentication failures for carl [preauth]'),
      at(203, 'Connection closed by 203.0.113.23 port 1 [preauth]'),
      // The same pid after the connection ended is a new connection; its failure without an address is held, and
      // the next failure that names one is counted once.
      at(204, 'Failed password for dave from 203.0.113.24 port 1 ssh2'),
      at(204, 'Connection closed by 203.0.113.24 port 1 [preauth]'),
      at(204, 'Disconnecting: Too many authentication failures [preauth]'),
      at(204, 'Failed password for erin from 203.0.113.25 port 1 ssh2'),
      // 150 connections at once: the first ones are evicted (fail2ban keeps 100) and forget their user.
      ...Array.from({ length: 150 }, (_, i) => at(1000 + i, `Failed password for u${i} from 198.51.100.${i} port 1 ssh2`)),
      ...Array.from({ length: 150 }, (_, i) => at(1000 + i, `Accepted password for v${i} from 198.51.100.${i} port 1 ssh2`)),
    ];
    // The counts asserted here are what fail2ban-regex -o ip FILE sshd (fail2ban 1.0.2) gives for these lines.
    const want = viaEvents(lines);
    const failures = Object.fromEntries(want.rows.filter((r) => r.failures > 0).map((r) => [r.ip, r.failures]));
    expect(failures['203.0.113.21']).toBe(3);
    expect(failures['203.0.113.22']).toBe(1);
    expect(failures['203.0.113.23']).toBe(1);
    expect([failures['203.0.113.24'], failures['203.0.113.25']]).toEqual([1, 1]);
    // The 50 oldest were evicted before their accepted line: one failure; the 100 others two.
    expect(want.rows.filter((r) => r.ip.startsWith('198.51.100.')).map((r) => r.failures).sort()).toEqual([...Array(50).fill(1), ...Array(100).fill(2)]);
    expect(viaBlock(lines)).toEqual(want);
  });

  it('tells connections apart by host and pid as written, and shares them between the scan and the expressions', () => {
    const at = (host: string, pid: string, msg: string) => `Mar 27 13:07:00 ${host} sshd[${pid}]: ${msg}`;
    const lines = [
      // One pid on two hosts: two connections, in alternating lines.
      at('srvA', '300', 'Failed password for root from 203.0.113.31 port 1 ssh2'),
      at('srvB', '300', 'Failed password for admin from 203.0.113.32 port 1 ssh2'),
      at('srvA', '300', 'Disconnecting: Too many authentication failures [preauth]'),
      at('srvB', '300', 'Accepted password for admin from 203.0.113.32 port 1 ssh2'),
      at('srvA', '300', 'Accepted password for rooT from 203.0.113.31 port 1 ssh2'),
      // "0301" and "301" are two ids.
      at('srvA', '0301', 'Failed password for u1 from 203.0.113.33 port 1 ssh2'),
      at('srvA', '301', 'Failed password for u2 from 203.0.113.33 port 1 ssh2'),
      at('srvA', '0301', 'Accepted password for u1 from 203.0.113.33 port 1 ssh2'),
      // A pid beyond any pid_max: found by its text.
      at('srvA', '99999999', 'Failed password for x1 from 203.0.113.34 port 1 ssh2'),
      at('srvA', '99999999', 'Failed password for x2 from 203.0.113.34 port 1 ssh2'),
      at('srvA', '99999999', 'Connection closed by 203.0.113.34 port 1 [preauth]'),
      // A line only the expressions take (an IPv4-mapped address), then lines the scan takes, of one connection.
      at('srvA', '302', 'Failed password for c from ::ffff:203.0.113.35 port 1 ssh2'),
      at('srvA', '302', 'Failed password for d from 203.0.113.35 port 1 ssh2'),
      at('srvA', '302', 'Accepted password for d from 203.0.113.35 port 1 ssh2'),
    ];
    // fail2ban-regex -o ip FILE sshd (fail2ban 1.0.2) on these lines.
    const want = { '203.0.113.31': 3, '203.0.113.32': 1, '203.0.113.33': 2, '203.0.113.34': 3, '203.0.113.35': 3 };
    const events = viaEvents(lines);
    expect(Object.fromEntries(events.rows.filter((r) => r.failures > 0).map((r) => [r.ip, r.failures]))).toEqual(want);
    expect(viaBlock(lines)).toEqual(events);
  });

  it('gives the same counts after the start-up warm-up (primeTally keeps nothing)', () => {
    primeTally();
    expect(viaBlock(LINES)).toEqual(viaEvents(LINES));
  });
});

describeWithData('the offline summary scan (tallyBytes) counts every shared log, and mutations of it, as the event path does', () => {
  const files = readdirSync(testDataPath('logs')).filter((f) => f.endsWith('.log'));

  function viaEvents(lines: string[]) {
    const parser = new LogLineParser({ type: 'auto', refMs: REF });
    const summary = new LogSummary();
    for (const l of lines) {
      const r = parser.parse(l);
      if (r.event) summary.add(r.event);
    }
    return summary.rows();
  }

  /** As `netwatch-ingest logs --summary` reads a file: blocks of whole lines (bytes()), the rest line by line. */
  function viaScan(text: Buffer, blockBytes: number) {
    const parser = new LogLineParser({ type: 'auto', refMs: REF });
    const summary = new LogSummary();
    const splitter = new LineSplitter();
    let lines = 0;
    const sink: LineSink = {
      line: (t) => {
        lines++;
        parser.tally(t, summary);
      },
      bytes: (b, max) => {
        lines += parser.tallyBytes(b, summary, () => {}, max);
      },
      overlong: () => {
        lines++;
      },
    };
    // Blocks end at a newline, as readLinesSync hands them on.
    for (let s = 0; s < text.length; ) {
      const nl = text.lastIndexOf(10, Math.min(text.length, s + blockBytes) - 1);
      const e = nl >= s ? nl + 1 : Math.min(text.length, s + blockBytes);
      splitter.push(text.subarray(s, e), sink);
      s = e;
    }
    splitter.finish(sink);
    return { rows: summary.rows(), lines };
  }

  const lineCount = (text: Buffer) => text.toString('utf8').split('\n').length - (text[text.length - 1] === 10 ? 1 : 0);

  it.each(files)('%s: the same totals per address, in blocks of every size', (f) => {
    const text = readFileSync(testDataPath('logs', f));
    const want = viaEvents(text.toString('utf8').split('\n'));
    for (const size of [300, 4096, 1 << 18]) {
      const got = viaScan(text, size);
      expect([size, got.lines]).toEqual([size, lineCount(text)]);
      expect(got.rows).toEqual(want);
    }
  });

  // What the scan decides on: the date's fields, the host, the tag and pid, the matchers' words, control bytes.
  const TOKENS = [' ', '  ', ':', '0', '9', '.', 'a', '[', ']', ' [preauth]', ' from ', ' port 22', ' ssh2', 'invalid user ', 'sshd', 'sshd[1]: ', 'fail2ban', 'error: ', 'fatal: ', 'PAM: ', '\t', '\r', '\x01', '\x7f', '<13>', 'Mar', '2024', '1.2.3.4', '300.1.1.1', '01.2.3.4', '::ffff:'];

  function mutate(line: string, rnd: () => number): string {
    let s = line;
    for (let k = 1 + Math.floor(rnd() * 2); k > 0; k--) {
      // Half the edits fall in the header (date, host, tag), where only the scan reads bytes by hand.
      const at = rnd() < 0.5 ? Math.floor(rnd() * Math.min(s.length + 1, 40)) : Math.floor(rnd() * (s.length + 1));
      const tok = TOKENS[Math.floor(rnd() * TOKENS.length)];
      const op = Math.floor(rnd() * 3);
      s = op === 0 ? s.slice(0, at) + s.slice(at + 1 + Math.floor(rnd() * 3)) : op === 1 ? s.slice(0, at) + tok + s.slice(at) : s.slice(0, at) + tok + s.slice(at + 1);
    }
    return s;
  }

  it('the same totals per address on 40,000 lines of the shared logs with their headers and messages mutated', () => {
    // Seeded (the demo's mulberry32): the same mutations on every run.
    const random = new SeededRandom(20241201);
    const rnd = () => random.next();
    const source = files.flatMap((f) => readFileSync(testDataPath('logs', f), 'utf8').split('\n')).filter((l) => /^[\x20-\x7e]+$/.test(l));
    expect(source.length).toBeGreaterThan(7_000);
    let differ = 0;
    const first: string[][] = [];
    // In runs of 200 lines, each with two thirds of its lines mutated: the connections of a run stay related.
    for (let run = 0; run < 200; run++) {
      const from = Math.floor(rnd() * (source.length - 200));
      const lines = source.slice(from, from + 200).map((l) => (rnd() < 0.67 ? mutate(l, rnd) : l));
      const want = viaEvents(lines);
      const got = viaScan(Buffer.from(lines.join('\n'), 'latin1'), 1 + Math.floor(rnd() * 8000));
      if (JSON.stringify(got.rows) !== JSON.stringify(want)) {
        differ++;
        if (first.length === 0) first.push(lines);
      }
    }
    expect([differ, first]).toEqual([0, []]);
  });
});
