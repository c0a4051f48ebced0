/**
 * The host metrics component: samples every enabled collector once a second into the ring buffer, persists
 * `persistIntervalSec` windows to system_metrics / network_metrics, rolls up closed hours and days (and, at
 * start, the ones missed while the service was down), and serves the system_metrics and network_metrics kinds
 * and the `net_interfaces` and `mounts` value lists.
 *
 * Retention of the raw rows and aggregates is the store's (Store.open gets it from the same options, see
 * main.ts), run hourly with the database size cap by store maintenance.
 */
import type { Component, ComponentDeps } from '../component';
import type { RetentionConfig } from '../store';
import { CaptureCollector, type CaptureCounters } from './capture';
import { CollectorRegistry, DEFAULT_HOST_PATHS, type Collector, type HostPaths } from './collector';
import { CpuCollector } from './cpu';
import { DiskCollector } from './disk';
import { LoadCollector } from './load';
import { MemoryCollector } from './memory';
import { NetworkCollector } from './network';
import { createMetricsWriters, flushMetricsWriters, MetricsPersister, type MetricsWriters } from './persist';
import { queryNetworkMetrics, querySystemMetrics, type MetricsQueryDeps } from './queries';
import { DEFAULT_RING_CAPACITY, MetricsRing } from './ring';
import { Rollups } from './rollup';
import { DEFAULT_SAMPLE_LIMITS, Sample, type SampleLimits } from './sample';

const DAY_SEC = 86_400;
// After an hour closes, the rollup waits this long for its last window and log events to be committed.
const ROLLUP_GRACE_MS = 30_000;

/** Settings of the component; the defaults are those of config/options.ts. */
export interface MetricsConfig {
  collectors: readonly string[];
  /** Default 3600 samples (one hour at 1 s). */
  ringCapacity: number;
  /** Seconds per persisted row. Default 10. */
  persistIntervalSec: number;
  /** Of the raw rows and of the hourly aggregates, seconds (what the store's retention uses). */
  rawRetentionSec: number;
  hourlyRetentionSec: number;
  /** Sampling period, ms. Default 1000. */
  sampleIntervalMs: number;
  paths: HostPaths;
  limits: SampleLimits;
}

export function metricsConfigFrom(config: ComponentDeps['config']): MetricsConfig {
  return {
    collectors: config.collectors,
    ringCapacity: config.metricsRingSize ?? DEFAULT_RING_CAPACITY,
    persistIntervalSec: config.metricsPersistInterval ?? 10,
    rawRetentionSec: (config.metricsRetentionDays ?? 7) * DAY_SEC,
    hourlyRetentionSec: (config.hourlyRetentionDays ?? 90) * DAY_SEC,
    sampleIntervalMs: 1000,
    paths: { proc: config.procfs ?? DEFAULT_HOST_PATHS.proc, sys: config.sysfs ?? DEFAULT_HOST_PATHS.sys },
    limits: DEFAULT_SAMPLE_LIMITS,
  };
}

/** The store's retention of the tables this component fills, from the same options (Store.open takes it). */
export function metricsRetention(config: Pick<ComponentDeps['config'], 'metricsRetentionDays' | 'hourlyRetentionDays' | 'dailyRetentionDays'>): Partial<RetentionConfig> {
  const raw = (config.metricsRetentionDays ?? 7) * DAY_SEC;
  return {
    system_metrics: raw,
    network_metrics: raw,
    disk_metrics: raw,
    cpu_metrics: raw,
    hourly_aggregates: (config.hourlyRetentionDays ?? 90) * DAY_SEC,
    daily_aggregates: (config.dailyRetentionDays ?? 730) * DAY_SEC,
  };
}

export interface MetricsComponentOptions {
  /** The flow component's counters; without it the capture collector reports "disabled: no capture". */
  captureCounters?: () => CaptureCounters;
  /** Overrides of the configuration (tests). */
  config?: Partial<MetricsConfig>;
}

export interface MetricsComponent extends Component {
  readonly ring: MetricsRing;
  readonly rollups: Rollups;
  readonly collectors: CollectorRegistry;
  readonly queryDeps: MetricsQueryDeps;
  /** One collection round now (the timer calls it every second). */
  sampleNow(): void;
}

export function createMetricsComponent(deps: ComponentDeps, opts: MetricsComponentOptions = {}): MetricsComponent {
  const cfg: MetricsConfig = { ...metricsConfigFrom(deps.config), ...opts.config };
  const { paths, limits } = cfg;
  const network = new NetworkCollector(paths, { maxInterfaces: limits.maxInterfaces });
  const disk = new DiskCollector(paths, { maxMounts: limits.maxMounts });
  const available: Collector[] = [
    new CpuCollector(paths),
    new MemoryCollector(paths),
    disk,
    new LoadCollector(paths),
    network,
    new CaptureCollector(opts.captureCounters),
  ];
  const log = deps.logger.child({ component: 'metrics' });
  const collectors = new CollectorRegistry(available, cfg.collectors, log, deps.metrics);
  const ring = new MetricsRing({ capacity: cfg.ringCapacity, ...limits });
  const writers: MetricsWriters = createMetricsWriters(deps.store);
  const persister = new MetricsPersister(writers, cfg.persistIntervalSec, limits);
  const rollups = new Rollups(deps.store);
  const sample = new Sample(limits);
  let samples = 0;
  let sampleTimer: NodeJS.Timeout | undefined;
  let rollupTimer: NodeJS.Timeout | undefined;
  let running = false;

  const queryDeps: MetricsQueryDeps = {
    ring,
    db: deps.store.db,
    rollups,
    resolutionSec: cfg.persistIntervalSec,
    pendingFromSec: () => persister.pendingFromSec,
    flushWriters: () => flushMetricsWriters(writers),
    retention: { rawSec: cfg.rawRetentionSec, hourlySec: cfg.hourlyRetentionSec },
  };

  const sampleNow = () => {
    sample.clear(deps.now());
    collectors.collect(sample);
    if (ring.push(sample)) persister.add(sample);
    samples++;
  };

  const scheduleSample = () => {
    if (!running) return;
    // Aligned to the wall-clock second, so persisted windows hold whole seconds and a late tick does not drift.
    const iv = cfg.sampleIntervalMs;
    const delay = iv - (deps.now() % iv) + 2;
    sampleTimer = setTimeout(() => {
      try {
        sampleNow();
      } catch (err) {
        log.error({ err }, 'metrics sampling failed');
      }
      scheduleSample();
    }, delay);
    sampleTimer.unref();
  };

  const rollUp = () => {
    const nowSec = deps.now() / 1000;
    const started = performance.now();
    try {
      // What is queued for the periods being closed is committed first.
      queryDeps.flushWriters();
      deps.events.flush();
      const done = rollups.catchUp(nowSec, cfg.hourlyRetentionSec);
      if (done.hours + done.days > 0) log.info({ ...done, ms: Math.round(performance.now() - started) }, 'metrics rollups computed');
    } catch (err) {
      log.error({ err }, 'metrics rollup failed');
    }
  };

  const scheduleRollup = () => {
    if (!running) return;
    const now = deps.now();
    const delay = 3_600_000 - (now % 3_600_000) + ROLLUP_GRACE_MS;
    rollupTimer = setTimeout(() => {
      rollUp();
      scheduleRollup();
    }, delay);
    rollupTimer.unref();
  };

  deps.api.registerKind('system_metrics', (q, ctx) => querySystemMetrics(queryDeps, q, ctx));
  deps.api.registerKind('network_metrics', (q, ctx) => queryNetworkMetrics(queryDeps, q, ctx));
  const storedInterfaces = deps.store.db.prepare("SELECT DISTINCT interface FROM network_metrics WHERE interface != '' ORDER BY interface").pluck();
  // Network interfaces under their own name: `interfaces` is the flow component's capture interfaces.
  deps.api.registerValues('net_interfaces', () => [...new Set([...ring.interfaceNames(), ...(storedInterfaces.all() as string[])])].sort());
  const storedMounts = deps.store.db.prepare('SELECT DISTINCT mount FROM disk_metrics ORDER BY mount').pluck();
  deps.api.registerValues('mounts', () => [...new Set([...ring.mountNames(), ...(storedMounts.all() as string[])])].sort());
  deps.api.registerComponent('metrics', {
    health: () => {
      const failed = collectors.status().filter((s) => s.state === 'failed');
      if (failed.length > 0) return { state: 'degraded', detail: failed.map((s) => `${s.name}: ${s.detail}`).join('; ') };
      const disabled = collectors.status().filter((s) => s.state === 'disabled');
      return { state: 'ok', detail: disabled.length > 0 ? disabled.map((s) => `${s.name} disabled: ${s.detail}`).join('; ') : `${collectors.enabled.length} collectors` };
    },
    stats: () => {
      const out: Record<string, number> = {
        samples,
        ring_records: ring.size,
        ring_capacity: ring.capacity,
        ring_bytes: ring.bytes,
        ring_overwritten: ring.overwritten,
        ring_out_of_order: ring.outOfOrder,
        series_refused: ring.seriesRefused + persister.seriesRefused + sample.interfaces.overflow + sample.mounts.overflow + sample.cores.overflow,
        windows_persisted: persister.windows,
        rows_dropped: persister.rowsDropped,
        hours_computed: rollups.counters.hoursComputed,
        days_computed: rollups.counters.daysComputed,
        tcp_unreadable_lines: network.badTcpLines,
        statfs_failures: disk.statfsFailures,
      };
      for (const s of collectors.status()) {
        out[`collector_${s.name}_ms`] = Math.round(s.lastDurationMs * 1000) / 1000;
        out[`collector_${s.name}_failures`] = s.failures;
      }
      return out;
    },
  });

  return {
    name: 'metrics',
    ring,
    rollups,
    collectors,
    queryDeps,
    sampleNow,
    start() {
      running = true;
      // Periods that closed while the service was down, before the first new sample.
      rollUp();
      sampleNow();
      scheduleSample();
      scheduleRollup();
    },
    stop() {
      running = false;
      if (sampleTimer) clearTimeout(sampleTimer);
      if (rollupTimer) clearTimeout(rollupTimer);
      sampleTimer = rollupTimer = undefined;
      // The window being filled is written too: a stop loses no sample.
      persister.flush();
      queryDeps.flushWriters();
    },
  };
}
