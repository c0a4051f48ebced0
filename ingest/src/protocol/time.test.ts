import { caught } from '../testing/errors';
import { parseTime, parseTimeRange } from './time';

const NOW = Date.UTC(2026, 10, 22, 12, 0, 0); // 2026-11-22T12:00:00Z
const EXPECTED = 'expected epoch milliseconds, an RFC 3339 date-time (2026-11-22T10:00:00Z) or now[-<n><s|m|h|d|w>]';

describe('parseTime', () => {
  it.each([
    [0, 0],
    [1_700_000_000_000, 1_700_000_000_000],
    [1_700_000_000_000.5, 1_700_000_000_000.5],
    [8.64e15, 8.64e15],
    ['1700000000000', 1_700_000_000_000],
    [' 1700000000000 ', 1_700_000_000_000],
    ['0', 0],
    ['now', NOW],
    ['now-30s', NOW - 30_000],
    ['now-15m', NOW - 15 * 60_000],
    ['now-1h', NOW - 3_600_000],
    ['now-7d', NOW - 7 * 86_400_000],
    ['now-2w', NOW - 14 * 86_400_000],
    ['now+1h', NOW + 3_600_000],
    ['now-0s', NOW],
    ['2026-11-22T10:00:00Z', Date.UTC(2026, 10, 22, 10)],
    ['2026-11-22t10:00:00z', Date.UTC(2026, 10, 22, 10)],
    ['2026-11-22 10:00:00Z', Date.UTC(2026, 10, 22, 10)],
    ['2026-11-22T10:00:00.123Z', Date.UTC(2026, 10, 22, 10, 0, 0, 123)],
    ['2026-11-22T10:00:00.57Z', Date.UTC(2026, 10, 22, 10, 0, 0, 570)],
    ['2026-11-22T10:00:00.5Z', Date.UTC(2026, 10, 22, 10, 0, 0, 500)],
    ['2026-11-22T10:00:00.123456789Z', Date.UTC(2026, 10, 22, 10, 0, 0, 123)],
    ['2026-11-22T10:00:00+02:00', Date.UTC(2026, 10, 22, 8)],
    ['2026-11-22T10:00:00-05:30', Date.UTC(2026, 10, 22, 15, 30)],
    ['2026-11-22T10:00:00-00:00', Date.UTC(2026, 10, 22, 10)],
    ['2026-11-22T00:30:00+01:00', Date.UTC(2026, 10, 21, 23, 30)],
    ['2028-02-29T00:00:00Z', Date.UTC(2028, 1, 29)],
    ['2016-12-31T23:59:60Z', Date.UTC(2017, 0, 1)],
    ['1970-01-01T00:00:00Z', 0],
  ])('parses %j', (v, want) => {
    expect(parseTime(v, '/from', NOW)).toBe(want);
  });

  it('defaults now to the current time', () => {
    const before = Date.now();
    const got = parseTime('now-1m');
    expect(got >= before - 60_000 && got <= Date.now() - 60_000).toBe(true);
  });

  it.each([
    [-1, `-1: time is before 1970-01-01T00:00:00Z`],
    [NaN, `NaN: ${EXPECTED}`],
    [Infinity, `Infinity: ${EXPECTED}`],
    [8.64e15 + 1, '8640000000000001: time is after the largest representable date'],
    ['yesterday', `"yesterday": ${EXPECTED}`],
    ['2026-11-22', `"2026-11-22": ${EXPECTED}`],
    ['2026-11-22T10:00Z', `"2026-11-22T10:00Z": ${EXPECTED}`],
    ['2026-11-22T10:00:00', `"2026-11-22T10:00:00": ${EXPECTED}`],
    ['2026-11-22T10:00:00+0200', `"2026-11-22T10:00:00+0200": ${EXPECTED}`],
    ['2026-11-22T10:00:00.Z', `"2026-11-22T10:00:00.Z": ${EXPECTED}`],
    ['Sun, 22 Nov 2026 10:00:00 GMT', `"Sun, 22 Nov 2026 10:00:00 GMT": ${EXPECTED}`],
    ['+002026-11-22T10:00:00Z', `"+002026-11-22T10:00:00Z": ${EXPECTED}`],
    ['2026-13-01T00:00:00Z', '"2026-13-01T00:00:00Z": a date or time field is out of range'],
    ['2026-02-29T00:00:00Z', '"2026-02-29T00:00:00Z": a date or time field is out of range'],
    ['2026-11-31T00:00:00Z', '"2026-11-31T00:00:00Z": a date or time field is out of range'],
    ['2026-11-22T24:00:00Z', '"2026-11-22T24:00:00Z": a date or time field is out of range'],
    ['2026-11-22T10:60:00Z', '"2026-11-22T10:60:00Z": a date or time field is out of range'],
    ['2026-11-22T10:00:61Z', '"2026-11-22T10:00:61Z": a date or time field is out of range'],
    ['2026-11-22T10:00:00+24:00', '"2026-11-22T10:00:00+24:00": a date or time field is out of range'],
    ['1969-12-31T23:59:59Z', '"1969-12-31T23:59:59Z": time is before 1970-01-01T00:00:00Z'],
    ['now-1M', `"now-1M": ${EXPECTED}`],
    ['now-1y', `"now-1y": ${EXPECTED}`],
    ['now/d', `"now/d": ${EXPECTED}`],
    ['now-h', `"now-h": ${EXPECTED}`],
    ['now - 1h', `"now - 1h": ${EXPECTED}`],
    ['NOW', `"NOW": ${EXPECTED}`],
    ['now-100000w', '"now-100000w": time is before 1970-01-01T00:00:00Z'],
    ['-5', `"-5": ${EXPECTED}`],
    ['1e12', `"1e12": ${EXPECTED}`],
    ['', `"": ${EXPECTED}`],
    [null, 'expected a number or string time, got null'],
    [true, 'expected a number or string time, got boolean'],
    [{}, 'expected a number or string time, got object'],
  ])('refuses %j with NETWATCH_ERR_BAD_TIME_RANGE', (v, message) => {
    expect(caught(() => parseTime(v, '/to', NOW))).toEqual({ code: 'NETWATCH_ERR_BAD_TIME_RANGE', message, path: '/to' });
  });
});

describe('parseTimeRange', () => {
  it.each([
    ['now-1h', 'now', { fromMs: NOW - 3_600_000, toMs: NOW }],
    ['2026-11-22T10:00:00Z', '2026-11-22T11:00:00+01:00', { fromMs: Date.UTC(2026, 10, 22, 10), toMs: Date.UTC(2026, 10, 22, 10) }],
    [1_700_000_000_000, '1700000060000', { fromMs: 1_700_000_000_000, toMs: 1_700_000_060_000 }],
  ])('parses from %j to %j', (from, to, want) => {
    expect(parseTimeRange(from, to, NOW)).toEqual(want);
  });

  it.each([
    ['yesterday', 'now', '/from', `"yesterday": ${EXPECTED}`],
    ['now-1h', 'later', '/to', `"later": ${EXPECTED}`],
    ['now', 'now-1h', '/from', 'from (2026-11-22T12:00:00.000Z) is after to (2026-11-22T11:00:00.000Z)'],
  ])('refuses from %j to %j at %s', (from, to, path, message) => {
    expect(caught(() => parseTimeRange(from, to, NOW))).toEqual({ code: 'NETWATCH_ERR_BAD_TIME_RANGE', message, path });
  });
});
