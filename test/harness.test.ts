/**
 * The harness the other tests start processes with: what it promises when a process misbehaves (never ready,
 * exits first, ignores SIGTERM) is what keeps a failing test from leaving a `serve` running. The misbehaving
 * services are shell stand-ins given as `wrap` (the real command line follows as their ignored arguments).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { startServe, stop, tempDir, waitExit } from './harness';

const READY = `echo '{"level":30,"url":"http://127.0.0.1:9","msg":"netwatch-ingest ready on http://127.0.0.1:9"}' >&2`;

/** Whether the process still exists (signal 0 only asks). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('startServe', () => {
  it('kills a service that writes no ready line in time, and says so with its stderr', async () => {
    const pidFile = path.join(tempDir('netwatch-harness-'), 'pid');
    const started = startServe([], { wrap: ['sh', '-c', `echo $$ > ${pidFile}; echo "starting slowly" >&2; exec sleep 30`], timeoutMs: 500 });
    await expect(started).rejects.toThrow(/^netwatch-ingest serve: no ready line within 0\.5 s \(killed\); stderr:\nstarting slowly\n$/);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(pid).toBeGreaterThan(0);
    expect(alive(pid)).toBe(false);
  });

  it('rejects with the exit code and stderr of a service that exits before it is ready', async () => {
    await expect(startServe(['--no-such-flag'])).rejects.toThrow(/^netwatch-ingest serve exited with 2 before the ready line; stderr:\nnetwatch-ingest serve: unknown flag --no-such-flag/);
  });

  it('takes the URL from the ready line, and does not count a line still being written', async () => {
    // The ready line in two writes: the first, cut inside the JSON, already holds "url" and "ready".
    const svc = await startServe([], { wrap: ['sh', '-c', `printf '{"level":30,"url":"http://127.0.0.1:9","msg":"netwatch-ingest ready' >&2; sleep 0.3; printf ' on http://127.0.0.1:9"}\\n' >&2; exec sleep 30`] });
    try {
      expect(svc.url).toBe('http://127.0.0.1:9');
      expect(svc.logs()).toEqual([{ level: 30, url: 'http://127.0.0.1:9', msg: 'netwatch-ingest ready on http://127.0.0.1:9' }]);
    } finally {
      await stop(svc, 'SIGKILL');
    }
  });
});

describe('stop and waitExit', () => {
  it('kill a service that ignores SIGTERM after the timeout and fail, so the test fails instead of hanging', async () => {
    const svc = await startServe([], { wrap: ['sh', '-c', `trap '' TERM; ${READY}; exec sleep 30`] });
    const pid = svc.child.pid!;
    await expect(stop(svc, 'SIGTERM', 500)).rejects.toThrow(`pid ${pid} still running after 0.5 s (killed); stderr:\n{"level":30`);
    expect(await svc.exited).toMatchObject({ code: null, signal: 'SIGKILL' });
    expect(alive(pid)).toBe(false);
  });

  it('answer at once, with the same exit, for a process that has exited already', async () => {
    const svc = await startServe([], { wrap: ['sh', '-c', `${READY}; exit 3`] });
    await svc.exited;
    expect(await stop(svc)).toBe(3);
    expect(await waitExit(svc)).toMatchObject({ code: 3, signal: null, ms: 0 });
  });
});

describe('tempDir', () => {
  it('gives a new directory on every call', () => {
    const a = tempDir('netwatch-harness-');
    const b = tempDir('netwatch-harness-');
    expect([a !== b, existsSync(a), existsSync(b)]).toEqual([true, true, true]);
  });
});
