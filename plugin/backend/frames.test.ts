import { column, frame, type Frame } from '@netwatch/ingest/protocol';
import { frameToArrow as ingestFrameToArrow } from '@netwatch/ingest/protocol/arrow';
import { FrameEncodeError, frameToArrow, frameToJSON } from './frames';
import { scanQueryResponse } from './response-scanner';

// The Arrow encoding itself (types, metadata, layout, decoded with apache-arrow) is tested with its code in
// ingest/src/protocol/arrow.test.ts. Here: the plugin's fallback for a JSON answer gives the very bytes the
// ingest service sends when it answers Arrow, and the SDK's frame JSON.

function withRef(f: Frame, refId: string): Frame {
  f.schema.refId = refId;
  return f;
}

/** The frame as the plugin reads it from a JSON answer: packed columns straight from the bytes. */
const scanned = (f: Frame) => scanQueryResponse(Buffer.from(JSON.stringify(f), 'utf8')) as Frame;
const parsed = (f: Frame) => JSON.parse(JSON.stringify(f)) as Frame;

describe('frameToArrow of a JSON answer', () => {
  it.each<[string, Frame]>([
    ['times with fractional milliseconds', frame('t', [column('time', 'time', [1795341600000, 1795341600000.123, 0])])],
    ['nullable times', frame('t', [column('last_success', 'time', [null, 1700000000001])])],
    ['integral numbers beyond 32 bits', frame('n', [column('bytes', 'number', [0, 1, -1, 2 ** 40 + 5, Number.MAX_SAFE_INTEGER, -(2 ** 33)])])],
    ['integral numbers with nulls', frame('n', [column('ttl', 'number', [64, null, 128])])],
    ['numbers with a fraction', frame('n', [column('avg_ms', 'number', [1, 2.5, null])])],
    ['an all-null number column', frame('n', [column('loss', 'number', [null, null])])],
    ['multi-byte, escaped and null strings', frame('s', [column('message', 'string', ['Failed password for root', 'é→ 🙂', 'a "quote"\n', '', null])])],
    ['booleans', frame('b', [column('ok', 'boolean', [true, false, null, true, true, true, true, true, false])])],
    ['labels, config and meta', frame('1.1.1.1 latency_ms', [column('time', 'time', [1000]), column('latency_ms', 'number', [11.8], { labels: { target: '1.1.1.1' }, config: { unit: 'ms' } })], { preferredVisualisationType: 'graph' })],
    ['no rows', frame('flows', [column('src_ip', 'string', []), column('bytes', 'number', [])])],
  ])('is byte-identical to the ingest service’s own Arrow for %s, scanned or parsed', (_name, f) => {
    withRef(f, 'A');
    const want = Buffer.from(ingestFrameToArrow(f));
    expect(Buffer.from(frameToArrow(scanned(f))).equals(want)).toBe(true);
    expect(Buffer.from(frameToArrow(parsed(f))).equals(want)).toBe(true);
  });

  it.each<[string, Frame, RegExp]>([
    ['columns of different lengths', frame('x', [column('a', 'number', [1, 2]), column('b', 'number', [1])]), /field "b" has 1 values, field "a" 2/],
    ['a string in a time column', frame('x', [column('time', 'time', ['2026-01-01'])]), /field "time" row 0: expected a number/],
    ['a number in a boolean column', frame('x', [column('ok', 'boolean', [1])]), /field "ok" row 0: expected a boolean/],
    ['a time beyond the ECMAScript range', frame('x', [column('time', 'time', [9e15])]), /field "time" row 0: time 9000000000000000 ms is out of range/],
    ['an unknown field type', { schema: { refId: 'A', fields: [{ name: 'a', type: 'date' as 'time' }] }, data: { values: [[1]] } }, /unknown type "date"/],
  ])('refuses %s read from JSON bytes with a FrameEncodeError naming the field', (_name, f, message) => {
    expect(() => frameToArrow(scanned(f))).toThrow(FrameEncodeError);
    expect(() => frameToArrow(scanned(f))).toThrow(message);
  });
});

describe('frameToJSON', () => {
  it('adds the Go SDK typeInfo to each field and keeps times in epoch milliseconds', () => {
    const f = withRef(frame('ping_summary', [column('target', 'string', ['a']), column('ttl', 'number', [null]), column('avg_ms', 'number', [1.5]), column('last_success', 'time', [1000])]), 'E');
    const want = {
      schema: {
        name: 'ping_summary',
        refId: 'E',
        fields: [
          { name: 'target', type: 'string', typeInfo: { frame: 'string' } },
          { name: 'ttl', type: 'number', typeInfo: { frame: 'float64', nullable: true } },
          { name: 'avg_ms', type: 'number', typeInfo: { frame: 'float64' } },
          { name: 'last_success', type: 'time', typeInfo: { frame: 'time.Time' } },
        ],
      },
      data: { values: [['a'], [null], [1.5], [1000]] },
    };
    expect(JSON.parse(frameToJSON(f).toString('utf8'))).toEqual(want);
    expect(JSON.parse(frameToJSON(scanned(f)).toString('utf8'))).toEqual(want);
  });
});
