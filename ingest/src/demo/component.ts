/**
 * Demo mode (`serve --demo`): the scenario's packets go into the flow component's `sink` (the decoder and flow
 * table that live captures use), and its log lines are appended to log files under `<data-dir>/demo-logs/`,
 * which the logs component tails like any `--log` file: the same tailer, parsers, event writer and security
 * engine as real logs. Pings to 127.0.0.1 and ::1 and the host metrics run as they always do.
 *
 * At start the last few minutes are generated at once (backfill), so every dashboard has history on first
 * load and the first attack campaign is already under way; from then on the scenario is advanced to the wall
 * clock every tick. Needs no privilege and nothing outside the data directory. Create the component before the
 * logs component starts (it creates its log files then); start it last, once the components it feeds run.
 */
import { appendFileSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { PacketSink } from '../capture/live';
import type { Component, ComponentDeps } from '../component';
import type { ServeConfig } from '../config/options';
import { DemoScenario, type DemoLogType, type DemoLine, type DemoPacket } from './scenario';

export const LINKTYPE_ETHERNET = 1;
export const DEMO_SEED = 20261201;
export const DEMO_LOG_DIR = 'demo-logs';
/** The log files of the demo and the --log type each is tailed as. */
export const DEMO_LOG_FILES: Readonly<Record<DemoLogType, string>> = { auth: 'auth.log', fail2ban: 'fail2ban.log', syslog: 'syslog', kern: 'kern.log' };
export const DEMO_PING_TARGETS = ['127.0.0.1', '::1'];

export interface DemoOptions {
  /** The flow component's sink; without one the packets are generated and counted, not decoded. */
  sink?: PacketSink;
  seed?: number;
  /** History generated at start, ms. Default 5 minutes. */
  backfillMs?: number;
  /** How far before start the first attack campaign begins, ms. Default 20 s (the threat score rule then fires a minute later). */
  attackLeadMs?: number;
  /** Tick of the generator, ms. Default 250. */
  tickMs?: number;
  /** A demo log file is rotated (renamed to .1, as logrotate does) past this size. Default 4 MiB. */
  maxLogBytes?: number;
}

/** Where the demo records how far it generated, so a restart continues rather than repeats. */
const CLOCK_FILE = 'clock.json';

function readClock(file: string): number | null {
  try {
    const v = (JSON.parse(readFileSync(file, 'utf8')) as { generatedUntilMs?: unknown }).generatedUntilMs;
    return typeof v === 'number' && Number.isFinite(v) ? v : null;
  } catch {
    return null;
  }
}

export function demoLogDir(config: Pick<ServeConfig, 'dataDir'>): string {
  return path.join(config.dataDir, DEMO_LOG_DIR);
}

/**
 * The configuration with what demo mode adds: its log files as `--log` sources and the loopback ping targets
 * (both only where the user did not give the same already). Unchanged when demo mode is off.
 */
export function demoConfig(config: ServeConfig): ServeConfig {
  if (!config.demo) return config;
  const dir = demoLogDir(config);
  const logs = Object.entries(DEMO_LOG_FILES).map(([type, file]) => `${type}:${path.join(dir, file)}`);
  const given = new Set(config.ping.map((p) => (typeof p === 'string' ? p : p.target)));
  return {
    ...config,
    log: [...config.log, ...logs.filter((l) => !config.log.includes(l))],
    ping: [...config.ping, ...DEMO_PING_TARGETS.filter((t) => !given.has(t))],
  };
}

export interface DemoComponent extends Component {
  /** Advances the scenario to `nowMs` (the timer does it every tick); returns the items generated. */
  tick(nowMs?: number): number;
}

export function createDemoComponent(deps: ComponentDeps, opts: DemoOptions = {}): DemoComponent {
  const { config, logger } = deps;
  const log = logger.child({ component: 'demo' });
  const dir = demoLogDir(config);
  const maxLogBytes = opts.maxLogBytes ?? 4 * 1024 * 1024;
  const tickMs = opts.tickMs ?? 250;
  const counters = { packets: 0, bytes: 0, lines: 0, log_write_errors: 0, rotations: 0, ticks: 0 };
  let scenario: DemoScenario | null = null;
  let lastTickMs = 0;
  const clockFile = path.join(dir, CLOCK_FILE);
  let timer: NodeJS.Timeout | null = null;
  const pending: Record<DemoLogType, string[]> = { auth: [], fail2ban: [], syslog: [], kern: [] };
  const sizes: Record<DemoLogType, number> = { auth: 0, fail2ban: 0, syslog: 0, kern: 0 };

  const onPacket = (p: DemoPacket) => {
    counters.packets++;
    counters.bytes += p.frame.length;
    opts.sink?.(LINKTYPE_ETHERNET, p.frame, p.frame.length, p.frame.length, Math.round(p.t * 1000));
  };
  const onLine = (l: DemoLine) => {
    counters.lines++;
    pending[l.type].push(l.line);
  };

  const writeLines = () => {
    for (const type of Object.keys(pending) as DemoLogType[]) {
      const lines = pending[type];
      if (lines.length === 0) continue;
      const file = path.join(dir, DEMO_LOG_FILES[type]);
      const text = lines.join('\n') + '\n';
      lines.length = 0;
      try {
        if (sizes[type] + text.length > maxLogBytes) {
          // Rename and create, as logrotate does: the tailer finishes the old file and follows the new one.
          renameSync(file, `${file}.1`);
          writeFileSync(file, '');
          sizes[type] = 0;
          counters.rotations++;
        }
        appendFileSync(file, text);
        sizes[type] += text.length;
      } catch (err) {
        counters.log_write_errors++;
        log.error({ err, file }, 'cannot write a demo log file');
      }
    }
  };

  const tick = (nowMs = deps.now()): number => {
    if (!scenario) return 0;
    counters.ticks++;
    lastTickMs = Math.max(lastTickMs, nowMs);
    const n = scenario.advance(nowMs, onPacket, onLine);
    writeLines();
    return n;
  };

  deps.api.registerComponent('demo', {
    health: () => (scenario ? { state: 'ok', detail: `generating traffic and logs (seed ${opts.seed ?? DEMO_SEED})` } : { state: 'down', detail: 'not started' }),
    stats: () => {
      const s = scenario?.counters();
      const out: Record<string, number> = { ...counters, sessions_open: s?.open ?? 0, sessions_dropped: s?.sessionsDropped ?? 0 };
      if (s) for (const [name, n] of Object.entries(s.sessions)) out[`sessions_${name}`] = n;
      return out;
    },
  });

  // The files exist before any component starts, so the logs component tails them from their current end
  // (a file missing at its start would be a warning and a wait).
  mkdirSync(dir, { recursive: true });
  for (const type of Object.keys(DEMO_LOG_FILES) as DemoLogType[]) {
    const file = path.join(dir, DEMO_LOG_FILES[type]);
    try {
      sizes[type] = statSync(file).size;
    } catch {
      writeFileSync(file, '');
      sizes[type] = 0;
    }
  }

  return {
    name: 'demo',
    start() {
      const now = deps.now();
      // After a restart, history resumes where the last run stopped instead of being generated twice.
      const resumeMs = readClock(clockFile);
      // (advance() is inclusive: what was at exactly the last tick was generated then.)
      const startMs = Math.min(now, Math.max(now - (opts.backfillMs ?? 5 * 60_000), resumeMs === null ? -Infinity : resumeMs + 1));
      scenario = new DemoScenario({
        seed: opts.seed ?? DEMO_SEED,
        startMs,
        attacksAtMs: Math.max(startMs, now - (opts.attackLeadMs ?? 20_000)),
      });
      const n = tick(now);
      log.info({ items: n, logDir: dir, sink: opts.sink ? 'flows' : 'none' }, 'demo mode: generated the last minutes of traffic and logs; continuing in real time');
      timer = setInterval(() => tick(), tickMs);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = null;
      if (scenario) tick();
      writeLines();
      try {
        writeFileSync(clockFile, JSON.stringify({ generatedUntilMs: lastTickMs }) + '\n');
      } catch (err) {
        log.warn({ err, file: clockFile }, 'cannot save the demo clock; the next start generates its history again');
      }
      scenario = null;
    },
    tick,
  };
}
