import { Type, tableFromIPC, type Table } from 'apache-arrow';
import { column, frame, type Frame } from '@netwatch/ingest/protocol';
import { FrameEncodeError, frameToArrow, frameToJSON } from './frames';

interface DecodedField {
  name: string;
  type: string;
  nullable: boolean;
  metadata: Record<string, string>;
  values: unknown[];
}

/** What Grafana's reader sees: Arrow type ids, metadata and values; timestamps as raw int64 nanoseconds. */
function decode(bytes: Uint8Array): { metadata: Record<string, string>; fields: DecodedField[] } {
  const t: Table = tableFromIPC(bytes);
  return {
    metadata: Object.fromEntries(t.schema.metadata),
    fields: t.schema.fields.map((f, i) => {
      const vec = t.getChildAt(i)!;
      let values: unknown[];
      if (f.type.typeId === Type.Timestamp || f.type.typeId === Type.Int) {
        const data = vec.data[0];
        const raw = new BigInt64Array(data.values.buffer, data.values.byteOffset, data.length);
        values = [...raw].map((v, r) => (vec.isValid(r) ? v : null));
      } else {
        values = [...Array(vec.length).keys()].map((r) => vec.get(r));
      }
      return { name: f.name, type: String(f.type), nullable: f.nullable, metadata: Object.fromEntries(f.metadata), values };
    }),
  };
}

function withRef(f: Frame, refId: string): Frame {
  f.schema.refId = refId;
  return f;
}

describe('frameToArrow', () => {
  it('writes an Arrow IPC file (ARROW1 magic at both ends), not a stream', () => {
    const bytes = frameToArrow(withRef(frame('x', [column('v', 'number', [1])]), 'A'));
    expect(Buffer.from(bytes.subarray(0, 6)).toString('latin1')).toBe('ARROW1');
    expect(Buffer.from(bytes.subarray(bytes.length - 6)).toString('latin1')).toBe('ARROW1');
  });

  it.each<[string, Frame, DecodedField[]]>([
    [
      'times as nanosecond timestamps, fractional milliseconds kept to the microsecond',
      frame('t', [column('time', 'time', [1795341600000, 1795341600000.123, 0])]),
      [{ name: 'time', type: 'Timestamp<NANOSECOND>', nullable: false, metadata: { tstype: 'time' }, values: [1795341600000000000n, 1795341600000123000n, 0n] }],
    ],
    [
      'nullable times',
      frame('t', [column('last_success', 'time', [null, 1700000000001])]),
      [{ name: 'last_success', type: 'Timestamp<NANOSECOND>', nullable: true, metadata: { tstype: 'time' }, values: [null, 1700000000001000000n] }],
    ],
    [
      'integral numbers as Int64, negative and beyond 32 bits included',
      frame('n', [column('bytes', 'number', [0, 1, -1, 2 ** 40 + 5, Number.MAX_SAFE_INTEGER, -(2 ** 33)])]),
      [{ name: 'bytes', type: 'Int64', nullable: false, metadata: { tstype: 'number' }, values: [0n, 1n, -1n, 2n ** 40n + 5n, 9007199254740991n, -(2n ** 33n)] }],
    ],
    [
      'integral numbers with nulls as nullable Int64',
      frame('n', [column('ttl', 'number', [64, null, 128])]),
      [{ name: 'ttl', type: 'Int64', nullable: true, metadata: { tstype: 'number' }, values: [64n, null, 128n] }],
    ],
    [
      'numbers with a fraction as Float64',
      frame('n', [column('avg_ms', 'number', [1, 2.5, null])]),
      [{ name: 'avg_ms', type: 'Float64', nullable: true, metadata: { tstype: 'number' }, values: [1, 2.5, null] }],
    ],
    [
      'an all-null number column as nullable Float64',
      frame('n', [column('loss', 'number', [null, null])]),
      [{ name: 'loss', type: 'Float64', nullable: true, metadata: { tstype: 'number' }, values: [null, null] }],
    ],
    [
      'strings as plain Utf8 (not dictionary), multi-byte text and nulls intact',
      frame('s', [column('message', 'string', ['Failed password for root', 'é→ 🙂', '', null])]),
      [{ name: 'message', type: 'Utf8', nullable: true, metadata: { tstype: 'string' }, values: ['Failed password for root', 'é→ 🙂', '', null] }],
    ],
    [
      'booleans',
      frame('b', [column('ok', 'boolean', [true, false, null, true, true, true, true, true, false])]),
      [{ name: 'ok', type: 'Bool', nullable: true, metadata: { tstype: 'boolean' }, values: [true, false, null, true, true, true, true, true, false] }],
    ],
    [
      'labels and config as JSON field metadata',
      frame('1.1.1.1 latency_ms', [column('time', 'time', [1000]), column('latency_ms', 'number', [11.8], { labels: { target: '1.1.1.1' }, config: { unit: 'ms', displayNameFromDS: 'latency' } })]),
      [
        { name: 'time', type: 'Timestamp<NANOSECOND>', nullable: false, metadata: { tstype: 'time' }, values: [1000000000n] },
        { name: 'latency_ms', type: 'Float64', nullable: false, metadata: { tstype: 'number', labels: '{"target":"1.1.1.1"}', config: '{"unit":"ms","displayNameFromDS":"latency"}' }, values: [11.8] },
      ],
    ],
  ])('encodes %s', (_name, f, want) => {
    const got = decode(frameToArrow(withRef(f, 'A')));
    expect(got.fields).toEqual(want);
    for (const field of got.fields) expect(field.type).not.toMatch(/Dictionary/);
  });

  it('puts name, refId and meta JSON into the schema metadata, name and refId even when empty', () => {
    expect(decode(frameToArrow(withRef(frame('logs', [column('message', 'string', ['x'])], { preferredVisualisationType: 'logs' }), 'B'))).metadata).toEqual({
      name: 'logs',
      refId: 'B',
      meta: '{"preferredVisualisationType":"logs"}',
    });
    expect(decode(frameToArrow(frame(undefined, [column('v', 'number', [])]))).metadata).toEqual({ name: '', refId: '' });
  });

  it('encodes a frame without rows with its fields', () => {
    const got = decode(frameToArrow(withRef(frame('flows', [column('src_ip', 'string', []), column('bytes', 'number', [])]), 'A')));
    expect(got.fields.map((f) => [f.name, f.type, f.values])).toEqual([
      ['src_ip', 'Utf8', []],
      ['bytes', 'Float64', []],
    ]);
  });

  it.each<[string, Frame, RegExp]>([
    ['columns of different lengths', frame('x', [column('a', 'number', [1, 2]), column('b', 'number', [1])]), /field "b" has 1 values, field "a" 2/],
    ['a string in a time column', frame('x', [column('time', 'time', ['2026-01-01'])]), /field "time" row 0: expected a number/],
    ['a number in a boolean column', frame('x', [column('ok', 'boolean', [1])]), /field "ok" row 0: expected a boolean/],
    ['fields without value columns', { schema: { refId: 'A', fields: [{ name: 'a', type: 'number' }] }, data: { values: [] } }, /1 fields but 0 value columns/],
    ['an unknown field type', { schema: { refId: 'A', fields: [{ name: 'a', type: 'date' as 'time' }] }, data: { values: [[1]] } }, /unknown type "date"/],
  ])('refuses %s with a FrameEncodeError naming the field', (_name, f, message) => {
    expect(() => frameToArrow(f)).toThrow(FrameEncodeError);
    expect(() => frameToArrow(f)).toThrow(message);
  });
});

describe('frameToJSON', () => {
  it('adds the Go SDK typeInfo to each field and keeps times in epoch milliseconds', () => {
    const f = withRef(frame('ping_summary', [column('target', 'string', ['a']), column('ttl', 'number', [null]), column('avg_ms', 'number', [1.5]), column('last_success', 'time', [1000])]), 'E');
    expect(JSON.parse(frameToJSON(f).toString('utf8'))).toEqual({
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
    });
  });
});
