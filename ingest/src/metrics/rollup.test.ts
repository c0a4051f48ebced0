import { Store } from '../store';
import { Rollups, utcDay } from './rollup';
import { tempStorePath } from './test-fixtures';

const DAY0 = Date.UTC(2026, 10, 22) / 1000;
const H = 3600;

/** xorshift32, so the rows are varied but the same at every run. */
function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

interface SysRow {
  ts: number;
  cpu: number | null;
  mem: number;
  disk: number;
  load: number;
}

/** 10 s rows from..to (seconds); the first row's cpu is NULL as at a real start. Network counters grow by 1000 + noise. */
function fill(store: Store, from: number, to: number, seed = 1, nullFirstCpu = true): { sys: SysRow[]; net: Array<[number, number, number]> } {
  const r = rng(seed);
  const sys: SysRow[] = [];
  const net: Array<[number, number, number]> = [];
  let sent = 1e9;
  let recv = 5e9;
  const insS = store.db.prepare('INSERT INTO system_metrics (ts, cpu_percent, memory_percent, disk_percent, load_1) VALUES (?, ?, ?, ?, ?)');
  const insN = store.db.prepare("INSERT INTO network_metrics (ts, interface, bytes_sent, bytes_recv) VALUES (?, '', ?, ?)");
  store.db.transaction(() => {
    for (let ts = from; ts < to; ts += 10) {
      const row: SysRow = { ts, cpu: ts === from && nullFirstCpu ? null : Math.round(r() * 10000) / 100, mem: 30 + r() * 40, disk: 20 + r(), load: r() * 4 };
      sys.push(row);
      insS.run(row.ts, row.cpu, row.mem, row.disk, row.load);
      sent += 1000 + Math.floor(r() * 100);
      recv += 5000 + Math.floor(r() * 100);
      net.push([ts, sent, recv]);
      insN.run(ts, sent, recv);
    }
  })();
  return { sys, net };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const max = (xs: number[]) => Math.max(...xs);
const min = (xs: number[]) => Math.min(...xs);

function expected(sys: SysRow[], from: number, to: number) {
  const rows = sys.filter((s) => s.ts >= from && s.ts < to);
  const cpu = rows.map((s) => s.cpu).filter((c): c is number => c !== null);
  return {
    samples: rows.length,
    cpu_avg: mean(cpu),
    cpu_max: max(cpu),
    memory_avg: mean(rows.map((s) => s.mem)),
    memory_max: max(rows.map((s) => s.mem)),
    disk_percent_max: max(rows.map((s) => s.disk)),
    load_1_avg: mean(rows.map((s) => s.load)),
    load_1_max: max(rows.map((s) => s.load)),
    cpu_min: min(cpu),
    memory_min: min(rows.map((s) => s.mem)),
    load_1_min: min(rows.map((s) => s.load)),
  };
}

function close(got: Record<string, unknown>, want: Record<string, number>): void {
  for (const [k, v] of Object.entries(want)) expect([k, got[k] as number]).toEqual([k, expect.closeTo(v, 9)]);
}

describe('Rollups', () => {
  const file = tempStorePath();

  it('stores hours whose averages, minima and maxima equal those of the rows they cover, and the bytes counted in them', () => {
    const store = Store.open({ path: file() });
    const { sys, net } = fill(store, DAY0, DAY0 + 3 * H);
    const rollups = new Rollups(store);
    const a = rollups.storeHour(DAY0 + H, DAY0 + 4 * H)!;
    close(a as unknown as Record<string, unknown>, expected(sys, DAY0 + H, DAY0 + 2 * H));
    // Bytes of the hour: last counter of the hour minus the last one before it.
    const lastBefore = net.filter(([ts]) => ts < DAY0 + H).at(-1)!;
    const lastIn = net.filter(([ts]) => ts < DAY0 + 2 * H).at(-1)!;
    expect([a.network_bytes_sent, a.network_bytes_recv]).toEqual([lastIn[1] - lastBefore[1], lastIn[2] - lastBefore[2]]);
    const stored = store.db.prepare('SELECT * FROM hourly_aggregates WHERE hour_timestamp = ?').get(DAY0 + H) as Record<string, unknown>;
    close(stored, expected(sys, DAY0 + H, DAY0 + 2 * H));
    expect(stored).toMatchObject({ samples: 360, network_bytes_sent: a.network_bytes_sent, log_events_total: 0, log_event_counts: '{}', computed_at: DAY0 + 4 * H });
    store.close();
  });

  it('counts a counter reset as growth by its new value, and nothing across a gap longer than 5 minutes', () => {
    const store = Store.open({ path: file() });
    const ins = store.db.prepare("INSERT INTO network_metrics (ts, interface, bytes_sent, bytes_recv) VALUES (?, '', ?, ?)");
    // 100 -> 300 (+200), reboot: 300 -> 50 (+50), 50 -> 80 (+30), then a 10-minute gap, 80 -> 5080 (not counted), -> 5100 (+20).
    for (const [ts, v] of [[0, 100], [10, 300], [20, 50], [30, 80], [630, 5080], [640, 5100]]) ins.run(DAY0 + ts, v, v);
    const a = new Rollups(store).compute(DAY0, DAY0 + H);
    expect([a.network_bytes_sent, a.network_bytes_recv]).toEqual([300, 300]);
    store.close();
  });

  it('counts log events by action and, per day, the distinct IPs and users', () => {
    const store = Store.open({ path: file() });
    const ins = store.db.prepare("INSERT INTO log_events (timestamp, source, level, message, ip, user, action) VALUES (?, 'auth', 'warning', 'm', ?, ?, ?)");
    const events: Array<[number, string | null, string | null, string | null]> = [
      [DAY0 + 5, '203.0.113.9', 'root', 'failed_password'],
      [DAY0 + 6, '203.0.113.9', 'admin', 'failed_password'],
      [DAY0 + 7, '198.51.100.1', 'root', 'invalid_user'],
      [DAY0 + 8, null, null, null],
      [DAY0 + H + 1, '198.51.100.2', '', 'f2b_ban'],
      [DAY0 + 86_400 + 1, '192.0.2.1', 'bob', 'failed_password'],
    ];
    for (const e of events) ins.run(...e);
    const rollups = new Rollups(store);
    expect(rollups.compute(DAY0, DAY0 + H)).toMatchObject({ log_events_total: 4, log_event_counts: { failed_password: 2, invalid_user: 1, other: 1 } });
    expect(rollups.computeDay(DAY0)).toMatchObject({ log_events_total: 5, unique_ips: 3, unique_users: 2, log_event_counts: { f2b_ban: 1, failed_password: 2, invalid_user: 1, other: 1 } });
    store.close();
  });

  it('catches up every closed hour and day missed while down, then only the new ones; running it again changes nothing', () => {
    const store = Store.open({ path: file() });
    const { sys } = fill(store, DAY0 + 20 * H, DAY0 + 26 * H, 7);
    const rollups = new Rollups(store);
    const now = DAY0 + 26 * H + 60;
    expect(rollups.catchUp(now, 90 * 86_400)).toEqual({ hours: 6, days: 1 });
    const hours = () => store.db.prepare('SELECT hour_timestamp FROM hourly_aggregates ORDER BY 1').pluck().all();
    expect(hours()).toEqual([20, 21, 22, 23, 24, 25].map((h) => DAY0 + h * H));
    const day = store.db.prepare('SELECT * FROM daily_aggregates').all() as Array<Record<string, unknown>>;
    expect(day.map((d) => d.date)).toEqual([utcDay(DAY0)]);
    close(day[0], expected(sys, DAY0, DAY0 + 86_400));
    const snapshot = () => (store.db.prepare("SELECT * FROM hourly_aggregates ORDER BY hour_timestamp").raw().all() as unknown[][]).map((r) => r.slice(1));
    const before = snapshot();
    expect(rollups.catchUp(now, 90 * 86_400)).toEqual({ hours: 0, days: 0 });
    // Recomputing a stored hour (as an overlapping catch-up would) replaces it with the same values.
    rollups.storeHour(DAY0 + 21 * H, now);
    expect(snapshot()).toEqual(before);
    fill(store, DAY0 + 26 * H, DAY0 + 27 * H, 8);
    expect(rollups.catchUp(DAY0 + 27 * H + 30, 90 * 86_400)).toEqual({ hours: 1, days: 0 });
    expect(hours()).toHaveLength(7);
    store.close();
  });

  // Hours are weighted by their row count: exact when every row has every metric, as here.
  it('rolls a day up from its hourly aggregates, weighted by samples, once its raw rows are gone', () => {
    const store = Store.open({ path: file() });
    const { sys } = fill(store, DAY0, DAY0 + 3 * H, 3, false);
    const rollups = new Rollups(store);
    for (let h = 0; h < 3; h++) rollups.storeHour(DAY0 + h * H, DAY0 + 4 * H);
    const fromRaw = rollups.computeDay(DAY0);
    store.db.exec('DELETE FROM system_metrics; DELETE FROM network_metrics');
    const fromHourly = rollups.computeDay(DAY0);
    close(fromHourly as unknown as Record<string, unknown>, expected(sys, DAY0, DAY0 + 3 * H));
    expect([fromHourly.samples, fromHourly.network_bytes_sent]).toEqual([fromRaw.samples, fromRaw.network_bytes_sent]);
    store.close();
  });
});
