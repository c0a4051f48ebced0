/**
 * The plugin's own metrics, served to Grafana by Diagnostics.CollectMetrics as Prometheus text (Grafana
 * exposes them at /metrics/plugins/<id>). A small registry rather than prom-client: the plugin bundle carries
 * no dependency it does not need. Label values come from fixed sets (method names, kinds, outcomes), never
 * from a query, a URL or a data source name.
 */
type Labels = Record<string, string>;

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function labelText(labels: Labels): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return '';
  return `{${keys.map((k) => `${k}="${escapeLabel(labels[k])}"`).join(',')}}`;
}

function num(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

interface Metric {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  render(): string[];
}

export class Counter<L extends string = string> implements Metric {
  readonly type = 'counter';
  private readonly values = new Map<string, { labels: Labels; v: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly L[] = [],
  ) {}

  inc(labels: Record<L, string> = {} as Record<L, string>, by = 1): void {
    const key = this.labelNames.map((n) => labels[n]).join('\u0000');
    const cur = this.values.get(key);
    if (cur) cur.v += by;
    else this.values.set(key, { labels: { ...labels }, v: by });
  }

  get(labels: Record<L, string> = {} as Record<L, string>): number {
    return this.values.get(this.labelNames.map((n) => labels[n]).join('\u0000'))?.v ?? 0;
  }

  render(): string[] {
    if (this.values.size === 0 && this.labelNames.length === 0) return [`${this.name} 0`];
    return [...this.values.values()].map(({ labels, v }) => `${this.name}${labelText(labels)} ${num(v)}`);
  }
}

/** A value read when the metrics are collected; `counter` for a monotonic one kept elsewhere (CPU time). */
export class Gauge implements Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly read: () => number,
    readonly type: 'gauge' | 'counter' = 'gauge',
  ) {}

  render(): string[] {
    return [`${this.name} ${num(this.read())}`];
  }
}

export class Histogram<L extends string = string> implements Metric {
  readonly type = 'histogram';
  private readonly series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly L[],
    readonly buckets: readonly number[],
  ) {}

  observe(labels: Record<L, string>, v: number): void {
    const key = this.labelNames.map((n) => labels[n]).join('\u0000');
    let s = this.series.get(key);
    if (!s) {
      s = { labels: { ...labels }, counts: new Array<number>(this.buckets.length).fill(0), sum: 0, count: 0 };
      this.series.set(key, s);
    }
    for (let i = 0; i < this.buckets.length; i++) if (v <= this.buckets[i]) s.counts[i]++;
    s.sum += v;
    s.count++;
  }

  render(): string[] {
    const out: string[] = [];
    for (const { labels, counts, sum, count } of this.series.values()) {
      this.buckets.forEach((b, i) => out.push(`${this.name}_bucket${labelText({ ...labels, le: num(b) })} ${counts[i]}`));
      out.push(`${this.name}_bucket${labelText({ ...labels, le: '+Inf' })} ${count}`);
      out.push(`${this.name}_sum${labelText(labels)} ${num(sum)}`);
      out.push(`${this.name}_count${labelText(labels)} ${count}`);
    }
    return out;
  }
}

export class MetricsRegistry {
  private readonly metrics: Metric[] = [];

  register<M extends Metric>(m: M): M {
    if (this.metrics.some((x) => x.name === m.name)) throw new Error(`metric ${m.name} registered twice`);
    this.metrics.push(m);
    return m;
  }

  /** Prometheus text exposition format 0.0.4. */
  render(): string {
    const lines: string[] = [];
    for (const m of this.metrics) {
      lines.push(`# HELP ${m.name} ${m.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`);
      lines.push(`# TYPE ${m.name} ${m.type}`);
      lines.push(...m.render());
    }
    return `${lines.join('\n')}\n`;
  }
}

const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Every metric the plugin reports. */
export function createPluginMetrics(startedAtMs = Date.now()) {
  const registry = new MetricsRegistry();
  return {
    registry,
    grpcRequests: registry.register(new Counter('netwatch_plugin_grpc_requests_total', 'gRPC calls from Grafana by method and gRPC status', ['method', 'code'] as const)),
    grpcDuration: registry.register(new Histogram('netwatch_plugin_grpc_request_duration_seconds', 'Time to answer a gRPC call from Grafana', ['method'] as const, DURATION_BUCKETS)),
    queries: registry.register(
      new Counter('netwatch_plugin_queries_total', 'Data queries by kind, outcome (ok, plugin_error, downstream_error) and origin (dashboard, alert)', ['kind', 'outcome', 'origin'] as const),
    ),
    ingestRequests: registry.register(new Counter('netwatch_plugin_ingest_requests_total', 'HTTP requests to the ingest service by route and result', ['route', 'result'] as const)),
    ingestDuration: registry.register(new Histogram('netwatch_plugin_ingest_request_duration_seconds', 'Latency of HTTP requests to the ingest service', ['route'] as const, DURATION_BUCKETS)),
    stageDuration: registry.register(
      new Histogram('netwatch_plugin_query_stage_duration_seconds', 'QueryData time by stage: decode (reading the ingest answer), encode (frames to Arrow or JSON)', ['stage'] as const, DURATION_BUCKETS),
    ),
    ingestAnswers: registry.register(
      new Counter('netwatch_plugin_ingest_query_answers_total', 'Query answers of the ingest service by representation: arrow (frames passed through) or json (an older ingest service, or the JSON frame format; re-encoded here)', ['format'] as const),
    ),
    frames: registry.register(new Counter('netwatch_plugin_frames_total', 'Data frames returned to Grafana')),
    frameBytes: registry.register(new Counter('netwatch_plugin_frame_bytes_total', 'Bytes of encoded frames returned to Grafana')),
    clientsBuilt: registry.register(new Counter('netwatch_plugin_ingest_clients_built_total', 'Ingest clients built: first use of a data source, or its settings changed (lastUpdatedMS)')),
    clientsEvicted: registry.register(new Counter('netwatch_plugin_ingest_clients_evicted_total', 'Ingest clients dropped because the cache was full (least recently used first)')),
    clientsCached: (read: () => number) => registry.register(new Gauge('netwatch_plugin_ingest_clients', 'Ingest clients in the cache, one per data source', read)),
    process: [
      registry.register(new Gauge('process_start_time_seconds', 'Start time of the process since the Unix epoch in seconds', () => Math.floor(startedAtMs / 1000))),
      registry.register(new Gauge('process_cpu_seconds_total', 'User and system CPU time spent in seconds', () => {
        const u = process.cpuUsage();
        return (u.user + u.system) / 1e6;
      }, 'counter')),
      registry.register(new Gauge('process_resident_memory_bytes', 'Resident memory size in bytes', () => process.memoryUsage.rss())),
      registry.register(new Gauge('nodejs_heap_used_bytes', 'V8 heap in use in bytes', () => process.memoryUsage().heapUsed)),
    ],
  };
}

export type PluginMetrics = ReturnType<typeof createPluginMetrics>;
