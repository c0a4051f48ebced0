import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import type { LogEvent } from '../logs/events';
import { LogLineParser } from '../logs/parse';
import { LogSummary } from '../logs/summary';
import { describeWithData, testDataPath } from '../testing/data';
import { SecurityEngine } from './engine';
import { EVIDENCE_ACCEPTED, EVIDENCE_BAN, EVIDENCE_FAILURE, EVIDENCE_INVALID_USER, EVIDENCE_RESTORED_BAN, logEvidence } from './evidence';
import { roundScore, threatScore } from './score';
import { ev, fail2banCounts, openStore, parsedLog, tempDir } from './test-harness';

const tmp = tempDir('netwatch-security-');
const T = Date.UTC(2025, 2, 27, 13, 0, 0) / 1000;
const IP = '203.0.113.9';

function setup(config: ConstructorParameters<typeof SecurityEngine>[1] = {}, now = () => T * 1000) {
  const { store, events } = openStore(tmp.file('engine.db'));
  const engine = new SecurityEngine({ store, events, now, readSockets: () => [] }, config);
  const feed = (list: LogEvent[]) => {
    for (const e of list) {
      events.push(e);
      engine.ingest(e);
    }
    engine.flushAll();
  };
  return { store, events, engine, feed, db: store.db };
}

function writerErrors(store: ReturnType<typeof setup>['store']): Record<string, number> {
  return Object.fromEntries(Object.entries(store.stats().writers).map(([name, c]) => [name, c.errors + c.dropped]));
}

describeWithData('the engine on real logs', () => {
  it('counts failures per address exactly as fail2ban-regex does on elastic_examples_auth.log, and every trace finds its log event', () => {
    const { store, feed, db } = setup();
    const log = parsedLog('elastic_examples_auth.log', 'auth');
    feed(log);
    const got = Object.fromEntries((db.prepare('SELECT ip, failures FROM ip_reputation WHERE failures > 0 ORDER BY ip').all() as Array<{ ip: string; failures: number }>).map((r) => [r.ip, r.failures]));
    expect(got).toEqual(fail2banCounts('elastic_examples_auth'));
    const orphans = db.prepare('SELECT count(*) FROM event_traces t LEFT JOIN log_events e ON e.id = t.event_id WHERE t.event_id IS NOT NULL AND e.id IS NULL').pluck().get();
    const traced = db.prepare('SELECT count(*) FROM event_traces').pluck().get() as number;
    const relevant = db
      .prepare(
        "SELECT count(*) FROM log_events WHERE action IN ('failed_password','failed_publickey','auth_failure','invalid_user','accepted_password','accepted_publickey','accepted_other','preauth_disconnect','max_auth_attempts'," +
          "'pam_auth_failure','user_not_allowed','login_refused','connection_refused','negotiation_failure','sudo_command','sudo_auth_failure','sudo_not_allowed','f2b_found','f2b_ban','f2b_unban','f2b_restore_ban','firewall_block','error') " +
          "OR level IN ('error','critical') OR json_extract(metadata, '$.f2b_failure') = 1",
      )
      .pluck()
      .get();
    expect([orphans, traced]).toEqual([0, relevant]);
    expect(traced).toBeGreaterThan(1000);
    // The heaviest guesser (157 failures) is a brute force, and its score is past the usual alert threshold.
    const top = db.prepare("SELECT count, json_array_length(evidence, '$.event_ids') AS ids FROM trace_patterns WHERE pattern_type = 'ssh_brute_force' AND ip = '24.151.103.17'").all() as Array<{ count: number; ids: number }>;
    expect(top.reduce((n, p) => n + p.count, 0)).toBeGreaterThanOrEqual(100);
    expect(Object.values(writerErrors(store)).every((n) => n === 0)).toBe(true);
    store.close();
  });

  it('finds the brute force of crowdsec_ssh-bf.log with the five counted failures as evidence, and no user enumeration under six names', () => {
    const { store, feed, db } = setup();
    const log = parsedLog('crowdsec_ssh-bf.log', 'auth');
    feed(log);
    const counted = log.filter((e) => e.metadata?.f2b_failure === true).map((e) => e.id);
    expect(counted).toHaveLength(fail2banCounts('crowdsec_ssh-bf')['35.188.49.176']);
    const patterns = db.prepare('SELECT pattern_type, ip, count, evidence, description FROM trace_patterns').all() as Array<{ pattern_type: string; ip: string; count: number; evidence: string; description: string }>;
    expect(patterns.map((p) => ({ ...p, evidence: JSON.parse(p.evidence) }))).toEqual([
      { pattern_type: 'ssh_brute_force', ip: '35.188.49.176', count: 5, evidence: { event_ids: counted }, description: 'ssh brute force from 35.188.49.176: 5 failures in 2s' },
    ]);
    store.close();
  });

  it('finds a slow brute force (crowdsec_ssh-slow-bf.log, one attempt every 30 s) and keeps extending the same episode', () => {
    const { store, feed, db } = setup();
    feed(parsedLog('crowdsec_ssh-slow-bf.log', 'auth'));
    expect(db.prepare('SELECT pattern_type, ip, count FROM trace_patterns').all()).toEqual([{ pattern_type: 'ssh_brute_force', ip: '103.100.210.198', count: 22 }]);
    store.close();
  });
});

describeWithData('the live engine and the offline summary (logs --summary) count the same', () => {
  const logs = readdirSync(testDataPath('logs')).filter((f) => f.endsWith('.log'));
  it.each(logs.map((f) => [f]))('%s: failures, invalid users, accepted logins and bans per address', (file) => {
    const { store, feed, db } = setup();
    const log = parsedLog(file);
    const summary = new LogSummary();
    for (const e of log) summary.add(e);
    feed(log);
    const live = db
      .prepare('SELECT ip, failures, invalid_users, accepted, bans FROM ip_reputation WHERE failures + invalid_users + accepted + bans > 0 ORDER BY ip')
      .all() as Array<{ ip: string; failures: number; invalid_users: number; accepted: number; bans: number }>;
    const offline = summary
      .rows()
      .map(({ ip, failures, invalid_users, accepted, bans }) => ({ ip, failures, invalid_users, accepted, bans }))
      .sort((x, y) => (x.ip < y.ip ? -1 : 1));
    expect(live).toEqual(offline);
    store.close();
  });
});

describe('the live engine and the offline summary on logins fail2ban does not count, and restored bans', () => {
  // Real sshd and fail2ban.log shapes; keyboard-interactive/pam is what Debian's sshd logs for PAM logins.
  const LINES = [
    'Mar 27 13:00:00 srv sshd[101]: Failed password for root from 203.0.113.7 port 40001 ssh2',
    'Mar 27 13:00:01 srv sshd[102]: Failed password for root from 203.0.113.7 port 40002 ssh2',
    'Mar 27 13:00:02 srv sshd[103]: Failed password for root from 203.0.113.7 port 40003 ssh2',
    'Mar 27 13:00:03 srv sshd[104]: Failed password for root from 203.0.113.7 port 40004 ssh2',
    'Mar 27 13:00:04 srv sshd[105]: Invalid user admin from 203.0.113.7 port 40005',
    'Mar 27 13:00:05 srv sshd[105]: Failed password for invalid user admin from 203.0.113.7 port 40005 ssh2',
    'Mar 27 13:00:06 srv sshd[106]: Accepted keyboard-interactive/pam for root from 203.0.113.7 port 40006 ssh2',
    'Mar 27 13:00:07 srv sshd[107]: Accepted keyboard-interactive/pam for alice from 198.51.100.4 port 50001 ssh2',
    'Mar 27 13:00:08 srv sshd[108]: Accepted gssapi-with-mic for alice from 198.51.100.4 port 50002 ssh2',
    'Mar 27 13:00:09 srv sshd[109]: Accepted publickey for alice from 198.51.100.4 port 50003 ssh2: ED25519 SHA256:k',
    '2024-03-27 13:00:10,001 fail2ban.actions        [611]: NOTICE  [sshd] Ban 192.0.2.8',
    '2024-03-27 13:00:11,002 fail2ban.actions        [611]: NOTICE  [sshd] Restore Ban 192.0.2.8',
    '2024-03-27 13:00:12,003 fail2ban.actions        [611]: NOTICE  [sshd] Restore Ban 192.0.2.9',
  ];

  it('takes keyboard-interactive and gssapi logins for accepted logins, traces them, and gives both the same counters and scores', () => {
    // No decay within the 12 seconds of the lines: the live score is then the score of the totals (score.ts).
    const { store, engine, feed, db } = setup({ halfLifeSeconds: 1e9 });
    const parser = new LogLineParser({ type: 'auto', refMs: Date.UTC(2024, 11, 31) });
    const events = LINES.map((l) => parser.parse(l).event!);
    expect(events.map((e) => e.action)).toEqual([
      ...Array(4).fill('failed_password'),
      'invalid_user',
      'failed_password',
      'accepted_other',
      'accepted_other',
      'accepted_other',
      'accepted_publickey',
      'f2b_ban',
      'f2b_restore_ban',
      'f2b_restore_ban',
    ]);
    feed(events);
    const summary = new LogSummary();
    for (const e of events) summary.add(e);
    // The summary of the same lines read as a file, through the offline scan.
    const fileSummary = new LogSummary();
    const scan = new LogLineParser({ type: 'auto', refMs: Date.UTC(2024, 11, 31) });
    for (const l of LINES) scan.tally(l, fileSummary);
    const blockSummary = new LogSummary();
    new LogLineParser({ type: 'auto', refMs: Date.UTC(2024, 11, 31) }).tallyBlock(LINES.join('\n'), blockSummary, () => {});

    // The table keeps the score unrounded; reports round it to 0.1 (roundScore), as the summary does.
    const live = (db.prepare('SELECT ip, failures, invalid_users, accepted, bans, threat_score FROM ip_reputation ORDER BY ip').all() as Array<{ threat_score: number }>).map((r) => ({ ...r, threat_score: roundScore(r.threat_score) }));
    const offline = summary.rows().sort((x, y) => (x.ip < y.ip ? -1 : 1));
    expect(live).toEqual([
      { ip: '192.0.2.8', failures: 0, invalid_users: 0, accepted: 0, bans: 1, threat_score: offline[0].threat_score },
      { ip: '192.0.2.9', failures: 0, invalid_users: 0, accepted: 0, bans: 1, threat_score: offline[1].threat_score },
      { ip: '198.51.100.4', failures: 0, invalid_users: 0, accepted: 3, bans: 0, threat_score: 0 },
      { ip: '203.0.113.7', failures: 6, invalid_users: 1, accepted: 1, bans: 0, threat_score: offline[3].threat_score },
    ]);
    expect(offline).toEqual([
      { ip: '192.0.2.8', failures: 0, invalid_users: 0, accepted: 0, bans: 1, threat_score: threatScore({ failures: 0, bans: 1 }) },
      { ip: '192.0.2.9', failures: 0, invalid_users: 0, accepted: 0, bans: 1, threat_score: threatScore({ failures: 0, bans: 1 }) },
      { ip: '198.51.100.4', failures: 0, invalid_users: 0, accepted: 3, bans: 0, threat_score: 0 },
      { ip: '203.0.113.7', failures: 6, invalid_users: 1, accepted: 1, bans: 0, threat_score: threatScore({ failures: 6, invalidUsers: 1, accepted: 1 }) },
    ]);
    // Six failures are past fail2ban's maxretry: the accepted login afterwards is the guessed-password case.
    expect(offline[3].threat_score).toBeGreaterThan(threatScore({ failures: 6, invalidUsers: 1 }));
    expect(fileSummary.rows().sort((x, y) => (x.ip < y.ip ? -1 : 1))).toEqual(offline);
    expect(blockSummary.rows().sort((x, y) => (x.ip < y.ip ? -1 : 1))).toEqual(offline);
    // Every accepted login is a trace; the one after six failures is rated a likely guessed password.
    const traces = db.prepare("SELECT ip, severity_score AS severity, root_cause FROM event_traces WHERE json_extract(trace_metadata, '$.action') = 'accepted_other' ORDER BY id").all() as Array<{ ip: string; severity: number; root_cause: string }>;
    expect(traces.map((t) => [t.ip, t.root_cause])).toEqual([
      ['203.0.113.7', 'login accepted for root from 203.0.113.7 by keyboard-interactive/pam after 6 failures: the password may have been guessed'],
      ['198.51.100.4', 'login accepted for alice from 198.51.100.4 by keyboard-interactive/pam'],
      ['198.51.100.4', 'login accepted for alice from 198.51.100.4 by gssapi-with-mic'],
    ]);
    expect(traces[0].severity).toBeGreaterThanOrEqual(70);
    expect(engine.counters().ignored).toBe(0);
    store.close();
  });
});

describe('which counters a log event moves', () => {
  it.each([
    ['failed_password', true, EVIDENCE_FAILURE],
    ['failed_password', false, 0],
    ['invalid_user', true, EVIDENCE_FAILURE | EVIDENCE_INVALID_USER],
    ['accepted_password', false, EVIDENCE_ACCEPTED],
    ['accepted_publickey', false, EVIDENCE_ACCEPTED],
    ['accepted_other', false, EVIDENCE_ACCEPTED],
    ['accepted_password', true, EVIDENCE_FAILURE | EVIDENCE_ACCEPTED],
    ['f2b_ban', false, EVIDENCE_BAN],
    ['f2b_restore_ban', false, EVIDENCE_RESTORED_BAN],
    ['pam_auth_failure', false, 0],
    ['preauth_disconnect', true, EVIDENCE_FAILURE],
    ['session_opened', false, 0],
    [null, false, 0],
  ] as const)('%s with f2b_failure %s: %d', (action, failure, want) => {
    expect(logEvidence(action, failure)).toBe(want);
  });
});

describe('event traces', () => {
  it('links invalid user -> failed passwords -> ban into one causality chain with its root cause', () => {
    const { store, feed, db } = setup();
    const list = [
      ev(T, 'invalid_user', { ip: IP, user: 'oracle' }),
      ...Array.from({ length: 5 }, (_, i) => ev(T + 10 + i * 10, 'failed_password', { ip: IP, user: 'root' })),
      ev(T + 61, 'f2b_ban', { ip: IP, source: 'fail2ban', service: 'fail2ban', level: 'notice', metadata: { jail: 'sshd' } }),
    ];
    feed(list);
    const ban = db.prepare('SELECT event_id, severity_score, causality_chain, related_services, root_cause, trace_metadata FROM event_traces ORDER BY id DESC LIMIT 1').get() as Record<string, string | number>;
    const ids = list.map((e) => e.id);
    expect({ ...ban, causality_chain: JSON.parse(ban.causality_chain as string), related_services: JSON.parse(ban.related_services as string), trace_metadata: JSON.parse(ban.trace_metadata as string) }).toEqual({
      event_id: ids[6],
      // base 60, plus a fifth of the score before the ban (6 failures + 1 invalid user = 70 points: 62.1, decayed
      // a little over the minute to 61.6 -> 12.3)
      severity_score: 72.3,
      causality_chain: [
        { action: 'invalid_user', count: 1, first: T, last: T, users: ['oracle'], event_ids: [ids[0]] },
        { action: 'failed_password', count: 5, first: T + 10, last: T + 50, users: ['root'], event_ids: ids.slice(1, 6) },
        { action: 'f2b_ban', count: 1, first: T + 61, last: T + 61, users: [], event_ids: [ids[6]] },
      ],
      related_services: ['sshd', 'fail2ban'],
      root_cause: `fail2ban jail sshd banned ${IP} after 6 failures in 1m`,
      // 70 points of failures plus a 40-point ban: 100 * (1 - 2^-2.2) = 78.2 without decay; the evidence came over a
      // minute of a one-hour half-life: 78.0.
      trace_metadata: { action: 'f2b_ban', severity: 'error', chain: 'invalid_user → failed_password ×5 → f2b_ban', service: 'fail2ban', threat_score: 78 },
    });
    expect(db.prepare('SELECT ip, failures, invalid_users, bans, first_seen, last_seen FROM ip_reputation').all()).toEqual([{ ip: IP, failures: 6, invalid_users: 1, bans: 1, first_seen: T, last_seen: T + 61 }]);
    store.close();
  });

  it('rates a login accepted after five failures as a likely guessed password', () => {
    const { store, feed, db } = setup();
    feed([...Array.from({ length: 5 }, (_, i) => ev(T + i, 'failed_password', { ip: IP, user: 'admin' })), ev(T + 6, 'accepted_password', { ip: IP, user: 'admin' })]);
    const last = db.prepare('SELECT severity_score, root_cause FROM event_traces ORDER BY id DESC LIMIT 1').get();
    // 70 (guessed password) + a fifth of the 50 the five failures gave.
    expect(last).toEqual({ severity_score: 80, root_cause: `login accepted for admin from ${IP} by password after 5 failures: the password may have been guessed` });
    store.close();
  });

  it('escalates failure severity with repetition and privileged accounts', () => {
    const { store, feed, db } = setup();
    feed([ev(T, 'failed_password', { ip: IP, user: 'alice' }), ev(T + 1, 'failed_password', { ip: IP, user: 'root' }), ev(T + 2, 'failed_password', { ip: IP, user: 'root' })]);
    // 30 base; +2 per earlier failure; +10 for root; + a fifth of the score before: 0, 10 points (12.9), 20 points (24.2).
    expect(db.prepare('SELECT severity_score FROM event_traces ORDER BY id').pluck().all()).toEqual([30, 30 + 2 + 10 + 2.6, 30 + 4 + 10 + 4.8]);
    store.close();
  });

  it('chains events without an address by user (sudo)', () => {
    const { store, feed, db } = setup();
    feed([
      ev(T, 'sudo_auth_failure', { user: 'bob', service: 'sudo', level: 'warning' }),
      ev(T + 5, 'sudo_command', { user: 'bob', service: 'sudo', level: 'notice', metadata: { command: '/bin/cat /etc/shadow', runAs: 'root' } }),
    ]);
    const rows = db.prepare("SELECT root_cause, json_extract(trace_metadata, '$.chain') AS chain FROM event_traces ORDER BY id").all();
    expect(rows).toEqual([
      { root_cause: 'wrong password for sudo by bob', chain: 'sudo_auth_failure' },
      { root_cause: 'bob ran a command as root through sudo: /bin/cat /etc/shadow', chain: 'sudo_auth_failure → sudo_command' },
    ]);
    expect(db.prepare('SELECT count(*) FROM ip_reputation').pluck().get()).toBe(0);
    store.close();
  });

  it('ignores events that are not security-relevant', () => {
    const { store, engine, feed, db } = setup();
    feed([ev(T, 'session_opened', { user: 'root' }), ev(T, 'other', { level: 'info' }), ev(T, 'start', { source: 'netwatch' })]);
    expect([db.prepare('SELECT count(*) FROM event_traces').pluck().get(), engine.counters().ignored]).toEqual([0, 3]);
    store.close();
  });
});

describe('reputation through the engine', () => {
  it('halves the threat score every half-life without new evidence', () => {
    const { store, feed, db } = setup({ halfLifeSeconds: 600 });
    const H = 600;
    feed([
      ...Array.from({ length: 5 }, () => ev(T, 'failed_password', { ip: IP, user: 'root' })),
      ev(T + H, 'f2b_unban', { ip: IP, source: 'fail2ban', metadata: { jail: 'sshd' } }),
      ev(T + 3 * H, 'f2b_unban', { ip: IP, source: 'fail2ban', metadata: { jail: 'sshd' } }),
    ]);
    expect(db.prepare("SELECT json_extract(trace_metadata, '$.threat_score') FROM event_traces ORDER BY id").pluck().all()).toEqual([
      // 10, 20, ... 50 points: 100 * (1 - 2^(-p / 50))
      12.9, 24.2, 34, 42.6, 50,
      // one half-life later, then two more
      25, 6.3,
    ]);
    store.close();
  });

  it('counts a restored ban only for an address it had no ban for', () => {
    const { store, feed, db } = setup();
    const restore = (ip: string, at: number) => ev(at, 'f2b_restore_ban', { ip, source: 'fail2ban', metadata: { jail: 'sshd' } });
    feed([ev(T, 'f2b_ban', { ip: IP, source: 'fail2ban' }), restore(IP, T + 10), restore('198.51.100.1', T + 10)]);
    expect(db.prepare('SELECT ip, bans FROM ip_reputation ORDER BY ip').all()).toEqual([
      { ip: '198.51.100.1', bans: 1 },
      { ip: IP, bans: 1 },
    ]);
    store.close();
  });

  it('keeps at most maxIps addresses in memory, writes the evicted ones and reads them back intact', () => {
    const { store, engine, feed, db } = setup({ maxIps: 2 });
    const ips = ['198.51.100.1', '198.51.100.2', '198.51.100.3'];
    feed(ips.map((ip, i) => ev(T + i, 'failed_password', { ip, user: 'root' })));
    expect(engine.reputation.counters()).toMatchObject({ ips: 2, evictions: 1, created: 3 });
    feed([ev(T + 10, 'failed_password', { ip: ips[0], user: 'root' })]);
    expect(engine.reputation.counters()).toMatchObject({ loaded: 1, evictions: 2 });
    expect(db.prepare('SELECT ip, failures FROM ip_reputation ORDER BY ip').all()).toEqual([
      { ip: ips[0], failures: 2 },
      { ip: ips[1], failures: 1 },
      { ip: ips[2], failures: 1 },
    ]);
    store.close();
  });

  it('continues trace and pattern ids and reputation counters after a restart', () => {
    const file = tmp.file('restart.db');
    let { store, events } = openStore(file);
    let engine = new SecurityEngine({ store, events, now: () => T * 1000, readSockets: () => [] });
    const run = (list: LogEvent[]) => {
      for (const e of list) {
        events.push(e);
        engine.ingest(e);
      }
      engine.flushAll();
    };
    run(Array.from({ length: 5 }, (_, i) => ev(T + i, 'failed_password', { ip: IP, user: 'root' })));
    store.close();
    ({ store, events } = openStore(file));
    engine = new SecurityEngine({ store, events, now: () => T * 1000, readSockets: () => [] });
    run(Array.from({ length: 5 }, (_, i) => ev(T + 3000 + i, 'failed_password', { ip: IP, user: 'root' })));
    expect(store.db.prepare('SELECT id FROM event_traces ORDER BY id').pluck().all()).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(store.db.prepare('SELECT id, count FROM trace_patterns ORDER BY id').all()).toEqual([
      { id: 1, count: 5 },
      { id: 2, count: 5 },
    ]);
    expect(store.db.prepare('SELECT failures FROM ip_reputation').pluck().get()).toBe(10);
    store.close();
  });

  it('goes on with a brute force and a user enumeration across a restart instead of reporting them twice', () => {
    const file = tmp.file('restart-patterns.db');
    const runOnce = (list: LogEvent[]) => {
      const { store, events } = openStore(file);
      const engine = new SecurityEngine({ store, events, now: () => T * 1000, readSockets: () => [] });
      for (const e of list) {
        events.push(e);
        engine.ingest(e);
      }
      engine.flushAll();
      const patterns = store.db.prepare('SELECT id, pattern_type, first_seen, last_seen, count, json_array_length(evidence, \'$.users\') AS users FROM trace_patterns ORDER BY id').all();
      const resumed = engine.counters().patternsResumed;
      store.close();
      return { patterns, resumed };
    };
    const names = ['oracle', 'test', 'guest', 'pi', 'ftp', 'mysql', 'ubuntu', 'deploy', 'git'];
    // Run 1: six invalid users, each a failure too (fail2ban counts them): both patterns.
    const first = runOnce(names.slice(0, 6).map((u, i) => ev(T + i * 10, 'invalid_user', { ip: IP, user: u })));
    expect(first.patterns).toEqual([
      { id: 1, pattern_type: 'ssh_brute_force', first_seen: T, last_seen: T + 50, count: 6, users: null },
      { id: 2, pattern_type: 'user_enumeration', first_seen: T, last_seen: T + 50, count: 6, users: 6 },
    ]);
    // Run 2, a minute later: the attack goes on with three more names; the same two episodes grow.
    const second = runOnce(names.slice(6).map((u, i) => ev(T + 110 + i * 10, 'invalid_user', { ip: IP, user: u })));
    expect(second).toEqual({
      patterns: [
        { id: 1, pattern_type: 'ssh_brute_force', first_seen: T, last_seen: T + 130, count: 9, users: null },
        { id: 2, pattern_type: 'user_enumeration', first_seen: T, last_seen: T + 130, count: 9, users: 9 },
      ],
      resumed: 2,
    });
    // Run 3, an hour later (past both windows): a new brute force, reported as a new episode at its fifth failure.
    const third = runOnce(Array.from({ length: 5 }, (_, i) => ev(T + 3600 + i, 'failed_password', { ip: IP, user: 'root' })));
    expect(third.patterns.map((p) => [(p as { id: number }).id, (p as { count: number }).count])).toEqual([
      [1, 9],
      [2, 9],
      [3, 5],
    ]);
    expect(third.resumed).toBe(0);
  });
});

describe('log patterns', () => {
  it('reports user enumeration at six distinct invalid users within the window, with the names as evidence', () => {
    const { store, feed, db } = setup();
    const users = ['admin', 'test', 'guest', 'oracle', 'postgres', 'ubuntu', 'pi'];
    feed(users.map((u, i) => ev(T + i * 20, 'invalid_user', { ip: IP, user: u })));
    const rows = db.prepare("SELECT count, evidence FROM trace_patterns WHERE pattern_type = 'user_enumeration'").all() as Array<{ count: number; evidence: string }>;
    expect(rows.map((r) => ({ count: r.count, users: JSON.parse(r.evidence).users }))).toEqual([{ count: 7, users: users }]);
    store.close();
  });

  it('does not call five failures spread over more than the window a brute force', () => {
    const { store, feed, db } = setup();
    feed(Array.from({ length: 5 }, (_, i) => ev(T + i * 200, 'failed_password', { ip: IP, user: 'root' })));
    expect(db.prepare('SELECT count(*) FROM trace_patterns').pluck().get()).toBe(0);
    store.close();
  });
});

describe('process, network and error traces', () => {
  it('snapshots the live process an event names, and not a process that is gone', () => {
    const nowMs = Date.now();
    const comm = readFileSync(`/proc/${process.pid}/comm`, 'utf8').trim();
    const { store, engine, feed, db } = setup({}, () => nowMs);
    feed([
      ev(nowMs / 1000, 'failed_password', { ip: IP, user: 'root', service: comm, metadata: { pid: process.pid } }),
      ev(nowMs / 1000, 'failed_password', { ip: IP, user: 'root', metadata: { pid: 2 ** 22 + 4321 } }),
    ]);
    const rows = db.prepare('SELECT trace_id, pid, name, ppid, state FROM process_traces').all();
    expect(rows).toEqual([{ trace_id: 1, pid: process.pid, name: comm, ppid: process.ppid, state: expect.stringMatching(/^[RS]$/) }]);
    expect(engine.counters()).toMatchObject({ processTraces: 1, processGone: 1 });
    store.close();
  });

  it('takes no snapshot for an old event (a replayed file): its pid means nothing now', () => {
    const { store, feed, db } = setup({}, () => Date.now());
    feed([ev(T, 'failed_password', { ip: IP, user: 'root', service: 'node', metadata: { pid: process.pid } })]);
    expect(db.prepare('SELECT count(*) FROM process_traces').pluck().get()).toBe(0);
    store.close();
  });

  it('records the real sockets of the event address from /proc/net/tcp', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.2', r));
    const port = (server.address() as net.AddressInfo).port;
    const client = net.connect({ port, host: '127.0.0.2', localAddress: '127.0.0.2' });
    await new Promise<void>((r) => client.on('connect', r));
    try {
      const nowMs = Date.now();
      const { store, events } = openStore(tmp.file('sockets.db'));
      const engine = new SecurityEngine({ store, events, now: () => nowMs });
      const e = ev(nowMs / 1000, 'failed_password', { ip: '127.0.0.2', user: 'root' });
      events.push(e);
      engine.ingest(e);
      engine.flushAll();
      const rows = store.db.prepare('SELECT local_ip, local_port, remote_ip, remote_port, state, protocol FROM network_traces WHERE local_port = ? OR remote_port = ? ORDER BY state, local_port = ? DESC').all(port, port, port);
      expect(rows).toEqual([
        { local_ip: '127.0.0.2', local_port: port, remote_ip: '127.0.0.2', remote_port: client.localPort, state: 'ESTABLISHED', protocol: 'tcp' },
        { local_ip: '127.0.0.2', local_port: client.localPort, remote_ip: '127.0.0.2', remote_port: port, state: 'ESTABLISHED', protocol: 'tcp' },
        { local_ip: '127.0.0.2', local_port: port, remote_ip: '0.0.0.0', remote_port: 0, state: 'LISTEN', protocol: 'tcp' },
      ]);
      store.close();
    } finally {
      client.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('analyzes an error-level syslog line into an error trace, critical for an OOM kill', () => {
    const { store, feed, db } = setup();
    feed([
      {
        timestamp: T,
        source: 'kern',
        level: 'error',
        message: 'Out of memory: Killed process 4242 (java) total-vm:8123456kB, anon-rss:4000000kB',
        service: 'kernel',
        action: 'error',
      },
    ]);
    const row = db.prepare('SELECT e.error_type, e.error_category, e.severity, e.recovery_suggestions, t.severity_score, t.root_cause FROM error_traces e JOIN event_traces t ON t.id = e.trace_id').get() as Record<string, unknown>;
    expect({ ...row, recovery_suggestions: JSON.parse(row.recovery_suggestions as string).length }).toEqual({
      error_type: 'out_of_memory',
      error_category: 'resource',
      severity: 'critical',
      recovery_suggestions: 2,
      severity_score: 80,
      root_cause: "The kernel's OOM killer ended a process to free memory",
    });
    store.close();
  });
});
