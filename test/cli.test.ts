/**
 * The built `netwatch-ingest` command as a user runs it: a real process, a real socket, a real SQLite file.
 * Needs `npm run build` first (npm test does it).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import Database from 'better-sqlite3';
import { runSync, startServe, tempDir, waitExit } from './harness';

const VERSION = (JSON.parse(readFileSync(path.resolve(__dirname, '../ingest/package.json'), 'utf8')) as { version: string }).version;

describe('netwatch-ingest', () => {
  it('prints help for the command and for serve, documenting every flag', () => {
    const main = runSync(['--help']);
    expect(main.code).toBe(0);
    expect(main.stdout).toMatch(/Commands:[\s\S]*serve/);
    const serve = runSync(['serve', '--help']);
    expect(serve.code).toBe(0);
    for (const flag of ['--listen', '--data-dir', '--token', '--log-level', '--interface', '--pcap', '--replay-speed', '--log', '--journald', '--ping', '--ping-interval', '--demo', '--config']) {
      expect(serve.stdout).toContain(flag);
    }
  });

  it.each([
    [['serve', '--no-such-flag'], /unknown flag --no-such-flag/],
    [['serve', '--listen', 'localhost'], /--listen: expected HOST:PORT/],
    [['serve', '--config', '/nonexistent/netwatch.yml'], /cannot read config file/],
    [['frobnicate'], /unknown command "frobnicate"/],
  ])('exits 2 on %j with a message naming the problem', (args, message) => {
    const r = runSync(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('exits 2 naming the variable when the environment holds a bad value', () => {
    const r = runSync(['serve'], { env: { NETWATCH_MAX_FLOWS: 'many' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/NETWATCH_MAX_FLOWS: expected a number/);
  });

  it('serves on loopback, logs one ready line with the URL, and on SIGTERM flushes, closes the database and exits 0 within 5 s', async () => {
    const dir = tempDir('netwatch-cli-');
    const svc = await startServe(['--listen', '127.0.0.1:0', '--data-dir', dir, '--token', 'tok', '--log-level', 'info']);
    expect(svc.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(svc.stderr().split('\n').filter((l) => l.includes('ready')).length).toBe(1);
    // One line, and only one, says where the API is (fastify's own "Server listening" line is not logged).
    const port = svc.url.split(':')[2];
    expect(svc.stderr().split('\n').filter((l) => l.includes(`:${port}`))).toEqual([expect.stringContaining(`netwatch-ingest ready on ${svc.url}`)]);
    expect(svc.stderr()).not.toContain('"tok"');

    const health = (await (await fetch(`${svc.url}/api/v1/health`)).json()) as { status: string; components: Record<string, unknown> };
    expect(health.components).toHaveProperty('store');
    expect((await fetch(`${svc.url}/api/v1/stats`)).status).toBe(401);
    const stats = (await (await fetch(`${svc.url}/api/v1/stats`, { headers: { authorization: 'Bearer tok' } })).json()) as {
      components: { store: Record<string, number> };
    };
    expect(stats.components.store.schema_version).toBe(3);

    const exited = waitExit(svc);
    svc.child.kill('SIGTERM');
    const { code, ms } = await exited;
    expect(code).toBe(0);
    expect(ms).toBeLessThan(5000);

    const dbPath = path.join(dir, 'netwatch.db');
    expect(existsSync(dbPath)).toBe(true);
    const db = new Database(dbPath, { readonly: true });
    try {
      const events = db.prepare("SELECT action FROM log_events WHERE source = 'netwatch' ORDER BY id").pluck().all();
      expect(events).toEqual(['start', 'stop']);
      expect(db.prepare("SELECT value FROM metadata WHERE key = 'schema_version'").pluck().get()).toBe('3');
    } finally {
      db.close();
    }
  });

  it('stops with one line naming the address when the port is taken, and leaves the database closed', async () => {
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const dir = tempDir('netwatch-cli-');
      const r = runSync(['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dir, '--log-level', 'warn']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: listen EADDRINUSE`));
      expect(r.stderr).not.toMatch(/\n\s+at /);
      const db = new Database(path.join(dir, 'netwatch.db'), { readonly: true });
      try {
        const events = db.prepare("SELECT action, message FROM log_events WHERE source = 'netwatch' ORDER BY id").all();
        expect(events).toEqual([
          { action: 'start', message: `netwatch-ingest ${VERSION} started` },
          { action: 'stop', message: expect.stringMatching(new RegExp(`^netwatch-ingest ${VERSION.replace(/\./g, '\\.')} did not start: cannot listen on 127\\.0\\.0\\.1:${port}: listen EADDRINUSE`)) },
        ]);
      } finally {
        db.close();
      }
    } finally {
      taken.close();
    }
  });

  it('takes its settings from a YAML file and the environment', async () => {
    const dir = tempDir('netwatch-cfg-');
    const cfg = path.join(dir, 'netwatch.yml');
    writeFileSync(cfg, `listen: 127.0.0.1:0\ndata-dir: ${dir}/from-file\ntoken: file-token\n`);
    const svc = await startServe(['--config', cfg], { env: { NETWATCH_TOKEN: 'env-token', NETWATCH_LOG_LEVEL: 'debug' } });
    try {
      expect((await fetch(`${svc.url}/api/v1/stats`, { headers: { authorization: 'Bearer env-token' } })).status).toBe(200);
      expect((await fetch(`${svc.url}/api/v1/stats`, { headers: { authorization: 'Bearer file-token' } })).status).toBe(401);
      expect(existsSync(path.join(dir, 'from-file', 'netwatch.db'))).toBe(true);
      // debug level (from the environment) logs each request.
      await new Promise((r) => setTimeout(r, 100));
      expect(svc.stderr()).toMatch(/"msg":"request"/);
    } finally {
      const exited = waitExit(svc);
      svc.child.kill('SIGINT');
      expect((await exited).code).toBe(0);
    }
  });
});
