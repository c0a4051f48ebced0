/**
 * From 1 s samples to SQLite rows: each `resolutionSec` window (aligned to multiples of it, 10 s by default)
 * becomes one system_metrics row, one network_metrics row per interface plus the host total (interface ''), one
 * disk_metrics row per mount and one cpu_metrics row per core.
 * Gauges are the mean of the window's samples; counters are the last value of the window, as the mean of a
 * counter means nothing and its last value keeps every byte accounted for. Byte and count means are rounded.
 *
 * Rows go through BatchWriter.push(): the sampler must never wait on the database.
 */
import type { BatchWriter, WriterHost } from '../store';
import { BatchWriter as Writer } from '../store';
import { NETWORK_METRICS, SYSTEM_METRICS } from '../protocol/kinds';
import { CORE_FIELDS, COUNTER_METRICS, DISK_FIELDS, DISK_METRICS, NET_FIELDS, SYS_FIELDS, type LabelledValues, type Sample } from './sample';

export type MetricsRow = Array<number | string | null>;

/**
 * Byte and count columns (INTEGER in schema.sql) whose means are rounded: a fraction of a byte means nothing.
 * Connection counts keep their fractional mean (SQLite stores it as REAL): 0.4 open connections on average
 * over a window says more than 0.
 */
const INTEGER_COLUMNS = new Set([
  'cpu_count', 'memory_total', 'memory_available', 'disk_total', 'disk_used', 'disk_read_bytes', 'disk_write_bytes',
  'bytes_sent', 'bytes_recv', 'packets_sent', 'packets_recv', 'errin', 'errout', 'dropin', 'dropout',
]);

const SYS_COUNTER = Uint8Array.from(SYSTEM_METRICS, (m) => (COUNTER_METRICS.has(m) ? 1 : 0));
const NET_COUNTER = Uint8Array.from(NETWORK_METRICS, (m) => (COUNTER_METRICS.has(m) ? 1 : 0));
const SYS_INT = Uint8Array.from(SYSTEM_METRICS, (m) => (INTEGER_COLUMNS.has(m) ? 1 : 0));
const NET_INT = Uint8Array.from(NETWORK_METRICS, (m) => (INTEGER_COLUMNS.has(m) ? 1 : 0));
const DISK_COUNTER = Uint8Array.from(DISK_METRICS, (m) => (COUNTER_METRICS.has(m) ? 1 : 0));
const DISK_INT = Uint8Array.from(DISK_METRICS, (m) => (INTEGER_COLUMNS.has(m) ? 1 : 0));
const CORE_COUNTER = new Uint8Array(CORE_FIELDS);
const CORE_INT = new Uint8Array(CORE_FIELDS);

/** Sums, counts and last values of one series over a window. */
class WindowAccumulator {
  readonly sum: Float64Array;
  readonly n: Float64Array;
  readonly last: Float64Array;

  constructor(readonly fields: number) {
    this.sum = new Float64Array(fields);
    this.n = new Float64Array(fields);
    this.last = new Float64Array(fields).fill(NaN);
  }

  reset(): void {
    this.sum.fill(0);
    this.n.fill(0);
    this.last.fill(NaN);
  }

  add(values: Float64Array, offset: number): void {
    for (let i = 0; i < this.fields; i++) {
      const v = values[offset + i];
      if (Number.isNaN(v)) continue;
      this.sum[i] += v;
      this.n[i]++;
      this.last[i] = v;
    }
  }

  /** The row's values after `prefix`; null where the window had no sample. */
  row(prefix: MetricsRow, counter: Uint8Array, integer: Uint8Array): MetricsRow {
    const out = prefix;
    for (let i = 0; i < this.fields; i++) {
      if (this.n[i] === 0) {
        out.push(null);
        continue;
      }
      const v = counter[i] ? this.last[i] : this.sum[i] / this.n[i];
      out.push(integer[i] ? Math.round(v) : v);
    }
    return out;
  }

  get empty(): boolean {
    for (let i = 0; i < this.fields; i++) if (this.n[i] > 0) return false;
    return true;
  }
}

export const SYSTEM_INSERT = `INSERT OR REPLACE INTO system_metrics (ts, ${SYSTEM_METRICS.join(', ')}) VALUES (${['?', ...SYSTEM_METRICS.map(() => '?')].join(', ')})`;
export const NETWORK_INSERT = `INSERT OR REPLACE INTO network_metrics (ts, interface, ${NETWORK_METRICS.join(', ')}) VALUES (${['?', '?', ...NETWORK_METRICS.map(() => '?')].join(', ')})`;
export const DISK_INSERT = `INSERT OR REPLACE INTO disk_metrics (ts, mount, ${DISK_METRICS.join(', ')}) VALUES (${['?', '?', ...DISK_METRICS.map(() => '?')].join(', ')})`;
export const CPU_INSERT = 'INSERT OR REPLACE INTO cpu_metrics (ts, cpu, cpu_percent) VALUES (?, ?, ?)';

export interface MetricsWriters {
  system: BatchWriter<MetricsRow>;
  network: BatchWriter<MetricsRow>;
  disk: BatchWriter<MetricsRow>;
  cpu: BatchWriter<MetricsRow>;
}

/** Every writer, for flushing them all. */
export function flushMetricsWriters(w: MetricsWriters): void {
  w.system.flush();
  w.network.flush();
  w.disk.flush();
  w.cpu.flush();
}

export function createMetricsWriters(host: WriterHost): MetricsWriters {
  // One row per window: a small batch keeps a row's wait in the queue near the writer's flush interval.
  return {
    system: new Writer<MetricsRow>(host, { name: 'system_metrics', sql: SYSTEM_INSERT, toParams: (r) => r, batchSize: 50, maxQueue: 10_000 }),
    network: new Writer<MetricsRow>(host, { name: 'network_metrics', sql: NETWORK_INSERT, toParams: (r) => r, batchSize: 200, maxQueue: 50_000 }),
    disk: new Writer<MetricsRow>(host, { name: 'disk_metrics', sql: DISK_INSERT, toParams: (r) => r, batchSize: 100, maxQueue: 20_000 }),
    cpu: new Writer<MetricsRow>(host, { name: 'cpu_metrics', sql: CPU_INSERT, toParams: (r) => r, batchSize: 500, maxQueue: 100_000 }),
  };
}

/**
 * The windows of one labelled family (interfaces, mounts, cores), at most `max` series: a series new while the
 * family is full waits until one is gone (not seen for a whole window), its samples counted in `refused`.
 */
class FamilyWindows {
  private readonly series = new Map<string, WindowAccumulator>();
  refused = 0;

  constructor(
    private readonly fields: number,
    private readonly max: number,
    private readonly counter: Uint8Array,
    private readonly integer: Uint8Array,
    /** The row's label value from the series name (the cpu column is an integer). */
    private readonly label: (name: string) => string | number = (name) => name,
  ) {}

  add(family: LabelledValues): void {
    for (let i = 0; i < family.count; i++) {
      const name = family.names[i];
      let acc = this.series.get(name);
      if (!acc) {
        if (this.series.size >= this.max) {
          this.refused++;
          continue;
        }
        acc = new WindowAccumulator(this.fields);
        this.series.set(name, acc);
      }
      acc.add(family.values, i * this.fields);
    }
  }

  /** Pushes one row per series with samples; forgets the series without any (gone), which keeps the map bounded. */
  flush(ts: number, push: (row: MetricsRow) => void): void {
    for (const [name, acc] of this.series) {
      if (acc.empty) {
        this.series.delete(name);
        continue;
      }
      push(acc.row([ts, this.label(name)], this.counter, this.integer));
      acc.reset();
    }
  }
}

export class MetricsPersister {
  private windowStart = NaN;
  private readonly sys = new WindowAccumulator(SYS_FIELDS);
  private readonly total = new WindowAccumulator(NET_FIELDS);
  private readonly ifs: FamilyWindows;
  private readonly mounts: FamilyWindows;
  private readonly cores: FamilyWindows;
  /** Windows written, and rows the writers refused (queue full). */
  windows = 0;
  rowsDropped = 0;

  constructor(
    private readonly writers: MetricsWriters,
    readonly resolutionSec: number,
    limits: { maxInterfaces: number; maxMounts: number; maxCpus: number },
  ) {
    if (!Number.isInteger(resolutionSec) || resolutionSec < 1) throw new Error(`persist resolution must be a whole number of seconds >= 1, got ${resolutionSec}`);
    this.ifs = new FamilyWindows(NET_FIELDS, limits.maxInterfaces, NET_COUNTER, NET_INT);
    this.mounts = new FamilyWindows(DISK_FIELDS, limits.maxMounts, DISK_COUNTER, DISK_INT);
    this.cores = new FamilyWindows(CORE_FIELDS, limits.maxCpus, CORE_COUNTER, CORE_INT, Number);
  }

  /** Samples of series left out because their family was full. */
  get seriesRefused(): number {
    return this.ifs.refused + this.mounts.refused + this.cores.refused;
  }

  /** Start (Unix seconds) of the window being filled; samples from it on are not in SQLite yet. */
  get pendingFromSec(): number {
    return this.windowStart;
  }

  add(s: Sample): void {
    const sec = Math.floor(s.tsMs / 1000);
    const w = sec - (sec % this.resolutionSec);
    if (w !== this.windowStart) {
      this.flush();
      this.windowStart = w;
    }
    this.sys.add(s.sys, 0);
    this.total.add(s.netTotal, 0);
    this.ifs.add(s.interfaces);
    this.mounts.add(s.mounts);
    this.cores.add(s.cores);
  }

  /** Writes the window being filled (at a window change, and at stop so nothing buffered is lost). */
  flush(): void {
    if (Number.isNaN(this.windowStart)) return;
    const ts = this.windowStart;
    let any = false;
    if (!this.sys.empty) {
      this.push(this.writers.system, this.sys.row([ts], SYS_COUNTER, SYS_INT));
      any = true;
    }
    if (!this.total.empty) {
      this.push(this.writers.network, this.total.row([ts, ''], NET_COUNTER, NET_INT));
      any = true;
    }
    this.ifs.flush(ts, (row) => this.push(this.writers.network, row));
    this.mounts.flush(ts, (row) => this.push(this.writers.disk, row));
    this.cores.flush(ts, (row) => this.push(this.writers.cpu, row));
    if (any) this.windows++;
    this.sys.reset();
    this.total.reset();
    this.windowStart = NaN;
  }

  private push(w: BatchWriter<MetricsRow>, row: MetricsRow): void {
    if (!w.push(row)) this.rowsDropped++;
  }
}
