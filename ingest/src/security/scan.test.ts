import { ScanDetector, type ConnectionAttempt, type ScanFinding } from './scan';

const T = Date.UTC(2025, 0, 1);
const SCANNER = '203.0.113.7';

function attempt(dst: string, dstPort: number, tSec: number, answered = false, src = SCANNER): ConnectionAttempt {
  return { src, dst, dstPort, proto: 6, answered, timeMs: T + tSec * 1000, flowKey: `tcp ${src}:40000 > ${dst}:${dstPort}` };
}

/** Feeds attempts; returns every finding reported, as (type, target, distinct, isNew) at the moment it was reported. */
function run(d: ScanDetector, attempts: ConnectionAttempt[]): Array<{ type: string; target: string | number | undefined; distinct: number; isNew: boolean; at: number }> {
  const out: Array<{ type: string; target: string | number | undefined; distinct: number; isNew: boolean; at: number }> = [];
  attempts.forEach((a, i) => {
    for (const f of d.observe(a)) out.push({ type: f.type, target: f.dst ?? f.port, distinct: f.distinct, isNew: f.isNew, at: i });
  });
  return out;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('ScanDetector', () => {
  it.each([
    ['15 refused ports of one host are not a port scan (Zeek: more than 15)', range(15).map((i) => attempt('192.0.2.10', 1000 + i, i)), []],
    [
      'the 16th distinct failed port of one host within 5 minutes is a port scan',
      range(16).map((i) => attempt('192.0.2.10', 1000 + i, i)),
      [{ type: 'port_scan', target: '192.0.2.10', distinct: 16, isNew: true, at: 15 }],
    ],
    ['25 hosts failed on one port are not a sweep (Zeek: more than 25)', range(25).map((i) => attempt(`192.0.2.${i + 1}`, 22, i)), []],
    [
      'the 26th distinct host failed on one port is an address scan',
      range(26).map((i) => attempt(`192.0.2.${i + 1}`, 22, i)),
      [{ type: 'address_scan', target: 22, distinct: 26, isNew: true, at: 25 }],
    ],
    ['answered connections to 100 ports of one host are not a scan', range(100).map((i) => attempt('192.0.2.10', 1000 + i, i, true)), []],
    ['16 ports at 30 s intervals never put more than 11 in one 5-minute window', range(16).map((i) => attempt('192.0.2.10', 1000 + i, i * 30)), []],
    ['repeated failures on the same 15 ports stay 15 distinct ports', range(60).map((i) => attempt('192.0.2.10', 1000 + (i % 15), i)), []],
    ['16 ports spread over 16 hosts are neither a port scan nor a sweep', range(16).map((i) => attempt(`192.0.2.${i + 1}`, 1000 + i, i)), []],
  ])('%s', (_name, attempts, want) => {
    expect(run(new ScanDetector(), attempts)).toEqual(want);
  });

  it('reports an episode once, updates it while the scan goes on, and starts a new one after a quiet window', () => {
    const d = new ScanDetector();
    const first = range(20).map((i) => attempt('192.0.2.10', 1000 + i, i));
    const later = range(16).map((i) => attempt('192.0.2.10', 2000 + i, 1000 + i));
    const got: ScanFinding[] = [];
    for (const a of [...first, ...later]) got.push(...d.observe(a));
    const episodes = [...new Set(got)];
    expect(episodes.map((f) => ({ type: f.type, dst: f.dst, episode: f.episode, distinct: f.distinct, attempts: f.attempts, firstMs: f.firstMs - T, lastMs: f.lastMs - T }))).toEqual([
      { type: 'port_scan', dst: '192.0.2.10', episode: 1, distinct: 20, attempts: 20, firstMs: 0, lastMs: 19_000 },
      { type: 'port_scan', dst: '192.0.2.10', episode: 2, distinct: 16, attempts: 16, firstMs: 1_000_000, lastMs: 1_015_000 },
    ]);
    expect(episodes[0].targets).toEqual(range(20).map((i) => 1000 + i));
    expect(episodes[0].flowKeys.slice(0, 2)).toEqual(['tcp 203.0.113.7:40000 > 192.0.2.10:1000', 'tcp 203.0.113.7:40000 > 192.0.2.10:1001']);
    expect(d.counters()).toMatchObject({ attempts: 36, failedAttempts: 36, findings: 2, updates: 4 });
  });

  it('keeps at most maxSources scanners and counts the ones it forgets', () => {
    const d = new ScanDetector({ maxSources: 2 });
    for (const src of ['198.51.100.1', '198.51.100.2', '198.51.100.3']) d.observe(attempt('192.0.2.1', 1, 0, false, src));
    expect(d.counters()).toMatchObject({ sourcesTracked: 2, sourceEvictions: 1 });
  });

  it('bounds the ports it remembers per host while still seeing the threshold crossed', () => {
    const d = new ScanDetector();
    const found = run(d, range(5000).map((i) => attempt('192.0.2.10', i + 1, i / 100)));
    expect(found.filter((f) => f.isNew)).toEqual([{ type: 'port_scan', target: '192.0.2.10', distinct: 16, isNew: true, at: 15 }]);
    expect(d.counters().targetEvictions).toBeGreaterThan(0);
  });

  it('refuses thresholds below 1', () => {
    expect(() => new ScanDetector({ portThreshold: 0 })).toThrow(RangeError);
  });
});
