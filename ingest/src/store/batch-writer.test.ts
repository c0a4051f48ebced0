import Database from 'better-sqlite3';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { BatchWriter, type BatchWriterOptions } from './batch-writer';
import { StoreError } from './errors';
import { Store } from './store';
import { count, recordingLogger, tempDirs } from './test-db';

const tmp = tempDirs();

interface Ping {
  ts: number;
  target: string | null;
  latencyMs: number | null;
  success: boolean;
}

const PING_SQL = 'INSERT OR REPLACE INTO pings (ts, target, latency_ms, success) VALUES (?, ?, ?, ?)';
const pingParams = (p: Ping) => [p.ts, p.target, p.latencyMs, p.success ? 1 : 0];

function pings(n: number, target = '192.0.2.1', from = 1): Ping[] {
  return Array.from({ length: n }, (_, i) => ({ ts: from + i, target, latencyMs: 0.5 + i, success: true }));
}

function pingWriter(store: Store, opts: Partial<BatchWriterOptions<Ping>> = {}): BatchWriter<Ping> {
  return new BatchWriter<Ping>(store, { name: 'pings', sql: PING_SQL, toParams: pingParams, ...opts });
}

async function until(cond: () => boolean, timeoutMs = 2000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(5);
  }
}

describe('BatchWriter', () => {
  let store: Store;
  let logger: ReturnType<typeof recordingLogger>;
  beforeEach(() => {
    logger = recordingLogger();
    store = Store.open({ path: tmp.file('writer.db'), logger });
    logger.records.length = 0;
  });
  afterEach(() => store.close());

  it('flushes on the next turn once batchSize rows are queued, never inside push()', async () => {
    const w = pingWriter(store, { batchSize: 100, flushIntervalMs: 60_000 });
    for (const p of pings(99)) w.push(p);
    await nextTurn();
    expect(count(store.db, 'pings')).toBe(0);

    for (const p of pings(151, '192.0.2.1', 100)) w.push(p);
    expect(count(store.db, 'pings')).toBe(0);
    expect(w.counters().queued).toBe(250);
    await nextTurn();
    expect(count(store.db, 'pings')).toBe(250);
    expect(w.counters()).toMatchObject({ queued: 0, written: 250, flushes: 1, dropped: 0, errors: 0 });
  });

  it('flushes a partial batch after flushIntervalMs', async () => {
    const w = pingWriter(store, { batchSize: 500, flushIntervalMs: 40 });
    const started = Date.now();
    for (const p of pings(10)) w.push(p);
    await nextTurn();
    expect(count(store.db, 'pings')).toBe(0);
    await until(() => count(store.db, 'pings') === 10);
    expect(Date.now() - started).toBeGreaterThanOrEqual(30);
    expect(w.counters()).toMatchObject({ written: 10, flushes: 1 });
  });

  it('writes a flush inside one transaction and returns the rows written', () => {
    const inTransaction: boolean[] = [];
    const w = pingWriter(store, {
      flushIntervalMs: 60_000,
      toParams: (p) => {
        inTransaction.push(store.db.inTransaction);
        return pingParams(p);
      },
    });
    for (const p of pings(300)) w.push(p);
    expect(count(store.db, 'pings')).toBe(0);
    expect(w.flush()).toBe(300);
    expect(inTransaction).toEqual(Array(300).fill(true));
    expect(w.counters()).toMatchObject({ written: 300, flushes: 1, queued: 0 });
    expect(w.counters().lastFlushMs).toBeGreaterThan(0);
    expect(w.flush()).toBe(0);
    expect(w.counters().flushes).toBe(1);
  });

  it('flushes the writers named in flushFirst before its own rows, so foreign keys find their rows', () => {
    const events = new BatchWriter<number>(store, { name: 'events', sql: "INSERT INTO log_events (id, timestamp, source) VALUES (?, 0, 'auth')", toParams: (id) => [id], flushIntervalMs: 60_000 });
    const sql = 'INSERT INTO event_traces (event_id, timestamp) VALUES (?, 0)';
    const unordered = new BatchWriter<number>(store, { name: 'unordered', sql, toParams: (id) => [id], flushIntervalMs: 60_000 });
    const traces = new BatchWriter<number>(store, { name: 'traces', sql, toParams: (id) => [id], flushIntervalMs: 60_000, flushFirst: [events] });
    events.push(1);
    unordered.push(1);
    expect(unordered.flush()).toBe(0);
    expect(unordered.counters()).toMatchObject({ errors: 1, written: 0 });
    events.push(2);
    traces.push(2);
    expect(traces.flush()).toBe(1);
    expect(store.db.prepare('SELECT event_id FROM event_traces').pluck().all()).toEqual([2]);
    expect(events.counters()).toMatchObject({ written: 2, queued: 0 });
  });

  it('refuses push() when the queue is full and counts the dropped rows', () => {
    const w = pingWriter(store, { batchSize: 10, maxQueue: 10, flushIntervalMs: 60_000 });
    const accepted = pings(15).map((p) => w.push(p));
    expect(accepted).toEqual([...Array(10).fill(true), ...Array(5).fill(false)]);
    expect(w.counters()).toMatchObject({ queued: 10, dropped: 5 });
    w.flush();
    expect(store.db.prepare('SELECT min(ts), max(ts) FROM pings').raw().get()).toEqual([1, 10]);
  });

  it('paces many concurrent producers with write(): every row written, none dropped, the queue never over its bound', async () => {
    const w = pingWriter(store, { maxQueue: 1000, flushIntervalMs: 60_000 });
    let maxSeen = 0;
    let refused = 0;
    const producer = async (k: number) => {
      for (let i = 0; i < 5000; i++) {
        if (!(await w.write({ ts: i, target: `10.0.0.${k}`, latencyMs: i / 10, success: true }))) refused++;
        if (i % 97 === 0) maxSeen = Math.max(maxSeen, w.counters().queued);
      }
    };
    await Promise.all(Array.from({ length: 20 }, (_, k) => producer(k)));
    w.flush();
    expect(refused).toBe(0);
    expect(maxSeen).toBeLessThanOrEqual(1000);
    expect(maxSeen).toBeGreaterThan(500);
    expect(count(store.db, 'pings')).toBe(100_000);
    expect(store.db.prepare('SELECT count(DISTINCT target) FROM pings').pluck().get()).toBe(20);
    expect(w.counters()).toMatchObject({ written: 100_000, dropped: 0, errors: 0, queued: 0, waiting: 0 });
  });

  it('skips the rows the database rejects, counts them and writes their neighbours', async () => {
    const w = pingWriter(store, { batchSize: 6, flushIntervalMs: 60_000 });
    const rows: Ping[] = pings(6);
    rows[2] = { ...rows[2], target: null }; // NOT NULL constraint
    const poison = { ...rows[4] };
    Object.defineProperty(poison, 'ts', { get: () => { throw new Error('bad row'); } }); // toParams throws
    rows[4] = poison;
    for (const r of rows) w.push(r);
    await nextTurn();
    expect(store.db.prepare('SELECT ts FROM pings ORDER BY ts').pluck().all()).toEqual([1, 2, 4, 6]);
    expect(w.counters()).toMatchObject({ written: 4, errors: 2, flushes: 1, failedFlushes: 0, queued: 0 });
    expect(logger.records).toEqual([
      { level: 'warn', obj: { writer: 'pings', rejected: 2, written: 4, err: 'NOT NULL constraint failed: pings.target' }, msg: 'batch writer skipped rows the database rejected' },
    ]);
  });

  it('keeps a batch the database refuses as a whole (locked) and writes it once the lock is gone', () => {
    const file = tmp.file('busy.db');
    const busyStore = Store.open({ path: file, busyTimeoutMs: 0, logger });
    const other = new Database(file);
    logger.records.length = 0;
    try {
      const w = pingWriter(busyStore, { flushIntervalMs: 60_000 });
      for (const p of pings(20)) w.push(p);
      other.exec('BEGIN IMMEDIATE');
      expect(w.flush()).toBe(0);
      expect(w.counters()).toMatchObject({ queued: 20, written: 0, failedFlushes: 1, errors: 0, dropped: 0 });
      other.exec('COMMIT');
      expect(w.flush()).toBe(20);
      expect(w.counters()).toMatchObject({ queued: 0, written: 20, failedFlushes: 1, flushes: 1 });
      expect(logger.records.map((r) => [r.level, r.msg])).toEqual([
        ['error', 'batch writer flush failed, rows kept for retry'],
        ['info', 'batch writer is writing again'],
      ]);
    } finally {
      other.close();
      busyStore.close();
    }
  });

  it('drops a write() that waited writeTimeoutMs for room, and counts it', async () => {
    const file = tmp.file('stuck.db');
    const stuckStore = Store.open({ path: file, busyTimeoutMs: 0, logger });
    const other = new Database(file);
    try {
      const w = pingWriter(stuckStore, { batchSize: 5, maxQueue: 5, flushIntervalMs: 10, writeTimeoutMs: 60 });
      other.exec('BEGIN IMMEDIATE'); // every flush fails: the queue stays full
      for (const p of pings(5)) expect(await w.write(p)).toBe(true);
      const started = Date.now();
      const late = w.write(pings(1, '192.0.2.9')[0]);
      expect(w.counters().waiting).toBe(1);
      expect(await late).toBe(false);
      expect(Date.now() - started).toBeGreaterThanOrEqual(50);
      expect(w.counters()).toMatchObject({ queued: 5, waiting: 0, dropped: 1, written: 0 });
      expect(w.counters().failedFlushes).toBeGreaterThanOrEqual(1);
      other.exec('COMMIT');
      await until(() => w.counters().written === 5);
      expect(stuckStore.db.prepare('SELECT ts FROM pings ORDER BY ts').pluck().all()).toEqual([1, 2, 3, 4, 5]);
    } finally {
      other.close();
      stuckStore.close();
    }
  });

  it('stop() writes the queue and the rows waiting in write(), then refuses rows', async () => {
    const w = pingWriter(store, { batchSize: 10, maxQueue: 10, flushIntervalMs: 60_000 });
    for (const p of pings(10)) w.push(p);
    const waiting = pings(5, '192.0.2.2').map((p) => w.write(p));
    expect(w.counters()).toMatchObject({ queued: 10, waiting: 5 });
    w.stop();
    expect(await Promise.all(waiting)).toEqual([true, true, true, true, true]);
    expect(count(store.db, 'pings')).toBe(15);
    expect(w.push(pings(1, 'late')[0])).toBe(false);
    expect(await w.write(pings(1, 'late')[0])).toBe(false);
    expect(w.counters()).toMatchObject({ written: 15, dropped: 2, queued: 0, waiting: 0 });
  });

  it('rejects a bad statement, a bad configuration and a duplicate name when created', () => {
    expect(() => new BatchWriter(store, { name: 'x', sql: 'INSERT INTO nowhere VALUES (?)', toParams: () => [1] })).toThrow(/no such table: nowhere/);
    expect(() => pingWriter(store, { batchSize: 1000, maxQueue: 10 })).toThrow(new StoreError('NETWATCH_ERR_STORE_CONFIG', 'batch writer pings: maxQueue must be an integer >= batchSize (1000), got 10'));
    expect(() => pingWriter(store, { batchSize: 0 })).toThrow(/batchSize must be a positive integer/);
    pingWriter(store);
    expect(() => pingWriter(store)).toThrow(/a writer named pings already exists/);
  });
});
