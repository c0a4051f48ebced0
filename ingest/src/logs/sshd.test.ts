/**
 * The hand-written fast paths must answer exactly as the expressions they stand in for (fail2ban's prefregex and
 * date template), on every line of the shared logs and on the shapes around their edges.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describeWithData, testDataPath } from '../testing/data';
import { splitByExpression, splitFail2banPrefix } from './sshd';
import { fail2banText } from './syslog';

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
