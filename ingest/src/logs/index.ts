/**
 * The logs component: tails the `--log TYPE:PATH` files and the journal (`--journald`), parses every line into a
 * `log_events` row, and serves the `logs` query kind, the `log_sources`/`sources` value lists, health and counters.
 *
 * For the security engine (the interface between the two):
 *
 *     const security = createSecurityComponent(deps);
 *     const logs = createLogComponent(deps, { onEvent: (e) => security.ingest(e) });
 *
 * `onEvent` receives each parsed event after it was queued in `deps.events` (so `e.id` is set), in file order,
 * synchronously from the poll loop; it must not throw (a throw is caught and counted as `on_event_errors`).
 * Events carry `metadata.f2b_failure: true` on exactly the sshd lines fail2ban counts as failures (see events.ts).
 *
 * Read positions live in `<data-dir>/log-positions.json`: saved every checkpoint with the positions of the
 * previous checkpoint (those lines are written to SQLite by then, the writer flushes every second), and exactly
 * at stop, after the last lines were queued (the store flushes the writer when it closes). A crash therefore
 * repeats at most one checkpoint interval of lines and never loses any.
 */
import type { Component, ComponentDeps } from '../component';
import type { LogEvent } from './events';
import { JournaldSource } from './journald';
import { DEFAULT_MAX_LINE_BYTES, type LineSink } from './lines';
import { LogLineParser, SKIP_REASONS, type ParseResult, type SkipReason } from './parse';
import { PositionStore, type Positions } from './positions';
import { listLogSources, queryLogs } from './queries';
import { FileTailer, type FilePosition } from './tail';

export { LogLineParser, LOG_TYPES, type LogType } from './parse';
import { parseLogSpec, type LogSourceSpec } from './sources';

export { parseLogSpec, type LogSourceSpec };
export { LogSummary, type IpSummary } from './summary';

export interface LogComponentOptions {
  /** Every parsed event, after it was queued for writing (the security engine subscribes here). */
  onEvent?: (e: LogEvent) => void;
  /** Poll interval of the file tailers, ms. Default 500. */
  pollIntervalMs?: number;
  /** Interval between position checkpoints, ms. Default 2000 (more than the event writer's flush interval). */
  checkpointMs?: number;
  /** The journalctl executable. Default `journalctl` from PATH. */
  journalctl?: string;
  maxLineBytes?: number;
}

export interface LogComponent extends Component {
  /** Reads every source now (tests; the timer does it every pollIntervalMs). */
  poll(): void;
  counters(): Record<string, number>;
}

interface FileSource {
  spec: LogSourceSpec;
  tailer: FileTailer;
  parser: LogLineParser;
}

export function createLogComponent(deps: ComponentDeps, opts: LogComponentOptions = {}): LogComponent {
  const { config, logger, events, api, store } = deps;
  const specs = config.log.map(parseLogSpec);
  const paths = new Set<string>();
  for (const s of specs) {
    if (paths.has(s.path)) throw new Error(`--log: ${s.path} is given twice`);
    paths.add(s.path);
  }
  const positionStore = new PositionStore(config.dataDir);
  const pollMs = opts.pollIntervalMs ?? 500;
  const checkpointMs = opts.checkpointMs ?? 2000;
  const maxLineBytes = opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const counters = {
    events: 0,
    events_dropped: 0,
    f2b_failures: 0,
    on_event_errors: 0,
    polls_deferred: 0,
    position_save_errors: 0,
    journald_events: 0,
    journald_bad_lines: 0,
  };
  const skipped = Object.fromEntries(SKIP_REASONS.map((r) => [r, 0])) as Record<SkipReason, number>;
  let sources: FileSource[] = [];
  let journald: JournaldSource | null = null;
  let journalParser: LogLineParser | null = null;
  let pollTimer: NodeJS.Timeout | null = null;
  let checkpointTimer: NodeJS.Timeout | null = null;
  // The positions of the previous checkpoint: what the next one saves.
  let lagging: Positions | null = null;
  let loadError: string | null = null;
  const writerRoom = () => {
    const c = events.counters();
    // Read no more while the writer's queue is half full: the file keeps the lines, memory does not grow.
    return c.queued + c.waiting < 50_000;
  };

  const emit = (r: ParseResult) => {
    if (r.skip !== undefined) {
      skipped[r.skip]++;
      return;
    }
    const e = r.event;
    counters.events++;
    if (e.metadata?.f2b_failure === true) counters.f2b_failures++;
    if (!events.push(e)) {
      counters.events_dropped++;
      return;
    }
    if (opts.onEvent) {
      try {
        opts.onEvent(e);
      } catch (err) {
        counters.on_event_errors++;
        logger.error({ err }, 'log event subscriber failed');
      }
    }
  };

  const pollFiles = () => {
    const now = deps.now();
    for (const s of sources) {
      if (!writerRoom()) {
        counters.polls_deferred++;
        return;
      }
      s.parser.setReference(now);
      const sink: LineSink = {
        line: (text) => emit(s.parser.parse(text)),
        overlong: () => skipped.overlong++,
      };
      try {
        s.tailer.poll(sink);
      } catch (err) {
        logger.error({ err, path: s.spec.path }, 'reading a log file failed');
      }
    }
  };

  const snapshot = (): Positions => {
    const files: Record<string, FilePosition> = {};
    for (const s of sources) {
      const p = s.tailer.position();
      if (p) files[s.spec.path] = p;
    }
    return { files, journald: journald?.cursor ? { cursor: journald.cursor } : null };
  };

  const save = (p: Positions) => {
    try {
      positionStore.save(p);
    } catch (err) {
      counters.position_save_errors++;
      logger.error({ err, file: positionStore.file }, 'cannot save log read positions');
    }
  };

  api.registerKind('logs', (q, ctx) => queryLogs(store.db, q, ctx));
  const configuredSources = [...new Set([...specs.filter((s) => s.type !== 'auto').map((s) => s.type), ...(config.journald ? ['journald'] : [])])];
  api.registerValues('log_sources', () => listLogSources(store.db, configuredSources));
  api.registerValues('sources', () => listLogSources(store.db, configuredSources));

  const allCounters = (): Record<string, number> => {
    const out: Record<string, number> = { sources: sources.length + (journald ? 1 : 0), ...counters };
    let lines = 0;
    let bytes = 0;
    let rotations = 0;
    let truncations = 0;
    let missing = 0;
    let readErrors = 0;
    let evicted = 0;
    for (const s of sources) {
      lines += s.tailer.counters.lines + s.tailer.counters.overlong;
      bytes += s.tailer.counters.bytes;
      rotations += s.tailer.counters.rotations;
      truncations += s.tailer.counters.truncations;
      missing += s.tailer.counters.missing;
      readErrors += s.tailer.counters.readErrors;
      evicted += s.parser.trackerCounters().evicted;
    }
    Object.assign(out, { lines_read: lines, bytes_read: bytes, rotations, truncations, file_missing_polls: missing, read_errors: readErrors, sshd_connections_evicted: evicted });
    let skippedTotal = 0;
    for (const r of SKIP_REASONS) {
      out[`skipped_${r}`] = skipped[r];
      skippedTotal += skipped[r];
    }
    out.skipped = skippedTotal;
    out.lines_parsed = counters.events;
    if (journald) {
      out.journald_entries = journald.counters.entries;
      out.journald_restarts = journald.counters.restarts;
    }
    return out;
  };

  api.registerComponent('logs', {
    health: () => {
      if (sources.length === 0 && !journald) return { state: 'ok', detail: 'no log sources configured (--log, --journald)' };
      const problems: string[] = [];
      for (const s of sources) {
        const err = s.tailer.error();
        if (err) problems.push(err);
      }
      if (journald && journald.state.state !== 'ok') problems.push(`journald: ${journald.state.detail ?? journald.state.state}`);
      if (loadError) problems.push(loadError);
      if (problems.length === 0) return { state: 'ok', detail: `${sources.length} file(s)${journald ? ' and journald' : ''}` };
      const allDown = sources.every((s) => s.tailer.error() !== null) && (!journald || journald.state.state === 'down');
      return { state: allDown ? 'down' : 'degraded', detail: problems.join('; ') };
    },
    stats: allCounters,
  });

  return {
    name: 'logs',
    start() {
      const loaded = positionStore.load();
      loadError = loaded.error;
      if (loaded.error) logger.warn({ file: positionStore.file }, loaded.error);
      const refMs = deps.now();
      sources = specs.map((spec) => ({
        spec,
        tailer: new FileTailer({ path: spec.path, position: loaded.positions.files[spec.path] ?? null, fromStart: config.logFromStart, maxLineBytes, maxBytesPerPoll: 2 * 1024 * 1024 }),
        parser: new LogLineParser({ type: spec.type, refMs }),
      }));
      pollFiles();
      for (const s of sources) {
        const err = s.tailer.error();
        if (err) logger.warn({ path: s.spec.path }, `log file not readable yet, will keep trying: ${err}`);
      }
      if (config.journald) {
        journalParser = new LogLineParser({ type: 'auto', refMs });
        journald = new JournaldSource({
          units: config.journaldUnit,
          cursor: loaded.positions.journald?.cursor ?? null,
          command: opts.journalctl,
          onEntry: (f) => {
            counters.journald_events++;
            journalParser!.setReference(deps.now());
            emit(journalParser!.parseJournal(f));
          },
          onBadLine: () => counters.journald_bad_lines++,
          log: (level, msg) => logger[level](msg),
        });
        journald.start();
      }
      lagging = snapshot();
      pollTimer = setInterval(pollFiles, pollMs);
      pollTimer.unref();
      checkpointTimer = setInterval(() => {
        if (lagging) save(lagging);
        lagging = snapshot();
      }, checkpointMs);
      checkpointTimer.unref();
      logger.info({ files: specs.map((s) => `${s.type}:${s.path}`), journald: config.journald, fromStart: config.logFromStart }, 'log sources started');
    },
    async stop() {
      if (pollTimer) clearInterval(pollTimer);
      if (checkpointTimer) clearInterval(checkpointTimer);
      pollTimer = checkpointTimer = null;
      await journald?.stop();
      // What was appended since the last poll, then the exact positions: the writer holds those events and the
      // store flushes it when it closes.
      pollFiles();
      save(snapshot());
      for (const s of sources) s.tailer.close();
    },
    poll: pollFiles,
    counters: allCounters,
  };
}
