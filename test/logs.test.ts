/**
 * Logs end to end with the built `netwatch-ingest`: `serve --log` tailing a file this test appends real auth.log
 * lines to (across a restart and a rotation, nothing lost or repeated), the `logs` query over a real socket, the
 * journald source on a machine without journald, and the offline `logs --summary` against fail2ban's answers.
 * Needs `npm run build` first (npm test does it).
 */
import { appendFileSync, chmodSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describeWithData as describeData, hasTestData, testDataPath } from '../ingest/src/testing/data';
import { runSync, startServe as serve, stop, tempDir, waitFor } from './harness';

const LOGS = testDataPath('logs');

const startServe = (args: string[], env: Record<string, string> = {}) => serve(args, { env: { TZ: 'UTC', ...env } });

async function query(url: string, q: Record<string, unknown>): Promise<{ fields: string[]; values: unknown[][] }> {
  const res = await fetch(`${url}/api/v1/query`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ from: '0', to: String(Date.UTC(2030, 0, 1)), queries: [{ refId: 'A', ...q }] }),
  });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { results: Record<string, { frames: Array<{ schema: { fields: Array<{ name: string }> }; data: { values: unknown[][] } }> }> };
  const f = body.results.A.frames[0];
  return { fields: f.schema.fields.map((x) => x.name), values: f.data.values };
}

function storedMessages(dir: string): string[] {
  const db = new Database(path.join(dir, 'netwatch.db'), { readonly: true });
  try {
    return db.prepare("SELECT message FROM log_events WHERE source = 'auth' ORDER BY id").pluck().all() as string[];
  } finally {
    db.close();
  }
}

describeData('serve --log', () => {
  it('stores every line appended to a tailed file once, across a restart and a rotation, and serves them newest first', async () => {
    const real = readFileSync(path.join(LOGS, 'elastic_examples_auth.log'), 'utf8').split('\n').slice(0, 600);
    const dir = tempDir('netwatch-logs-e2e-');
    const log = path.join(dir, 'auth.log');
    writeFileSync(log, `${real.slice(0, 100).join('\n')}\n`);
    const args = ['--listen', '127.0.0.1:0', '--data-dir', dir, '--log', `auth:${log}`, '--log-from-start'];
    let svc = await startServe(args);
    try {
      appendFileSync(log, `${real.slice(100, 250).join('\n')}\n${real[250].slice(0, 20)}`); // ends inside a line
      const got = await waitFor('250 events', async () => {
        const r = await query(svc.url, { kind: 'logs', source: ['auth'], limit: 1000 });
        return r.values[0].length >= 250 ? r : undefined;
      });
      expect(got.fields).toEqual(['time', 'source', 'level', 'message', 'ip', 'user', 'service', 'action']);
      // Newest first; the line without its newline is not there yet.
      expect(got.values[3][0]).toBe(real[249].slice(real[249].indexOf(': ') + 2));
      expect(got.values[0].length).toBe(250);
      // Filters: an address block and text.
      const byIp = await query(svc.url, { kind: 'logs', cidr: ['24.151.0.0/16'], text: 'failed PASSWORD', limit: 1000 });
      const want = real.slice(0, 250).filter((l) => /24\.151\.\d+\.\d+/.test(l) && /Failed password/i.test(l)).length;
      expect(byIp.values[0].length).toBe(want);
      const health = (await (await fetch(`${svc.url}/api/v1/health`)).json()) as { components: Record<string, { state: string }> };
      expect(health.components.logs.state).toBe('ok');
    } finally {
      expect(await stop(svc)).toBe(0);
    }
    // While stopped: the partial line is completed and more is written; then the file is rotated.
    appendFileSync(log, `${real[250].slice(20)}\n${real.slice(251, 400).join('\n')}\n`);
    svc = await startServe(args.filter((a) => a !== '--log-from-start'));
    try {
      await waitFor('400 events', async () => (storedCount(dir) >= 400 ? true : undefined));
      renameSync(log, `${log}.1`);
      writeFileSync(log, `${real.slice(400, 600).join('\n')}\n`);
      await waitFor('600 events', async () => (storedCount(dir) >= 600 ? true : undefined));
      const stats = (await (await fetch(`${svc.url}/api/v1/stats`)).json()) as { components: { logs: Record<string, number> } };
      expect(stats.components.logs.rotations).toBe(1);
    } finally {
      expect(await stop(svc)).toBe(0);
    }
    const stored = storedMessages(dir);
    const messages = real.slice(0, 600).map((l) => l.slice(l.indexOf(': ') + 2));
    expect(stored).toEqual(messages);
  }, 60_000);

  it('reports on a machine without journald that it is not available, and keeps serving', async () => {
    const dir = tempDir('netwatch-journald-');
    const svc = await startServe(['--listen', '127.0.0.1:0', '--data-dir', dir, '--journald'], { PATH: '/nonexistent' });
    try {
      const health = await waitFor('journald health', async () => {
        const h = (await (await fetch(`${svc.url}/api/v1/health`)).json()) as { components: Record<string, { state: string; detail?: string }> };
        return h.components.logs.state === 'down' ? h.components.logs : undefined;
      });
      expect(health.detail).toMatch(/journalctl not found: journald is not available on this machine/);
    } finally {
      expect(await stop(svc)).toBe(0);
    }
  });

  it('follows journalctl -f -o json where there is one, resuming from the saved cursor', async () => {
    const dir = tempDir('netwatch-journald-');
    const bin = path.join(dir, 'bin');
    mkdirSync(bin);
    // A stand-in for journalctl (this machine has no journald): prints two entries in journal JSON, after the
    // cursor it is given, and records its arguments.
    const entries = [
      { __CURSOR: 's=a;i=1', __REALTIME_TIMESTAMP: '1711544816000000', _HOSTNAME: 'srv', SYSLOG_IDENTIFIER: 'sshd', _PID: '4242', PRIORITY: '6', _SYSTEMD_UNIT: 'ssh.service', MESSAGE: 'Failed password for root from 203.0.113.5 port 2222 ssh2' },
      { __CURSOR: 's=a;i=2', __REALTIME_TIMESTAMP: '1711544817000000', _HOSTNAME: 'srv', SYSLOG_IDENTIFIER: 'sshd', _PID: '4242', PRIORITY: '6', _SYSTEMD_UNIT: 'ssh.service', MESSAGE: 'Invalid user bob from 203.0.113.5 port 2223' },
    ];
    writeFileSync(
      path.join(bin, 'journalctl'),
      `#!/bin/sh\necho "$@" >> ${dir}/args\ncase "$*" in *after-cursor=s=a\\;i=2*) ;; *) printf '%s\\n' '${JSON.stringify(entries[0])}' '${JSON.stringify(entries[1])}' ;; esac\nexec sleep 30\n`,
    );
    chmodSync(path.join(bin, 'journalctl'), 0o755);
    const args = ['--listen', '127.0.0.1:0', '--data-dir', dir, '--journald', '--journald-unit', 'ssh.service'];
    let svc = await startServe(args, { PATH: `${bin}:${process.env.PATH}` });
    try {
      const got = await waitFor('2 journald events', async () => {
        const r = await query(svc.url, { kind: 'logs', source: ['journald'] });
        return r.values[0].length >= 2 ? r : undefined;
      });
      expect(got.values.slice(1).map((col) => col[1])).toEqual(['journald', 'warning', 'Failed password for root from 203.0.113.5 port 2222 ssh2', '203.0.113.5', 'root', 'sshd', 'failed_password']);
    } finally {
      expect(await stop(svc)).toBe(0);
    }
    svc = await startServe(args, { PATH: `${bin}:${process.env.PATH}` });
    await new Promise((r) => setTimeout(r, 500));
    expect(await stop(svc)).toBe(0);
    const calls = readFileSync(path.join(dir, 'args'), 'utf8').trim().split('\n');
    expect(calls).toEqual(['-f -o json --no-pager --no-tail -n 0 --unit=ssh.service', '-f -o json --no-pager --no-tail --after-cursor=s=a;i=2 --unit=ssh.service']);
    const db = new Database(path.join(dir, 'netwatch.db'), { readonly: true });
    try {
      expect(db.prepare("SELECT count(*) FROM log_events WHERE source = 'journald'").pluck().get()).toBe(2);
    } finally {
      db.close();
    }
  }, 30_000);
});

function storedCount(dir: string): number {
  const db = new Database(path.join(dir, 'netwatch.db'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare("SELECT count(*) FROM log_events WHERE source = 'auth'").pluck().get() as number;
  } finally {
    db.close();
  }
}

describeData('netwatch-ingest logs', () => {
  const tsvs = hasTestData() ? readdirSync(LOGS).filter((f) => f.endsWith('.fail2ban_counts.tsv')) : [];

  it.each(tsvs)('--summary --format json gives, for every address, the failures of %s', (tsv) => {
    const log = path.join(LOGS, tsv.replace('.fail2ban_counts.tsv', '.log'));
    const r = runSync(['logs', log, '--summary', '--format', 'json']);
    expect(r.code).toBe(0);
    const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { ip: string; failures: number; invalid_users: number; accepted: number; bans: number; threat_score: number });
    for (const row of rows) expect(Object.keys(row)).toEqual(['ip', 'failures', 'invalid_users', 'accepted', 'bans', 'threat_score']);
    const got = Object.fromEntries(rows.filter((x) => x.failures > 0).map((x) => [x.ip, x.failures]));
    const want = Object.fromEntries(
      readFileSync(path.join(LOGS, tsv), 'utf8')
        .split('\n')
        .filter((l) => l && !l.startsWith('#'))
        .map((l) => [l.split('\t')[1], Number(l.split('\t')[0])]),
    );
    expect(got).toEqual(want);
  });

  it('prints events as a table or JSON lines, and explains bad usage with exit code 2', () => {
    const log = path.join(LOGS, 'crowdsec_ssh-bf.log');
    const json = runSync(['logs', log, '--format', 'json'], { env: { TZ: 'UTC' } });
    expect(json.code).toBe(0);
    const events = json.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(events.length).toBe(readFileSync(log, 'utf8').split('\n').filter((l) => l.trim()).length);
    const table = runSync(['logs', log]);
    expect(table.stdout.split('\n')[0]).toMatch(/^time\s+source\s+level\s+action\s+ip\s+user\s+message$/);
    for (const [args, msg] of [
      [['logs'], /no FILE given/],
      [['logs', log, '--type', 'nginx'], /--type: expected one of auth, fail2ban, syslog, kern, auto/],
      [['logs', log, '--bogus'], /unknown flag --bogus/],
      // As in `flows`: a flag where a value belongs is a missing value, not the value.
      [['logs', log, '--format', '--summary'], /^netwatch-ingest logs: --format needs a value$/m],
    ] as const) {
      const r = runSync([...args]);
      expect([r.code, msg.test(r.stderr)]).toEqual([2, true]);
    }
    const missing = runSync(['logs', '/nonexistent.log']);
    expect([missing.code, missing.stderr.trim()]).toEqual([1, 'netwatch-ingest logs: cannot read /nonexistent.log: ENOENT']);
    expect(runSync(['logs', '--help']).stdout).toMatch(/--summary/);
  });
});
