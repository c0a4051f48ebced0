/**
 * The pattern series of `threat_scores` over a real SQLite file: patterns detected by the real engine (log
 * events) and the real scan detector (connection attempts), queried through the protocol's own normalizer.
 */
import { normalizeQuery, type Frame } from '../protocol';
import { SecurityEngine } from './engine';
import { patternValues, queryThreatScores, seriesGrid } from './queries';
import { ScanDetector } from './scan';
import { ev, openStore, tempDir } from './test-harness';

const tmp = tempDir('netwatch-secq-');
const T = Date.UTC(2025, 2, 27, 13, 0, 0) / 1000;
const BRUTE = '203.0.113.45';
const SCANNER = '198.51.100.66';

describe('patternValues', () => {
  // Points at 0, 60, ..., 300 with a 60 s step: the point at t covers (t - 60, t].
  const times = [0, 60, 120, 180, 240, 300];
  it.each([
    ['an episode counts in every step from its first evidence to one step after its last', [[50, 130]], [0, 1, 1, 1, 0, 0]],
    ['an episode of one instant counts in the one step holding it', [[61, 61]], [0, 0, 1, 0, 0, 0]],
    ['evidence exactly at a point counts in that point, not in the next', [[120, 120]], [0, 0, 1, 0, 0, 0]],
    ['overlapping episodes (two hosts scanned at once) add up', [[0, 200], [100, 150]], [1, 1, 2, 2, 1, 0]],
    ['an episode before the grid that ends within it counts where it was active', [[-500, 10]], [1, 1, 0, 0, 0, 0]],
    ['an episode entirely before the grid counts nowhere', [[-500, -61]], [0, 0, 0, 0, 0, 0]],
    ['an episode after the last point counts nowhere', [[301, 400]], [0, 0, 0, 0, 0, 0]],
  ] as Array<[string, Array<[number, number]>, number[]]>)('%s', (_name, episodes, want) => {
    expect(patternValues(episodes, times, 60)).toEqual(want);
  });

  it('places episodes on a grid that ends within a second (a range ending at now)', () => {
    const { times: grid, stepSec } = seriesGrid(normalizeQuery({ refId: 'A', kind: 'threat_scores', intervalMs: 30_000 }, 0), { fromMs: 1_000_000_123, toMs: 1_000_300_123, nowMs: 1_000_300_123 });
    expect([grid.length, stepSec, grid[0], grid.at(-1)]).toEqual([11, 30, 1_000_000.123, 1_000_300.123]);
    // Evidence at 1_000_030 lies in (1_000_000.123, 1_000_030.123]: the second point.
    expect(patternValues([[1_000_030, 1_000_030]], grid, stepSec)).toEqual([0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  });
});

describe('threat_scores with pattern metrics', () => {
  function setup() {
    const { store, events } = openStore(tmp.file('queries.db'));
    const engine = new SecurityEngine({ store, events, now: () => T * 1000, readSockets: () => [] });
    // A brute force: a failure every 10 s from T to T+90 (the fifth, at T+40, crosses the threshold).
    for (let i = 0; i < 10; i++) {
      const e = ev(T + i * 10, 'failed_password', { ip: BRUTE, user: 'root' });
      events.push(e);
      engine.ingest(e);
    }
    // Port scans of two hosts from one source, 20 closed ports each, at T+120..T+139 and T+130..T+149.
    const detector = new ScanDetector();
    for (const [host, start] of [['192.0.2.10', 120], ['192.0.2.11', 130]] as const) {
      for (let p = 0; p < 20; p++) {
        engine.ingestScanFindings(detector.observe({ src: SCANNER, dst: host, dstPort: 1000 + p, proto: 6, answered: false, timeMs: (T + start + p) * 1000 }));
      }
    }
    engine.flushAll();
    return { store, engine };
  }

  function series(frames: Frame[]): Array<{ name: string | undefined; field: string; labels: unknown; values: unknown[] }> {
    return frames.map((f) => ({ name: f.schema.name, field: f.schema.fields[1].name, labels: f.schema.fields[1].labels, values: f.data.values[1] }));
  }

  const ctx = { fromMs: (T - 60) * 1000, toMs: (T + 240) * 1000, nowMs: (T + 240) * 1000 };
  const run = (db: Parameters<typeof queryThreatScores>[0], q: Record<string, unknown>) => queryThreatScores(db, normalizeQuery({ refId: 'A', kind: 'threat_scores', intervalMs: 30_000, ...q }, 0), ctx, 3600);

  it('counts the detected patterns of each address per step, labelled ip and pattern, on the score series grid', () => {
    const { store } = setup();
    const got = run(store.db, { metric: ['patterns'] });
    // Points at T-60, T-30, ..., T+240, each covering the 30 s before it. The brute force runs from its first
    // failure (T) to its last (T+90): points T..T+90. The scans run T+120..T+139 (points T+120, T+150) and
    // T+130..T+149 (point T+150): two hosts scanned at once in the step ending at T+150.
    expect(series(got)).toEqual([
      { name: `${SCANNER} port_scan`, field: 'port_scan', labels: { ip: SCANNER, pattern: 'port_scan' }, values: [0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0] },
      { name: `${BRUTE} ssh_brute_force`, field: 'ssh_brute_force', labels: { ip: BRUTE, pattern: 'ssh_brute_force' }, values: [0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0] },
    ]);
    const scores = run(store.db, {});
    // Same grid as the score series, so rules may combine them.
    expect(got.map((f) => f.data.values[0])).toEqual([scores[0].data.values[0], scores[0].data.values[0]]);
    store.close();
  });

  it('serves one pattern type by its metric name, both kinds of series in one query, and filters by CIDR', () => {
    const { store } = setup();
    expect(series(run(store.db, { metric: ['ssh_brute_force'] })).map((s) => s.labels)).toEqual([{ ip: BRUTE, pattern: 'ssh_brute_force' }]);
    expect(series(run(store.db, { metric: ['user_enumeration', 'address_scan'] }))).toEqual([]);
    // Score series first, highest first: two scans (100 points, 75 at T+145) outrank ten failures (75 at T+90, decayed since).
    expect(series(run(store.db, { metric: ['threat_score', 'port_scan'] })).map((s) => [s.field, s.labels])).toEqual([
      ['threat_score', { ip: SCANNER }],
      ['threat_score', { ip: BRUTE }],
      ['port_scan', { ip: SCANNER, pattern: 'port_scan' }],
    ]);
    expect(series(run(store.db, { metric: ['patterns'], cidr: ['203.0.113.0/24'] })).map((s) => s.labels)).toEqual([{ ip: BRUTE, pattern: 'ssh_brute_force' }]);
    expect(series(run(store.db, { metric: ['patterns'], limit: 1 })).map((s) => s.labels)).toEqual([{ ip: SCANNER, pattern: 'port_scan' }]);
    store.close();
  });

  it('refuses a metric threat_scores does not have, naming the field', () => {
    expect(() => normalizeQuery({ refId: 'A', kind: 'threat_scores', metric: ['brute_force'] }, 0)).toThrow(
      'unknown metric "brute_force" for threat_scores; expected one of threat_score, ssh_brute_force, user_enumeration, port_scan, address_scan, patterns',
    );
  });
});
