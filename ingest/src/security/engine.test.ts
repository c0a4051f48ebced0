import { readFileSync } from 'node:fs';
import net from 'node:net';
import type { LogEvent } from '../logs/events';
import { describeWithData } from '../testing/data';
import { SecurityEngine } from './engine';
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
    const relevant = db.prepare("SELECT count(*) FROM log_events WHERE action IN ('failed_password','invalid_user','accepted_password','accepted_publickey','preauth_disconnect','max_auth_attempts','pam_auth_failure','sudo_command','sudo_auth_failure','f2b_found','f2b_ban','f2b_unban','f2b_restore_ban','firewall_block','error') OR level IN ('error','critical')").pluck().get();
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

  it('analyzes an error-level syslog line into an error trace', () => {
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
      severity_score: 50,
      root_cause: "The kernel's OOM killer ended a process to free memory",
    });
    store.close();
  });
});
