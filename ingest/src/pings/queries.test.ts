import { Store } from '../store';
import { tempDirs } from '../store/test-db';
import { bucketSeconds, listTargets, pingSummaryRows, queryPingSeries, queryPingSummary } from './queries';
import type { ProbeResult, RoundResult } from './round';
import { createPingWriters } from './store';

const tmp = tempDirs();
const T0 = 1_800_000_000; // Unix seconds, a multiple of 10 and 60

const ok = (rttMs: number, ttl: number | null = 64): ProbeResult => ({ rttMs, ttl });
const lost: ProbeResult = { rttMs: null, ttl: null, error: 'timeout' };

function round(ts: number, target: string, probes: ProbeResult[], extra: Partial<RoundResult> = {}): RoundResult {
  const failed = probes.filter((p) => p.rttMs === null).length;
  return { ts, target, kind: 'icmp', address: '192.0.2.1', probes, error: failed ? `${failed} lost` : null, ...extra };
}

describe('ping queries over the store', () => {
  let store: Store;
  beforeAll(() => {
    store = Store.open({ path: tmp.file('pings.db') });
    const w = createPingWriters(store);
    // a: six rounds 10 s apart; medians 10, 20, 30, 40, 50 and one round with nothing back.
    [10, 20, 30, 40, 50].forEach((m, i) => w.write(round(T0 + 10 * i, 'a', [ok(m - 1), ok(m), ok(m + 1)])));
    w.write(round(T0 + 50, 'a', [lost, lost, lost]));
    // b: two rounds, the second with one probe of four lost.
    w.write(round(T0, 'b', [ok(5, 55), ok(7, 55), ok(5, 55), ok(7, 55)]));
    w.write(round(T0 + 10, 'b', [ok(6, 56), lost, ok(8, 56), ok(6, 56)]));
    // web: an HTTPS target with a certificate.
    const http = { statusCode: 200, totalMs: 12, connectMs: 1, tlsHandshakeMs: 3, certDaysLeft: 42, certIssuer: 'CN=R11', tlsVersion: 'TLSv1.3' };
    w.write(round(T0, 'web', [ok(12, null)], { kind: 'https', http }));
    w.write(round(T0 + 10, 'web', [{ rttMs: null, ttl: null, error: 'HTTP 503' }], { kind: 'https', http: { ...http, statusCode: 503, certDaysLeft: 41 }, error: 'HTTP 503' }));
    w.flush();
  });
  afterAll(() => store.close());

  it('stores one pings, one ping_metadata and (HTTP or failed rounds) one ping_probes row per round', () => {
    const rows = (sql: string) => store.db.prepare(sql).raw().all();
    expect(rows("SELECT ts - 1800000000, latency_ms, success FROM pings WHERE target = 'b' ORDER BY ts")).toEqual([
      [0, 6, 1],
      [10, 6, 1],
    ]);
    expect(rows("SELECT ts - 1800000000, ttl, packet_loss, jitter_ms FROM ping_metadata WHERE target = 'b' ORDER BY ts")).toEqual([
      [0, 55, 0, 2],
      [10, 56, 25, 2],
    ]);
    expect(rows('SELECT ts - 1800000000, target, kind, status_code, total_ms, connect_ms, tls_handshake_ms, cert_days_left, cert_issuer, tls_version, error FROM ping_probes ORDER BY target, ts')).toEqual([
      [50, 'a', 'icmp', null, null, null, null, null, null, null, '3 lost'],
      [10, 'b', 'icmp', null, null, null, null, null, null, null, '1 lost'],
      [0, 'web', 'https', 200, 12, 1, 3, 42, 'CN=R11', 'TLSv1.3', null],
      [10, 'web', 'https', 503, 12, 1, 3, 41, 'CN=R11', 'TLSv1.3', 'HTTP 503'],
    ]);
  });

  it('gives one latency series per target, labelled, with gaps where a round got no reply', () => {
    const frames = queryPingSeries(store.db, { fromMs: T0 * 1000, toMs: (T0 + 60) * 1000, targets: ['a'], metrics: ['latency_ms'], aggregate: 'avg' });
    expect(frames).toEqual([
      {
        schema: { name: 'a latency_ms', refId: '', fields: [{ name: 'time', type: 'time' }, { name: 'latency_ms', type: 'number', labels: { target: 'a' }, config: { unit: 'ms' } }] },
        data: { values: [[0, 10, 20, 30, 40, 50].map((s) => (T0 + s) * 1000), [10, 20, 30, 40, 50, null]] },
      },
    ]);
  });

  it('folds rounds into intervals with the asked aggregate, and serves loss, jitter and TTL', () => {
    const q = (metric: 'latency_ms' | 'packet_loss' | 'jitter_ms' | 'ttl', aggregate: 'avg' | 'max') =>
      queryPingSeries(store.db, { fromMs: T0 * 1000, toMs: (T0 + 59) * 1000, targets: [], metrics: [metric], intervalMs: 30_000, aggregate }).map((f) => [f.schema.name, ...f.data.values]);
    expect(q('latency_ms', 'max')).toEqual([
      ['a latency_ms', [T0 * 1000, (T0 + 30) * 1000], [30, 50]],
      ['b latency_ms', [T0 * 1000], [6]],
      ['web latency_ms', [T0 * 1000], [12]],
    ]);
    expect(q('packet_loss', 'avg')).toEqual([
      ['a packet_loss', [T0 * 1000, (T0 + 30) * 1000], [0, 100 / 3]],
      ['b packet_loss', [T0 * 1000], [12.5]],
      ['web packet_loss', [T0 * 1000], [50]],
    ]);
    expect(q('ttl', 'max').map((f) => f.slice(0, 1).concat(f.slice(2)))).toEqual([['a ttl', [64, 64]], ['b ttl', [56]], ['web ttl', [null]]]);
    expect(q('jitter_ms', 'avg')[1]).toEqual(['b jitter_ms', [T0 * 1000], [2]]);
  });

  it('groups several metrics per target, in the order asked', () => {
    const names = queryPingSeries(store.db, { fromMs: T0 * 1000, toMs: (T0 + 60) * 1000, targets: ['b', 'a'], metrics: ['packet_loss', 'latency_ms'], aggregate: 'avg' }).map((f) => f.schema.name);
    expect(names).toEqual(['a packet_loss', 'a latency_ms', 'b packet_loss', 'b latency_ms']);
  });

  it('summarises each target, configured ones without rows included', () => {
    const rows = pingSummaryRows(store.db, T0 * 1000, (T0 + 60) * 1000, [], ['a', 'never']);
    expect(rows).toEqual([
      { target: 'a', avg_ms: 30, min_ms: 10, max_ms: 50, p95_ms: 50, loss: 16.67, jitter_ms: 1, last_success: (T0 + 40) * 1000, ttl: 64, cert_days_left: null, last_error: '3 lost' },
      { target: 'b', avg_ms: 6, min_ms: 6, max_ms: 6, p95_ms: 6, loss: 12.5, jitter_ms: 2, last_success: (T0 + 10) * 1000, ttl: 56, cert_days_left: null, last_error: '1 lost' },
      { target: 'never', avg_ms: null, min_ms: null, max_ms: null, p95_ms: null, loss: null, jitter_ms: null, last_success: null, ttl: null, cert_days_left: null, last_error: null },
      { target: 'web', avg_ms: 12, min_ms: 12, max_ms: 12, p95_ms: 12, loss: 50, jitter_ms: null, last_success: T0 * 1000, ttl: null, cert_days_left: 41, last_error: 'HTTP 503' },
    ]);
  });

  it('looks back before the range for the last success, and filters by target', () => {
    const rows = pingSummaryRows(store.db, (T0 + 45) * 1000, (T0 + 60) * 1000, ['a'], ['a', 'b']);
    expect(rows.map((r) => [r.target, r.avg_ms, r.loss, r.last_success, r.last_error])).toEqual([['a', null, 100, (T0 + 40) * 1000, '3 lost']]);
  });

  it('builds the ping_summary frame with the documented columns', () => {
    const [f] = queryPingSummary(store.db, T0 * 1000, (T0 + 60) * 1000, ['b'], []);
    expect(f.schema.fields.map((x) => `${x.name}:${x.type}`)).toEqual([
      'target:string', 'avg_ms:number', 'min_ms:number', 'max_ms:number', 'p95_ms:number', 'loss:number', 'jitter_ms:number', 'last_success:time', 'ttl:number', 'cert_days_left:number', 'last_error:string',
    ]);
    expect(f.data.values).toEqual([['b'], [6], [6], [6], [6], [12.5], [2], [(T0 + 10) * 1000], [56], [null], ['1 lost']]);
  });

  it('lists stored and configured targets once each, sorted', () => {
    expect(listTargets(store.db, ['zeta', 'a'])).toEqual(['a', 'b', 'web', 'zeta']);
  });

  it('takes the p95 by nearest rank', () => {
    const s = Store.open({ path: tmp.file('p95.db') });
    try {
      const w = createPingWriters(s);
      for (let i = 1; i <= 40; i++) w.write(round(T0 + i, 'p', [ok(i)]));
      w.flush();
      // 40 values: rank ceil(0.95 * 40) = 38.
      expect(pingSummaryRows(s.db, T0 * 1000, (T0 + 100) * 1000, [], [])[0].p95_ms).toBe(38);
    } finally {
      s.close();
    }
  });

  it.each([
    [0, 3_600_000, 15_000, undefined, 15],
    [0, 3_600_000, undefined, 360, 10],
    [0, 3_600_000, undefined, undefined, 1],
    [0, 3_600_000, 100, undefined, 1],
    [0, 30 * 86_400_000, 1000, undefined, 260],
  ])('bucket of %i..%i ms, interval %j, maxDataPoints %j: %i s', (from, to, interval, points, want) => {
    expect(bucketSeconds(from, to, interval, points)).toBe(want);
  });
});
