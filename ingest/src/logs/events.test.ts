import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Store } from '../store';
import { createLogEventWriter, type LogEvent } from './events';

describe('the log_events writer', () => {
  let dir = '';
  beforeAll(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'netwatch-events-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const event = (message: string): LogEvent => ({ timestamp: 1_700_000_000, source: 'auth', level: 'info', message });

  it('numbers each event when it is queued, the stored row keeps that id, and a reopened store continues after the largest', () => {
    const file = path.join(dir, 'ids.db');
    let store = Store.open({ path: file });
    let w = createLogEventWriter(store, { flushIntervalMs: 60_000 });
    const a = event('a');
    const b = event('b');
    expect([w.push(a), w.push(b)]).toEqual([true, true]);
    expect([a.id, b.id]).toEqual([1, 2]);
    store.close();

    store = Store.open({ path: file });
    w = createLogEventWriter(store, { flushIntervalMs: 60_000 });
    const c = event('c');
    w.push(c);
    expect(c.id).toBe(3);
    w.flush();
    expect(store.db.prepare('SELECT id, message FROM log_events ORDER BY id').all()).toEqual([
      { id: 1, message: 'a' },
      { id: 2, message: 'b' },
      { id: 3, message: 'c' },
    ]);
    store.close();
  });

  it('leaves an event it dropped (queue full) without an id and does not use that id up', () => {
    const store = Store.open({ path: path.join(dir, 'full.db') });
    const w = createLogEventWriter(store, { flushIntervalMs: 60_000, batchSize: 1, maxQueue: 1 });
    const kept = event('kept');
    const dropped = event('dropped');
    expect([w.push(kept), w.push(dropped)]).toEqual([true, false]);
    expect([kept.id, dropped.id]).toEqual([1, undefined]);
    w.flush();
    const next = event('next');
    w.push(next);
    expect(next.id).toBe(2);
    store.close();
  });
});
