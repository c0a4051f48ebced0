import { createLogger, hclogLine, hclogTimestamp, parseLevel } from './hclog';

// go-plugin's host parses @timestamp with Go's layout 2006-01-02T15:04:05.000000Z07:00.
const GO_LAYOUT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|[+-]\d{2}:\d{2})$/;

describe('hclog JSON lines', () => {
  it.each([
    [Date.UTC(2026, 10, 22, 10, 0, 0, 123), '2026-11-22T10:00:00.123000Z'],
    [Date.UTC(2026, 10, 22, 10, 0, 0, 123) + 0.4567, '2026-11-22T10:00:00.123456Z'],
    [Date.UTC(2026, 0, 1), '2026-01-01T00:00:00.000000Z'],
  ])('formats %d ms as %s, six fractional digits as Go layouts want', (ms, want) => {
    expect(hclogTimestamp(ms)).toBe(want);
    expect(want).toMatch(GO_LAYOUT);
  });

  it('writes @level, @message, @timestamp and the extra keys as one JSON line', () => {
    const line = hclogLine('warn', 'ingest query failed', { status: 502, queries: 2, error: new Error('connection refused') }, Date.UTC(2026, 10, 22, 10, 0, 0, 5));
    expect(line.endsWith('\n')).toBe(true);
    expect(line.trimEnd()).not.toContain('\n');
    expect(JSON.parse(line)).toEqual({ '@level': 'warn', '@message': 'ingest query failed', '@timestamp': '2026-11-22T10:00:00.005000Z', status: 502, queries: 2, error: 'connection refused' });
  });

  it('renames extra keys that would clobber hclog keys and drops undefined ones', () => {
    expect(JSON.parse(hclogLine('info', 'm', { '@message': 'spoof', gone: undefined }, 0))).toEqual({ '@level': 'info', '@message': 'm', '@timestamp': '1970-01-01T00:00:00.000000Z', _message: 'spoof' });
  });

  it('writes only lines at or above the logger level, every one with a Go-parsable timestamp', () => {
    const lines: string[] = [];
    const log = createLogger('info', (l) => lines.push(l));
    log.debug('hidden');
    log.info('shown', { a: 1 });
    log.error('also shown');
    expect(lines.map((l) => JSON.parse(l)['@message'])).toEqual(['shown', 'also shown']);
    for (const l of lines) expect(JSON.parse(l)['@timestamp']).toMatch(GO_LAYOUT);
  });

  it.each([
    ['debug', 'debug'],
    ['WARNING', 'warn'],
    ['nonsense', 'info'],
    [undefined, 'info'],
  ])('parses the level %s as %s', (s, want) => {
    expect(parseLevel(s, 'info')).toBe(want);
  });
});
