/**
 * The hand-written fast paths must answer exactly as the expressions they stand in for (fail2ban's prefregex and
 * date template), on every line of the shared logs and on the shapes around their edges.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { SeededRandom } from '../demo/random';
import { describeWithData, testDataPath } from '../testing/data';
import { FAST_MATCH, FAST_NONE, FAST_UNSURE, matchSshdAt, matchSshdContent, matchSshdContentByExpression, splitByExpression, splitFail2banPrefix, SSHD_FAST } from './sshd';
import { fail2banText } from './syslog';
import { codeUnits } from './text-bytes';

const EDGES = [
  ' host sshd[1]: Failed password for root from 1.2.3.4 port 22 ssh2',
  ' host sshd[1]: error: PAM: Authentication failure for x from 1.2.3.4',
  ' host sshd[1]: error: ',
  ' host sshd: Failed password for root from 1.2.3.4',
  ' host sshd(pam_unix)[12]: authentication failure',
  ' host kernel: [ 1.2] x',
  ' host @vserver_a sshd[1]: x',
  ' host sshd[1]: [ID 800047 auth.info] Failed password for x from 1.2.3.4',
  ' host  sshd[1]: double space',
  ' host\tsshd[1]: tab',
  ' <4.3> host sshd[1]: bsd verbose',
  ' host Failed password for root from 1.2.3.4 port 22 ssh2',
  ' sshd[8148]: Disconnecting: Too many authentication failures',
  ' host sshd-session[1]: Failed password for root from 1.2.3.4',
  ' host s',
  ' h',
  // Non-ASCII hosts (codeUnits keeps only the classes the scan decides on: U+00A0 and U+2000 may be spaces to \s).
  ' h\u00e9st sshd[1]: Failed password for root from 1.2.3.4',
  ' h\u00a0st sshd[1]: Failed password for root from 1.2.3.4',
  ' h\u2000st sshd[1]: Failed password for root from 1.2.3.4',
  ' h\ufffdst sshd[1]: x',
  ' host sshd[1]: \u00e9rror: x',
];

describeWithData('fast paths agree with the expressions', () => {
  const lines: string[] = [];
  for (const f of readdirSync(testDataPath('logs')).filter((n) => n.endsWith('.log'))) lines.push(...readFileSync(testDataPath('logs', f), 'utf8').split('\n'));

  it('splits every shared line (after its date) into connection id and content as fail2ban\'s prefregex does', () => {
    const texts = [...lines.map((l) => fail2banText(l) ?? l), ...EDGES];
    const differ = texts.filter((t) => JSON.stringify(splitFail2banPrefix(t)) !== JSON.stringify(splitByExpression(t)));
    expect(differ).toEqual([]);
    expect(texts.length).toBeGreaterThan(10_000);
  });

  it.each([
    ['Mar 27 13:06:56 h x', ' h x'],
    ['Mar  7 13:06:56 h x', ' h x'],
    ['Mar 07 13:06:56 h x', ' h x'],
    ['mar 27 13:06:56 h x', ' h x'],
    ['Mar 27 13:06:56.123 h x', ' h x'],
    ['Mar 27 13:06:56 2024 h x', ' h x'],
    ['Wed Mar 27 13:06:56 h x', ' h x'],
    ['Mar 27 13:06:56h x', null],
    ['Mar 32 13:06:56 h x', null],
    ['2024-03-27 13:06:56,388 fail2ban.actions: x', ' fail2ban.actions: x'],
    ['srv sshd[1]: no date', null],
  ])('cuts the date of %j as fail2ban does', (line, want) => {
    expect(fail2banText(line)).toBe(want);
  });
});

/** Every hand-written matcher of sshd.ts, by the name it reports in SSHD_FAST.matcher. */
const MATCHERS = ['failed', 'failed-invalid', 'failed-publickey', 'invalid', 'pam', 'received-disconnect', 'closed', 'too-many', 'connection', 'accepted', 'max-attempts'];

/** The content fail2ban's rules see in a line: after its date and the prefregex. */
function contentOf(line: string): string | null {
  const p = splitByExpression(fail2banText(line) ?? line);
  return p === null ? null : p.content;
}

function status(content: string): number {
  return matchSshdAt(codeUnits(content), 0, content.length);
}

/** Both ways of matching, as the events (with port) and the summary (fail2ban's rules only) ask. */
function bothWays(content: string) {
  return {
    events: [matchSshdContent(content), matchSshdContentByExpression(content)],
    summary: [matchSshdContent(content, true), matchSshdContentByExpression(content, true)],
  };
}

// What a mutation inserts: the characters and words the matchers decide on.
const TOKENS = [' ', '  ', ':', ': ', '0', '9', '00', '256', '1234', '.', 'a', 'Z', '[', ']', '[preauth]', ' [preauth]', ' from ', 'from', ' port 22', ' port ', ' ssh2', ' on eth0', 'user ', ' invalid user ', ' authenticating user ', 'user=', '  user=root', ' for ', '\t', ';', '=', '-', '_', '/', '::ffff:', '[1.2.3.4]', 'fe80::1', '\u00e9', '\u00a0', '\r', ':11:', ':3: ', 'ROOT', 'Auth fail'];

function mutate(s: string, rnd: () => number): string {
  const ops = 1 + Math.floor(rnd() * 3);
  for (let k = 0; k < ops; k++) {
    const at = Math.floor(rnd() * (s.length + 1));
    const tok = TOKENS[Math.floor(rnd() * TOKENS.length)];
    switch (Math.floor(rnd() * 5)) {
      case 0:
        s = s.slice(0, at) + s.slice(at + 1 + Math.floor(rnd() * 3));
        break;
      case 4: {
        // A whole word goes (" [preauth]", " port 22", a user name).
        const from = s.lastIndexOf(' ', at);
        const to = s.indexOf(' ', at + 1);
        s = s.slice(0, Math.max(0, from)) + (to < 0 ? '' : s.slice(to));
        break;
      }
      case 1:
        s = s.slice(0, at) + tok + s.slice(at);
        break;
      case 2:
        s = s.slice(0, at) + tok + s.slice(at + 1);
        break;
      default:
        s = s.slice(0, at) + s.slice(at, at + 4) + s.slice(at);
    }
  }
  return s;
}

describeWithData('hand-written sshd matchers answer as fail2ban\'s expressions', () => {
  const contents: string[] = [];
  for (const f of readdirSync(testDataPath('logs')).filter((n) => n.endsWith('.log'))) {
    for (const line of readFileSync(testDataPath('logs', f), 'utf8').split('\n')) {
      const c = contentOf(line.replace(/\r$/, ''));
      if (c !== null) contents.push(c);
    }
  }

  it('match the content of every shared log line as the expressions do, most of them without an expression', () => {
    const differ: string[] = [];
    const hits: Record<string, number> = Object.fromEntries(MATCHERS.map((m) => [m, 0]));
    let f2bMatches = 0;
    let fast = 0;
    for (const c of contents) {
      const { events, summary } = bothWays(c);
      if (JSON.stringify(events[0]) !== JSON.stringify(events[1]) || JSON.stringify(summary[0]) !== JSON.stringify(summary[1])) differ.push(c);
      if (summary[1] !== null) f2bMatches++;
      if (status(c) === FAST_MATCH) {
        fast++;
        hits[SSHD_FAST.matcher]++;
      }
    }
    expect(differ).toEqual([]);
    expect(contents.length).toBeGreaterThan(9_000);
    // Every matcher takes real lines, and together nearly all lines a rule matches.
    for (const m of MATCHERS) expect([m, hits[m] > 0]).toEqual([m, true]);
    expect(fast / f2bMatches).toBeGreaterThan(0.9);
  });

  it('agree with the expressions on 48,000 mutations of the lines each matcher takes, and of "User" lines', () => {
    // Seeded (the demo's mulberry32): the same mutations on every run.
    const random = new SeededRandom(20240327);
    const rnd = () => random.next();
    const byMatcher = new Map<string, string[]>();
    for (const c of contents) {
      if (status(c) !== FAST_MATCH) continue;
      const list = byMatcher.get(SSHD_FAST.matcher) ?? [];
      list.push(c);
      byMatcher.set(SSHD_FAST.matcher, list);
    }
    const differ: string[] = [];
    const outcomes: Record<string, Set<number>> = {};
    for (const m of MATCHERS) {
      const seeds = byMatcher.get(m) ?? [];
      expect([m, seeds.length > 0]).toEqual([m, true]);
      outcomes[m] = new Set();
      for (let k = 0; k < 4000; k++) {
        const c = mutate(seeds[Math.floor(rnd() * seeds.length)], rnd);
        const { events, summary } = bothWays(c);
        if (JSON.stringify(events[0]) !== JSON.stringify(events[1]) || JSON.stringify(summary[0]) !== JSON.stringify(summary[1])) differ.push(c);
        outcomes[m].add(status(c));
      }
    }
    expect(differ.slice(0, 20)).toEqual([]);
    // The mutants reach both a claimed match and a refusal for every matcher (the pam one also a certain non-match).
    for (const m of MATCHERS) expect([m, outcomes[m].has(FAST_MATCH) && outcomes[m].has(FAST_UNSURE)]).toEqual([m, true]);
    expect(outcomes.pam.has(FAST_NONE)).toBe(true);
    // Refusals of the "User ..." rules, from the shared lines and their mutations.
    const users = contents.filter((c) => c.startsWith('User '));
    expect(users.some((c) => status(c) === FAST_NONE)).toBe(true);
    for (let k = 0; k < 4000; k++) {
      const c = mutate(users[Math.floor(rnd() * users.length)], rnd);
      const { events, summary } = bothWays(c);
      if (JSON.stringify(events[0]) !== JSON.stringify(events[1]) || JSON.stringify(summary[0]) !== JSON.stringify(summary[1])) differ.push(c);
    }
    expect(differ.slice(0, 20)).toEqual([]);
  });
});

describe('hand-written sshd matchers on the shapes at their edges', () => {
  it.each([
    ['Failed password for root from 1.2.3.4 port 22 ssh2', FAST_MATCH],
    ['Failed password for invalid user  from 1.2.3.4 port 22 ssh2', FAST_MATCH],
    ['Failed password for  from 1.2.3.4 port 22 ssh2', FAST_UNSURE],
    ['Failed password for a b from 1.2.3.4 port 22 ssh2', FAST_MATCH],
    ['Failed password for a:b from 1.2.3.4 port 22 ssh2', FAST_UNSURE],
    ['Failed password for root from 1.2.3.4 port 22 ssh2: x', FAST_UNSURE],
    ['Failed password for root from 1.2.3.4567 port 22 ssh2', FAST_UNSURE],
    ['Failed password for root from 01.2.3.4 port 22 ssh2', FAST_MATCH],
    ['Failed password for root from 300.2.3.4 port 22 ssh2', FAST_MATCH],
    ['Failed password for x from y from 1.2.3.4 port 22 ssh2', FAST_UNSURE],
    ['Invalid user  from 1.2.3.4', FAST_MATCH],
    ['Invalid user from 1.2.3.4', FAST_UNSURE],
    ['Invalid user admin from 1.2.3.4 port 22 port 23 port 24 port 25', FAST_UNSURE],
    ['Invalid user admin from 1.2.3.4 port 22 [preauth]', FAST_MATCH],
    ['pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=1.2.3.4  user=root', FAST_MATCH],
    ['pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser=bob rhost=1.2.3.4  user=', FAST_MATCH],
    ['pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=1.2.3.4 [preauth]', FAST_MATCH],
    ['pam_unix(sshd:auth): authentication failure; uid=0 ruser= rhost=1.2.3.4', FAST_UNSURE],
    ['pam_unix(sshd:auth): check pass; user unknown', FAST_NONE],
    ['pam_unix(sshd:session): session opened for user root by (uid=0)', FAST_NONE],
    ['Received disconnect from 1.2.3.4 port 22:11: Bye Bye [preauth]', FAST_MATCH],
    ['Received disconnect from 1.2.3.4 port 22:3: x: Auth fail [preauth]', FAST_UNSURE],
    ['Disconnected from authenticating user root 1.2.3.4 port 22 [preauth]', FAST_MATCH],
    ['Disconnected from user root 1.2.3.4 port 22', FAST_UNSURE],
    ['Connection closed by 1.2.3.4 port 22', FAST_MATCH],
    ['Connection closed by invalid user x 1.2.3.4 port 22', FAST_MATCH],
    ['Disconnected from 1.2.3.4 port 22 [preauth]', FAST_MATCH],
    ['Connection reset by invalid user x 1.2.3.4 port 22 [preauth]', FAST_MATCH],
    ['Disconnecting: Too many authentication failures for root [preauth]', FAST_MATCH],
    ['Disconnecting: Too many authentication failures', FAST_MATCH],
    ['Connection from 1.2.3.4 port 22 on 10.0.0.1 port 22', FAST_MATCH],
    ['Accepted publickey for bob from 1.2.3.4 port 22 ssh2: RSA SHA256:x', FAST_MATCH],
    ['Failed publickey for bob from 1.2.3.4 port 22 ssh2: RSA SHA256:x', FAST_MATCH],
    ['Failed publickey for invalid user bob from 1.2.3.4 port 22 ssh2: RSA SHA256:x', FAST_UNSURE],
    ['Failed publickey for bob from 1.2.3.4 port 22 ssh2', FAST_UNSURE],
    ['User child is on pid 1234', FAST_NONE],
    ['User root from 1.2.3.4 not allowed because not listed in AllowUsers', FAST_UNSURE],
    ['User root not allowed because account is locked', FAST_UNSURE],
    ['User not known to the underlying authentication module for x from 1.2.3.4', FAST_UNSURE],
    ['Accepted keyboard-interactive/pam for bob from 1.2.3.4 port 22 ssh2', FAST_UNSURE],
    ['Accepted password for bob from ::ffff:1.2.3.4 port 22 ssh2', FAST_UNSURE],
    ['maximum authentication attempts exceeded for invalid user x from 1.2.3.4 port 22 ssh2 [preauth]', FAST_MATCH],
    ['maximum authentication attempts exceeded for  from 1.2.3.4 port 22 ssh2 [preauth]', FAST_MATCH],
    // Non-ASCII text, read through codeUnits: a user name may hold it, \S runs and addresses may not.
    ['Failed password for jos\u00e9 from 1.2.3.4 port 22 ssh2', FAST_MATCH],
    ['Failed password for \ufffd from 1.2.3.4 port 22 ssh2', FAST_UNSURE],
    ['Invalid user \u2000x from 1.2.3.4 port 22', FAST_MATCH],
    ['Accepted password for jos\u00e9 from 1.2.3.4 port 22 ssh2', FAST_UNSURE],
    ['Connection closed by 1.2.3.\u0664 port 22', FAST_UNSURE],
    ['\u00c9 Failed password for root from 1.2.3.4 port 22 ssh2', FAST_NONE],
  ])('%j: the matchers answer %d, and as the expressions do', (content, want) => {
    expect(status(content)).toBe(want);
    const { events, summary } = bothWays(content);
    expect(events[0]).toEqual(events[1]);
    expect(summary[0]).toEqual(summary[1]);
  });
});
