/**
 * Hourly and daily aggregates: CPU, memory and load average, minimum and maximum, the highest disk use, network byte
 * totals, log event counts by type, and per day the distinct IPs and users seen in log events.
 *
 * A period is computed once it has closed (plus a grace for the last rows to reach SQLite) and, at start, for
 * every closed period since the last one stored (the service was down, or a period closed while it stopped).
 * Computing a period again replaces its row with the same values (INSERT OR REPLACE on the UNIQUE period
 * key), so catch-up may overlap without harm. Both tables are written through their own BatchWriter, flushed at
 * once so a day sees the hours computed just before it.
 */
import type Database from 'better-sqlite3';
import { BatchWriter, type Store } from '../store';

const HOUR = 3600;
const DAY = 86_400;

/**
 * Two rows of the total network counters further apart than this are a gap (the service was down): what was
 * counted across it is not attributed to the period after it.
 */
export const MAX_COUNTER_GAP_SEC = 300;

/** What one period holds; null where it had no samples of the metric. */
export interface PeriodAggregate {
  samples: number;
  cpu_avg: number | null;
  cpu_max: number | null;
  memory_avg: number | null;
  memory_max: number | null;
  disk_percent_max: number | null;
  load_1_avg: number | null;
  load_1_max: number | null;
  cpu_min: number | null;
  memory_min: number | null;
  load_1_min: number | null;
  network_bytes_sent: number;
  network_bytes_recv: number;
  log_events_total: number;
  log_event_counts: Record<string, number>;
}

export interface DailyAggregate extends PeriodAggregate {
  unique_ips: number;
  unique_users: number;
}

const AGG_COLUMNS = [
  'samples', 'cpu_avg', 'cpu_max', 'memory_avg', 'memory_max', 'disk_percent_max', 'load_1_avg', 'load_1_max',
  'network_bytes_sent', 'network_bytes_recv', 'log_events_total', 'log_event_counts', 'cpu_min', 'memory_min', 'load_1_min',
] as const;

type Row = Array<number | string | null>;

export interface RollupCounters {
  hoursComputed: number;
  daysComputed: number;
  lastHour: number | null;
  lastDay: string | null;
}

export function utcDay(sec: number): string {
  return new Date(sec * 1000).toISOString().slice(0, 10);
}

export class Rollups {
  private readonly db: Database.Database;
  private readonly hourly: BatchWriter<Row>;
  private readonly daily: BatchWriter<Row>;
  private readonly stmts: Record<string, Database.Statement>;
  readonly counters: RollupCounters = { hoursComputed: 0, daysComputed: 0, lastHour: null, lastDay: null };

  constructor(store: Store) {
    this.db = store.db;
    const cols = AGG_COLUMNS.join(', ');
    const qs = (n: number) => Array.from({ length: n }, () => '?').join(', ');
    this.hourly = new BatchWriter<Row>(store, {
      name: 'hourly_aggregates',
      sql: `INSERT OR REPLACE INTO hourly_aggregates (hour_timestamp, ${cols}, computed_at) VALUES (${qs(AGG_COLUMNS.length + 2)})`,
      toParams: (r) => r,
      batchSize: 100,
      maxQueue: 10_000,
    });
    this.daily = new BatchWriter<Row>(store, {
      name: 'daily_aggregates',
      sql: `INSERT OR REPLACE INTO daily_aggregates (date, ${cols}, unique_ips, unique_users, computed_at) VALUES (${qs(AGG_COLUMNS.length + 4)})`,
      toParams: (r) => r,
      batchSize: 100,
      maxQueue: 10_000,
    });
    const p = (sql: string) => this.db.prepare(sql);
    this.stmts = {
      system: p(`SELECT count(*) AS samples, avg(cpu_percent) AS cpu_avg, max(cpu_percent) AS cpu_max, avg(memory_percent) AS memory_avg,
        max(memory_percent) AS memory_max, max(disk_percent) AS disk_percent_max, avg(load_1) AS load_1_avg, max(load_1) AS load_1_max,
        min(cpu_percent) AS cpu_min, min(memory_percent) AS memory_min, min(load_1) AS load_1_min
        FROM system_metrics WHERE ts >= ? AND ts < ?`),
      network: p(`SELECT ts, bytes_sent, bytes_recv FROM network_metrics WHERE interface = '' AND ts >= ? AND ts < ? ORDER BY ts`),
      logCounts: p(`SELECT coalesce(action, 'other') AS type, count(*) AS n FROM log_events WHERE timestamp >= ? AND timestamp < ? GROUP BY type ORDER BY type`),
      uniques: p(`SELECT count(DISTINCT nullif(ip, '')) AS ips, count(DISTINCT nullif(user, '')) AS users FROM log_events WHERE timestamp >= ? AND timestamp < ?`),
      fromHourly: p(`SELECT sum(samples) AS samples, sum(cpu_avg * samples) / sum(CASE WHEN cpu_avg IS NULL THEN 0 ELSE samples END) AS cpu_avg,
        max(cpu_max) AS cpu_max, sum(memory_avg * samples) / sum(CASE WHEN memory_avg IS NULL THEN 0 ELSE samples END) AS memory_avg,
        max(memory_max) AS memory_max, max(disk_percent_max) AS disk_percent_max,
        sum(load_1_avg * samples) / sum(CASE WHEN load_1_avg IS NULL THEN 0 ELSE samples END) AS load_1_avg, max(load_1_max) AS load_1_max,
        min(cpu_min) AS cpu_min, min(memory_min) AS memory_min, min(load_1_min) AS load_1_min,
        coalesce(sum(network_bytes_sent), 0) AS network_bytes_sent, coalesce(sum(network_bytes_recv), 0) AS network_bytes_recv
        FROM hourly_aggregates WHERE hour_timestamp >= ? AND hour_timestamp < ?`),
      lastHour: p('SELECT max(hour_timestamp) FROM hourly_aggregates').pluck(),
      lastDay: p('SELECT max(date) FROM daily_aggregates').pluck(),
      minSystem: p('SELECT min(ts) FROM system_metrics').pluck(),
      minNetwork: p("SELECT min(ts) FROM network_metrics WHERE interface = ''").pluck(),
      minLogs: p('SELECT min(timestamp) FROM log_events').pluck(),
      minHourly: p('SELECT min(hour_timestamp) FROM hourly_aggregates').pluck(),
    };
  }

  /** The aggregate of [fromSec, toSec) over the raw rows and log events; not stored. */
  compute(fromSec: number, toSec: number): PeriodAggregate {
    const s = this.stmts.system.get(fromSec, toSec) as Omit<PeriodAggregate, 'network_bytes_sent' | 'network_bytes_recv' | 'log_events_total' | 'log_event_counts'>;
    const [sent, recv] = this.networkTotals(fromSec, toSec);
    const counts: Record<string, number> = {};
    let total = 0;
    for (const r of this.stmts.logCounts.all(fromSec, toSec) as Array<{ type: string; n: number }>) {
      counts[r.type] = r.n;
      total += r.n;
    }
    return { ...s, network_bytes_sent: sent, network_bytes_recv: recv, log_events_total: total, log_event_counts: counts };
  }

  /**
   * A UTC day: from raw rows while they exist, else from its hourly aggregates, weighted by their row counts (the
   * same means, exactly so where every row has every metric; a row missing one, as the first after a start has no
   * cpu_percent, shifts that hour's weight by one row in 360).
   */
  computeDay(dayStartSec: number): DailyAggregate {
    const end = dayStartSec + DAY;
    let agg = this.compute(dayStartSec, end);
    if (agg.samples === 0) {
      const h = this.stmts.fromHourly.get(dayStartSec, end) as Partial<PeriodAggregate> & { samples: number | null };
      if (h.samples) agg = { ...agg, ...h, samples: h.samples } as PeriodAggregate;
    }
    const u = this.stmts.uniques.get(dayStartSec, end) as { ips: number; users: number };
    return { ...agg, unique_ips: u.ips, unique_users: u.users };
  }

  /** Computes and stores one hour; returns what it stored, or undefined for an hour with no data at all. */
  storeHour(hourSec: number, nowSec: number): PeriodAggregate | undefined {
    const a = this.compute(hourSec, hourSec + HOUR);
    if (a.samples === 0 && a.log_events_total === 0 && a.network_bytes_sent === 0 && a.network_bytes_recv === 0) return undefined;
    this.hourly.push([hourSec, ...aggValues(a), Math.floor(nowSec)]);
    this.hourly.flush();
    this.counters.hoursComputed++;
    this.counters.lastHour = hourSec;
    return a;
  }

  storeDay(dayStartSec: number, nowSec: number): DailyAggregate | undefined {
    const a = this.computeDay(dayStartSec);
    if (a.samples === 0 && a.log_events_total === 0 && a.network_bytes_sent === 0 && a.network_bytes_recv === 0) return undefined;
    const date = utcDay(dayStartSec);
    this.daily.push([date, ...aggValues(a), a.unique_ips, a.unique_users, Math.floor(nowSec)]);
    this.daily.flush();
    this.counters.daysComputed++;
    this.counters.lastDay = date;
    return a;
  }

  /**
   * Every closed hour and day not stored yet, oldest first, back to the oldest data still within `lookbackSec`
   * (the hourly retention: older periods would be deleted again at once). Returns the periods stored.
   */
  catchUp(nowSec: number, lookbackSec: number): { hours: number; days: number } {
    const lastClosedHour = Math.floor(nowSec / HOUR) * HOUR - HOUR;
    const lastClosedDay = Math.floor(nowSec / DAY) * DAY - DAY;
    const floor = nowSec - lookbackSec;
    const mins = [this.stmts.minSystem.get(), this.stmts.minNetwork.get(), this.stmts.minLogs.get()].filter((v): v is number => typeof v === 'number');
    let hours = 0;
    let days = 0;
    if (mins.length > 0) {
      const oldest = Math.max(Math.min(...mins), floor);
      const last = this.stmts.lastHour.get() as number | null;
      const from = Math.max(Math.floor(oldest / HOUR) * HOUR, last === null ? -Infinity : last + HOUR);
      for (let h = from; h <= lastClosedHour; h += HOUR) if (this.storeHour(h, nowSec)) hours++;
    }
    const minHourly = this.stmts.minHourly.get() as number | null;
    const dayMins = [...mins, ...(minHourly === null ? [] : [minHourly])];
    if (dayMins.length > 0) {
      const oldest = Math.max(Math.min(...dayMins), floor);
      const lastDay = this.stmts.lastDay.get() as string | null;
      const afterLast = lastDay === null ? -Infinity : Date.parse(`${lastDay}T00:00:00Z`) / 1000 + DAY;
      const from = Math.max(Math.floor(oldest / DAY) * DAY, afterLast);
      for (let d = from; d <= lastClosedDay; d += DAY) if (this.storeDay(d, nowSec)) days++;
    }
    return { hours, days };
  }

  /**
   * Bytes sent and received over all interfaces in [from, to): the growth of the total counters between
   * consecutive rows, the row before `from` included so the first window of the period is counted. A counter
   * that went back restarted from zero (a reboot): it grew by its new value, as Prometheus' increase() reads it.
   */
  private networkTotals(fromSec: number, toSec: number): [number, number] {
    const rows = this.stmts.network.raw().all(fromSec - MAX_COUNTER_GAP_SEC, toSec) as Array<[number, number | null, number | null]>;
    let sent = 0;
    let recv = 0;
    for (let i = 1; i < rows.length; i++) {
      const [ts, s, r] = rows[i];
      const [pts, ps, pr] = rows[i - 1];
      if (ts < fromSec || ts - pts > MAX_COUNTER_GAP_SEC) continue;
      if (s !== null && ps !== null) sent += s >= ps ? s - ps : s;
      if (r !== null && pr !== null) recv += r >= pr ? r - pr : r;
    }
    return [sent, recv];
  }
}

function aggValues(a: PeriodAggregate): Row {
  return [
    a.samples, a.cpu_avg, a.cpu_max, a.memory_avg, a.memory_max, a.disk_percent_max, a.load_1_avg, a.load_1_max,
    a.network_bytes_sent, a.network_bytes_recv, a.log_events_total, JSON.stringify(a.log_event_counts), a.cpu_min, a.memory_min, a.load_1_min,
  ];
}
