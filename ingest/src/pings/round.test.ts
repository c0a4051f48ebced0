import { probesError, summarizeRound, type ProbeResult } from './round';

const ok = (rttMs: number, ttl: number | null = 64): ProbeResult => ({ rttMs, ttl });
const lost = (error = 'timeout'): ProbeResult => ({ rttMs: null, ttl: null, error });

describe('summarizeRound', () => {
  it.each([
    ['all replied, odd count: median is the middle RTT', [ok(1), ok(3), ok(2), ok(5), ok(4)], { latencyMs: 3, success: true, packetLoss: 0, jitterMs: (2 + 1 + 3 + 1) / 4, ttl: 64 }],
    ['even count: median is the mean of the middle two', [ok(1), ok(4), ok(2), ok(10)], { latencyMs: 3, success: true, packetLoss: 0, jitterMs: (3 + 2 + 8) / 3, ttl: 64 }],
    ['lost probes count in loss, jitter is over consecutive replies', [ok(2), lost(), ok(6), lost(), ok(4)], { latencyMs: 4, success: true, packetLoss: 40, jitterMs: (4 + 2) / 2, ttl: 64 }],
    ['one reply: no jitter', [lost(), ok(7, 55)], { latencyMs: 7, success: true, packetLoss: 50, jitterMs: null, ttl: 55 }],
    ['nothing replied', [lost(), lost(), lost()], { latencyMs: null, success: false, packetLoss: 100, jitterMs: null, ttl: null }],
    ['TTL of the last reply that has one', [ok(1, 60), ok(1, 61), ok(1, null)], { latencyMs: 1, success: true, packetLoss: 0, jitterMs: 0, ttl: 61 }],
  ])('%s', (_name, probes, want) => {
    expect(summarizeRound(probes)).toEqual(want);
  });
});

describe('probesError', () => {
  it.each([
    [[ok(1), ok(2)], null],
    [[lost('connect: ECONNREFUSED'), lost('connect: ECONNREFUSED')], 'connect: ECONNREFUSED'],
    [[ok(1), lost('timeout'), ok(1)], '1 of 3 probes failed: timeout'],
    [[{ rttMs: null, ttl: null }], 'no reply'],
  ])('%j -> %j', (probes, want) => {
    expect(probesError(probes)).toEqual(want);
  });
});
