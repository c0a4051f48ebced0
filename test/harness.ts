/**
 * How the cross-component tests run real processes: the built `netwatch-ingest` (`startServe`, `runSync`) and
 * other executables (`spawnTracked`, `waitForLine`, `runToExit`). Every process started here keeps its output
 * for failure messages, is killed when it does not come up or does not stop in time, and is stopped when the
 * test file ends whatever happened, so no `serve` outlives a failed test. Data directories come from
 * `tempDir` (mkdtemp: unique per call, so parallel runs never share one) and are removed at the end.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '..');
/** The built command (`npm run build`). */
export const BIN = path.join(ROOT, 'ingest/bin/netwatch-ingest.js');

/** The environment a child gets: PATH only (nothing of the developer's shell leaks in), plus `env`. */
export function childEnv(env: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? '', ...env };
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Date.now() at the exit. */
  at: number;
}

export interface Proc {
  child: ChildProcess;
  /** Everything written so far (stdout is kept so a chatty child never blocks on a full pipe). */
  stdout: () => string;
  stderr: () => string;
  /** Settles once, at the exit, however early anyone asks. */
  exited: Promise<Exit>;
  /** Settles when the child's stdout and stderr have ended too (so their text is complete). */
  closed: Promise<void>;
}

const running = new Set<Proc>();
const dirs: string[] = [];

/** `spawn` with stdout and stderr kept as text, tracked until it exits. `env` is passed as it is. */
export function spawnTracked(command: string, args: string[], opts: { env: Record<string, string>; uid?: number; gid?: number }): Proc {
  const child = spawn(command, args, { env: opts.env, stdio: ['ignore', 'pipe', 'pipe'], ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.gid } : {}) });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  // A command that cannot be started at all gives 'error' and no 'exit': that counts as exited too.
  const failed = new Promise<Error>((resolve) => child.once('error', resolve)).then((e) => {
    err += `cannot run ${command}: ${e.message}\n`;
  });
  const exited = Promise.race([new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() }))), failed.then(() => ({ code: null, signal: null, at: Date.now() }))]);
  const closed = Promise.race([new Promise<void>((resolve) => child.once('close', () => resolve())), failed]);
  const proc: Proc = { child, stdout: () => out, stderr: () => err, exited, closed };
  running.add(proc);
  void exited.then(() => running.delete(proc));
  return proc;
}

function isRunning(p: Proc): boolean {
  return p.child.exitCode === null && p.child.signalCode === null;
}

/** Output complete: waits for the streams to end, but not for a grandchild that may still hold them open. */
async function settled(p: Proc): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p.closed, new Promise<void>((r) => (timer = setTimeout(r, 2000)))]);
  clearTimeout(timer);
}

/**
 * The first complete line of `stream` that `match` accepts (lines already written count). When none comes
 * within `timeoutMs` the child is killed; when it exits first, the promise rejects with what it wrote.
 * `what` names the process and `line` the line in those messages.
 */
export function waitForLine(p: Proc, stream: 'stdout' | 'stderr', match: (line: string) => boolean, opts: { what: string; line: string; timeoutMs: number }): Promise<string> {
  const text = stream === 'stdout' ? p.stdout : p.stderr;
  const find = () => text().split('\n').slice(0, -1).find(match);
  const output = () => (stream === 'stdout' ? `stdout:\n${p.stdout()}\nstderr:\n${p.stderr()}` : `stderr:\n${p.stderr()}`);
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (f: () => void) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      p.child[stream]!.off('data', onData);
      f();
    };
    const onData = () => {
      const line = find();
      if (line !== undefined) finish(() => resolve(line));
    };
    // Past the deadline the child is killed, and the promise rejects once it has gone.
    let late: string | undefined;
    const timer = setTimeout(() => {
      late = `${opts.what}: no ${opts.line} within ${opts.timeoutMs / 1000} s (killed); ${output()}`;
      p.child[stream]!.off('data', onData);
      p.child.kill('SIGKILL');
    }, opts.timeoutMs);
    p.child[stream]!.on('data', onData);
    onData();
    void p.exited.then(async ({ code, signal }) => {
      await settled(p);
      if (late === undefined) onData();
      finish(() => reject(new Error(late ?? `${opts.what} exited with ${code ?? signal} before the ${opts.line}; ${output()}`)));
    });
  });
}

/**
 * Waits for the exit (`ms` counted from this call). A child still running after `timeoutMs` is killed and the
 * promise rejects with its stderr: a service that does not stop is a failure, never a hang.
 */
export async function waitExit(p: Proc, timeoutMs = 8000): Promise<Exit & { ms: number }> {
  const t0 = Date.now();
  let late: string | undefined;
  const timer = setTimeout(() => {
    late = `pid ${p.child.pid} still running after ${timeoutMs / 1000} s (killed); stderr:\n${p.stderr()}`;
    p.child.kill('SIGKILL');
  }, timeoutMs);
  const exit = await p.exited;
  clearTimeout(timer);
  if (late !== undefined) throw new Error(late);
  await settled(p);
  return { ...exit, ms: Math.max(0, exit.at - t0) };
}

/** Sends `signal` (unless it has exited already) and waits for the exit; its exit code. */
export async function stop(p: Proc, signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 8000): Promise<number | null> {
  const exited = waitExit(p, timeoutMs);
  if (isRunning(p)) p.child.kill(signal);
  return (await exited).code;
}

export interface Serve extends Proc {
  /** From the ready line. */
  url: string;
  /** The JSON log lines of stderr so far, parsed. */
  logs: () => Array<Record<string, unknown>>;
}

export interface ServeOptions {
  /** Over PATH (see childEnv). */
  env?: Record<string, string>;
  /** Before the script, e.g. `--require hook.js`. */
  nodeArgs?: string[];
  /** A command that runs node, e.g. setpriv with other credentials. */
  wrap?: string[];
  uid?: number;
  gid?: number;
  /** How long until the ready line (default 15 s). */
  timeoutMs?: number;
  /** The name in failure messages. */
  what?: string;
}

function jsonLines(text: string): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const l of text.split('\n')) {
    if (!l.startsWith('{')) continue;
    try {
      out.push(JSON.parse(l) as Record<string, unknown>);
    } catch {
      // the last line, still being written
    }
  }
  return out;
}

function readyUrl(line: string): string | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const l = JSON.parse(line) as Record<string, unknown>;
    return typeof l.url === 'string' && String(l.msg).includes('ready') ? l.url : undefined;
  } catch {
    return undefined;
  }
}

/** `netwatch-ingest serve ARGS`, resolved at its ready line (a JSON log line with `url` and "ready"). */
export async function startServe(args: string[], opts: ServeOptions = {}): Promise<Serve> {
  const argv = [...(opts.wrap ?? []), process.execPath, ...(opts.nodeArgs ?? []), BIN, 'serve', ...args];
  const proc = spawnTracked(argv[0], argv.slice(1), { env: childEnv(opts.env), uid: opts.uid, gid: opts.gid });
  const line = await waitForLine(proc, 'stderr', (l) => readyUrl(l) !== undefined, { what: opts.what ?? 'netwatch-ingest serve', line: 'ready line', timeoutMs: opts.timeoutMs ?? 15_000 });
  return Object.assign(proc, { url: readyUrl(line)!, logs: () => jsonLines(proc.stderr()) });
}

/** `netwatch-ingest ARGS` to its end: its exit code (null when killed at `timeoutMs`) and output. */
export function runSync(args: string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: childEnv(opts.env), timeout: opts.timeoutMs ?? 20_000, maxBuffer: 64 << 20 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Any command to its end, asynchronously (the event loop keeps running): code and output; killed at `timeoutMs`. */
export async function runToExit(command: string, args: string[], opts: { env: Record<string, string>; timeoutMs?: number }): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = spawnTracked(command, args, { env: opts.env });
  const { code } = await waitExit(p, opts.timeoutMs ?? 15_000);
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}

/** Asks `probe` every 100 ms until it gives a value; fails naming `what` after `ms`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A new directory under the system temp dir, removed when the test file ends. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

/** Whatever a test left running: SIGTERM, then SIGKILL after 5 s. */
async function stopAll(): Promise<void> {
  await Promise.all([...running].map((p) => stop(p, 'SIGTERM', 5000).catch(() => undefined)));
}

afterAll(async () => {
  await stopAll();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}, 15_000);

// The worker going away without afterAll (a crash, a forced exit): nothing is left behind still.
process.once('exit', () => {
  for (const p of running) if (isRunning(p)) p.child.kill('SIGKILL');
});
