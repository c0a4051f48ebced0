import { chooseSource, stepFor } from './queries';
import { MetricsRing } from './ring';
import { Sample } from './sample';

const NOW = Date.UTC(2026, 10, 22, 12, 0, 0);
const DAY = 86_400_000;

function ringFrom(oldestMs: number, capacity = 3600): MetricsRing {
  const r = new MetricsRing({ capacity, maxInterfaces: 1, maxMounts: 1, maxCpus: 1 });
  const s = new Sample({ maxInterfaces: 1, maxMounts: 1, maxCpus: 1 });
  for (let t = oldestMs; t <= NOW && r.size < capacity; t += 1000) {
    s.clear(t);
    r.push(s);
  }
  return r;
}

describe('chooseSource', () => {
  const retention = { rawSec: 7 * 86_400, hourlySec: 90 * 86_400 };
  const full = ringFrom(NOW - 3_599_000);
  const young = ringFrom(NOW - 600_000);
  it.each([
    ['"last 1 hour" on a full ring', full, NOW - 3_600_000, 'ring'],
    ['the last 5 minutes', full, NOW - 300_000, 'ring'],
    ['the last hour, 10 minutes after a start (older rows are in SQLite)', young, NOW - 3_600_000, 'raw'],
    ['the last 2 days', full, NOW - 2 * DAY, 'raw'],
    ['the last 7 days', full, NOW - 7 * DAY, 'raw'],
    ['the last 30 days', full, NOW - 30 * DAY, 'hourly'],
    ['the last 90 days', full, NOW - 90 * DAY, 'hourly'],
    ['the last year', full, NOW - 365 * DAY, 'daily'],
    ['any range with an empty ring', new MetricsRing({ capacity: 10, maxInterfaces: 1, maxMounts: 1, maxCpus: 1 }), NOW - 60_000, 'raw'],
  ])('%s', (_name, ring, fromMs, want) => {
    expect(chooseSource({ ring, retention }, fromMs, NOW)).toBe(want);
  });
});

describe('stepFor', () => {
  it.each([
    ['the interval asked for, as a multiple of the resolution', { intervalMs: 25_000 }, 0, DAY, 10_000, 30_000],
    ['never finer than the source', { intervalMs: 1000 }, 0, DAY, 3_600_000, 3_600_000],
    ['range / maxDataPoints without an interval', { maxDataPoints: 100 }, 0, 1_000_000, 1000, 10_000],
    ['range / 1000 without either', {}, 0, 3_600_000, 1000, 4000],
    ['at most 11 000 steps', { intervalMs: 1 }, 0, 11_000_000 * 3, 1000, 3000],
  ])('%s', (_name, q, from, to, res, want) => {
    expect(stepFor(q, from, to, res)).toBe(want);
  });
});
