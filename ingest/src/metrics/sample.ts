/**
 * One collection round's values, as fixed-layout typed arrays that collectors fill in place and the ring buffer
 * copies: no object per round, no string key per value. A value not collected this round is NaN (a collector
 * disabled or failed), which the ring, the persister and the queries all read as "no sample".
 *
 * Field order follows the protocol's metric lists (protocol/kinds.ts), so a metric name maps to its column by
 * index and the SQLite columns carry the same names.
 */
import { CAPTURE_METRICS, NETWORK_METRICS, SYSTEM_METRICS } from '../protocol/kinds';

export type SystemMetric = (typeof SYSTEM_METRICS)[number];
export type NetworkMetric = (typeof NETWORK_METRICS)[number];

export const SYS_FIELDS = SYSTEM_METRICS.length;
export const NET_FIELDS = NETWORK_METRICS.length;

export const SYS = Object.fromEntries(SYSTEM_METRICS.map((m, i) => [m, i])) as Record<SystemMetric, number>;
export const NET = Object.fromEntries(NETWORK_METRICS.map((m, i) => [m, i])) as Record<NetworkMetric, number>;

/** Per mount: the disk metrics that have a mount label. */
export const DISK_METRICS = ['disk_total', 'disk_used', 'disk_percent', 'disk_read_bytes', 'disk_write_bytes'] as const;
export type DiskMetric = (typeof DISK_METRICS)[number];
export const DISK_FIELDS = DISK_METRICS.length;
export const DISK = Object.fromEntries(DISK_METRICS.map((m, i) => [m, i])) as Record<DiskMetric, number>;

/** Per CPU core: its busy percent (the field of cpu_metrics; served as metric cpu_percent_core). */
export const CORE_FIELDS = 1;
export const CORE_PERCENT = 0;

/** The flow component's counters (design 000's capture self-metrics); kept in the ring, not in SQLite. */
export { CAPTURE_METRICS };
export type CaptureMetric = (typeof CAPTURE_METRICS)[number];
export const CAPTURE_FIELDS = CAPTURE_METRICS.length;
export const CAP = Object.fromEntries(CAPTURE_METRICS.map((m, i) => [m, i])) as Record<CaptureMetric, number>;

/**
 * Metrics that are counters (cumulative since boot, wrap-extended): stored as counters, served as per-second
 * rates. Everything else is a gauge.
 */
export const COUNTER_METRICS: ReadonlySet<string> = new Set([
  'disk_read_bytes',
  'disk_write_bytes',
  'bytes_sent',
  'bytes_recv',
  'packets_sent',
  'packets_recv',
  'errin',
  'errout',
  'dropin',
  'dropout',
  'capture_packets',
  'capture_bytes',
  'capture_dropped',
  'capture_errors',
]);

/** Bounds of the labelled series of one round; beyond them a series is counted and left out. */
export interface SampleLimits {
  maxInterfaces: number;
  maxMounts: number;
  /** CPU cores with a series of their own (the host total counts every core whatever this is). */
  maxCpus: number;
}

export const DEFAULT_SAMPLE_LIMITS: Readonly<SampleLimits> = { maxInterfaces: 64, maxMounts: 32, maxCpus: 256 };

/** A labelled family (interfaces, mounts): names and values side by side, reused round after round. */
export class LabelledValues {
  readonly names: string[] = [];
  readonly values: Float64Array;
  count = 0;
  /** Series refused this round because the family was full. */
  overflow = 0;

  constructor(
    readonly fields: number,
    readonly max: number,
  ) {
    this.values = new Float64Array(fields * max);
  }

  clear(): void {
    this.count = 0;
    this.overflow = 0;
  }

  /** The offset of a new series' values (all NaN), or -1 when the family is full (counted in overflow). */
  add(name: string): number {
    if (this.count >= this.max) {
      this.overflow++;
      return -1;
    }
    const i = this.count++;
    this.names[i] = name;
    const base = i * this.fields;
    this.values.fill(NaN, base, base + this.fields);
    return base;
  }

  indexOf(name: string): number {
    for (let i = 0; i < this.count; i++) if (this.names[i] === name) return i;
    return -1;
  }
}

export class Sample {
  /** Epoch ms of the round. */
  tsMs = 0;
  readonly sys = new Float64Array(SYS_FIELDS);
  /** Host-wide network: the total over the counted interfaces, and the TCP connection states. */
  readonly netTotal = new Float64Array(NET_FIELDS);
  readonly capture = new Float64Array(CAPTURE_FIELDS);
  readonly interfaces: LabelledValues;
  readonly mounts: LabelledValues;
  /** Named by the core's number ("0", "1", …). */
  readonly cores: LabelledValues;

  constructor(limits: SampleLimits = DEFAULT_SAMPLE_LIMITS) {
    this.interfaces = new LabelledValues(NET_FIELDS, limits.maxInterfaces);
    this.mounts = new LabelledValues(DISK_FIELDS, limits.maxMounts);
    this.cores = new LabelledValues(CORE_FIELDS, limits.maxCpus);
    this.clear(0);
  }

  clear(tsMs: number): void {
    this.tsMs = tsMs;
    this.sys.fill(NaN);
    this.netTotal.fill(NaN);
    this.capture.fill(NaN);
    this.interfaces.clear();
    this.mounts.clear();
    this.cores.clear();
  }
}
