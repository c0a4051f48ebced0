import { THREAT_WEIGHTS, addPoints, decayScore, pointsFromScore, scoreFromPoints, threatScore, type ThreatCounters } from './score';

describe('threatScore', () => {
  // Expected values from score = 100 * (1 - 2^(-points / 50)), worked by hand in the comments.
  const cases: Array<[string, ThreatCounters, number]> = [
    ['nothing against an address scores 0', { failures: 0 }, 0],
    ["fail2ban's maxretry (5 failures, 50 points) scores 50", { failures: 5 }, 50],
    ['ten failures (100 points) score 75', { failures: 10 }, 75],
    ['twelve failures (120 points) cross 80: 100 * (1 - 2^-2.4)', { failures: 12 }, 81.1],
    ['a ban seen alone (40 points): 100 * (1 - 2^-0.8)', { failures: 0, bans: 1 }, 42.6],
    ['a ban with the five failures behind it (90 points): 100 * (1 - 2^-1.8)', { failures: 5, bans: 1 }, 71.3],
    ['one scan (50 points) weighs as five failures', { failures: 0, scans: 1 }, 50],
    ['an invalid user adds 10 points to its failure: 2 failures + 2 invalid users = 40 points', { failures: 2, invalidUsers: 2 }, 42.6],
    ['an accepted login after two typos halves 100 * (1 - 2^-0.4) = 24.2', { failures: 2, accepted: 1 }, 12.1],
    ['two accepted logins halve twice', { failures: 2, accepted: 2 }, 6.1],
    ['an accepted login after five failures is a possible compromise: 80 points', { failures: 5, accepted: 1 }, 67],
    ['an accepted login alone changes nothing from 0', { failures: 0, accepted: 3 }, 0],
    ['evidence saturates at 100, never above', { failures: 1000, scans: 100, bans: 100 }, 100],
  ];
  it.each(cases)('%s', (_name, counters, want) => {
    expect(threatScore(counters)).toEqual(want);
  });

  it('never lowers the score when evidence other than logins is added', () => {
    const keys = ['failures', 'invalidUsers', 'bans', 'scans'] as const;
    for (let f = 0; f < 8; f++) {
      for (let i = 0; i < 4; i++) {
        const base: ThreatCounters = { failures: f, invalidUsers: i, bans: f % 2, scans: i % 2 };
        const s = threatScore(base);
        for (const k of keys) expect(threatScore({ ...base, [k]: (base[k] ?? 0) + 1 })).toBeGreaterThan(s);
      }
    }
  });

  it.each([
    [{ failures: -1 }, 'failures'],
    [{ failures: 1, bans: Number.NaN }, 'bans'],
    [{ failures: 1, scans: Infinity }, 'scans'],
  ])('refuses a bad counter %j with a RangeError naming it', (counters, name) => {
    expect(() => threatScore(counters as ThreatCounters)).toThrow(new RangeError(`threat counter ${name} must be a finite number >= 0, got ${(counters as Record<string, number>)[name]}`));
  });
});

describe('the score curve', () => {
  it('maps points to score and back', () => {
    for (const p of [0.5, 10, 50, 77.7, 200]) expect(pointsFromScore(scoreFromPoints(p))).toBeCloseTo(p, 9);
    expect([pointsFromScore(0), pointsFromScore(100), scoreFromPoints(0), scoreFromPoints(-5)]).toEqual([0, Infinity, 0, 0]);
  });

  it('gives the same score for evidence added one event at a time as for the total', () => {
    let s = 0;
    for (let i = 0; i < 7; i++) s = addPoints(s, THREAT_WEIGHTS.failure);
    s = addPoints(s, THREAT_WEIGHTS.ban);
    expect(s).toBeCloseTo(scoreFromPoints(7 * THREAT_WEIGHTS.failure + THREAT_WEIGHTS.ban), 9);
  });
});

describe('decayScore', () => {
  const H = 3600;
  it.each([
    ['halves after one half-life', 80, H, 40],
    ['quarters after two', 80, 2 * H, 20],
    ['loses 1 - 2^-0.5 after half a half-life', 80, H / 2, 80 / Math.SQRT2],
    ['is unchanged after no time', 80, 0, 80],
    ['is not raised by a negative elapsed time (an out-of-order event)', 80, -H, 80],
    ['stays 0 from 0', 0, H, 0],
  ])('%s', (_name, score, elapsed, want) => {
    expect(decayScore(score, elapsed, H)).toBeCloseTo(want, 9);
  });

  it('drops everything at once with a zero half-life', () => {
    expect(decayScore(80, 1, 0)).toBe(0);
  });

  it('composes: decaying twice by t equals decaying once by 2t', () => {
    expect(decayScore(decayScore(64, 1000, H), 1000, H)).toBeCloseTo(decayScore(64, 2000, H), 9);
  });
});
