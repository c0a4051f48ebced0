/**
 * Collectors after node_exporter: one small collector per /proc source, registered by name and enabled by
 * `--collectors`; every round reports each one's duration and success on /metrics
 * (netwatch_metrics_collector_duration_seconds / _success, labelled by collector name only).
 */
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Sample } from './sample';

export interface Collector {
  readonly name: string;
  /** Reads its sources and fills its fields of the sample; throws when a source cannot be read or parsed. */
  update(sample: Sample): void;
  /** Set when the collector cannot run in this process (e.g. no capture): it is skipped and reported disabled. */
  disabledReason?(): string | undefined;
}

/** Where collectors read; tests point it at fixture files, containers at the host's /proc. */
export interface HostPaths {
  proc: string;
  sys: string;
}

export const DEFAULT_HOST_PATHS: Readonly<HostPaths> = { proc: '/proc', sys: '/sys' };

/** /proc files are read whole in one read(2); latin1 since they are ASCII and it is the cheapest decoding. */
export function readProcText(path: string): string {
  return readFileSync(path, 'latin1');
}

/** A reusable read buffer and the length of its content. */
export interface ProcBuffer {
  buf: Buffer;
  len: number;
}

/** Largest /proc file read into a ProcBuffer: 64 MiB is about 430k sockets in /proc/net/tcp. */
const MAX_PROC_BUFFER = 64 * 1024 * 1024;

/**
 * Reads a whole /proc file into `into`'s buffer (grown, doubling, when the file does not fit), without a
 * string. /proc files report size 0, so it reads until read(2) returns 0.
 */
export function readProcInto(path: string, into: ProcBuffer): ProcBuffer {
  let { buf } = into;
  let len = 0;
  const fd = openSync(path, 'r');
  try {
    for (;;) {
      if (len === buf.length) {
        if (buf.length >= MAX_PROC_BUFFER) throw new Error(`${path}: larger than ${MAX_PROC_BUFFER} bytes`);
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, 0, len);
        buf = bigger;
      }
      const n = readSync(fd, buf, len, buf.length - len, null);
      if (n === 0) break;
      len += n;
    }
  } finally {
    closeSync(fd);
  }
  return { buf, len };
}

export interface CollectorState {
  name: string;
  state: 'ok' | 'failed' | 'disabled';
  detail?: string;
  lastDurationMs: number;
  failures: number;
}

export interface CollectorLogger {
  warn(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
}

export class UnknownCollectorError extends Error {}

export class CollectorRegistry {
  readonly enabled: readonly Collector[];
  private readonly states: CollectorState[];
  private readonly duration?: Gauge<'collector'>;
  private readonly success?: Gauge<'collector'>;
  private readonly errors?: Counter<'collector'>;

  /** Throws UnknownCollectorError for a name in `enable` that no collector has. */
  constructor(
    available: readonly Collector[],
    enable: readonly string[],
    private readonly logger?: CollectorLogger,
    metrics?: Registry,
  ) {
    const byName = new Map(available.map((c) => [c.name, c]));
    for (const n of enable) {
      if (!byName.has(n)) throw new UnknownCollectorError(`unknown collector "${n}" (available: ${[...byName.keys()].join(', ')})`);
    }
    const want = new Set(enable);
    this.enabled = available.filter((c) => want.has(c.name));
    this.states = this.enabled.map((c) => ({ name: c.name, state: 'ok', lastDurationMs: 0, failures: 0 }));
    if (metrics) {
      this.duration = new Gauge({
        name: 'netwatch_metrics_collector_duration_seconds',
        help: 'Duration of the last run of each host metrics collector',
        labelNames: ['collector'],
        registers: [metrics],
      });
      this.success = new Gauge({
        name: 'netwatch_metrics_collector_success',
        help: 'Whether the last run of each host metrics collector succeeded (1) or failed or is disabled (0)',
        labelNames: ['collector'],
        registers: [metrics],
      });
      this.errors = new Counter({
        name: 'netwatch_metrics_collector_errors_total',
        help: 'Failed runs of each host metrics collector',
        labelNames: ['collector'],
        registers: [metrics],
      });
    }
  }

  /** One round: every enabled collector in turn; a failing one leaves its fields NaN and the others run. */
  collect(sample: Sample): void {
    for (let i = 0; i < this.enabled.length; i++) {
      const c = this.enabled[i];
      const st = this.states[i];
      const disabled = c.disabledReason?.();
      if (disabled !== undefined) {
        if (st.state !== 'disabled') this.logger?.info({ collector: c.name, reason: disabled }, 'metrics collector disabled');
        st.state = 'disabled';
        st.detail = disabled;
        this.success?.set({ collector: c.name }, 0);
        continue;
      }
      const t0 = performance.now();
      try {
        c.update(sample);
        st.lastDurationMs = performance.now() - t0;
        if (st.state === 'failed') this.logger?.info({ collector: c.name }, 'metrics collector works again');
        st.state = 'ok';
        st.detail = undefined;
        this.success?.set({ collector: c.name }, 1);
      } catch (err) {
        st.lastDurationMs = performance.now() - t0;
        st.failures++;
        const detail = err instanceof Error ? err.message : String(err);
        // Logged when it starts failing, not every second while it goes on.
        if (st.state !== 'failed') this.logger?.warn({ collector: c.name, err: detail }, 'metrics collector failed');
        st.state = 'failed';
        st.detail = detail;
        this.success?.set({ collector: c.name }, 0);
        this.errors?.inc({ collector: c.name });
      }
      this.duration?.set({ collector: c.name }, st.lastDurationMs / 1000);
    }
  }

  status(): CollectorState[] {
    return this.states.map((s) => ({ ...s }));
  }
}
