import { ByteBuffer } from 'flatbuffers';
import { Type, tableFromIPC, type Table } from 'apache-arrow';
import { Footer } from 'apache-arrow/fb/footer';
import { Message } from 'apache-arrow/fb/message';
import { MessageHeader } from 'apache-arrow/fb/message-header';
import { MetadataVersion } from 'apache-arrow/fb/metadata-version';
import { RecordBatch } from 'apache-arrow/fb/record-batch';
import { Schema } from 'apache-arrow/fb/schema';
import { FrameEncodeError, frameToArrow } from './arrow';
import { column, frame, type Frame } from './frame';

// apache-arrow is the reference reader here (Grafana's Go reader is not available in this test).

/** The file read as Arrow's spec lays it out (Columnar.html "IPC File Format"), with the spec's own flatbuffers. */
function layout(bytes: Uint8Array) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = (at: number) => Buffer.from(bytes.subarray(at, at + 6)).toString('latin1');
  const footerLen = view.getInt32(bytes.length - 10, true);
  const footer = Footer.getRootAsFooter(new ByteBuffer(bytes.subarray(bytes.length - 10 - footerLen, bytes.length - 10)));
  const message = (at: number) => {
    const len = view.getInt32(at + 4, true);
    return { continuation: view.getInt32(at, true), len, msg: Message.getRootAsMessage(new ByteBuffer(bytes.subarray(at + 8, at + 8 + len))) };
  };
  const schemaMsg = message(8);
  const block = footer.recordBatches(0)!;
  const batchMsg = message(Number(block.offset()));
  const batch = batchMsg.msg.header(new RecordBatch()) as RecordBatch;
  const bodyAt = Number(block.offset()) + block.metaDataLength();
  const buffers = Array.from({ length: batch.buffersLength() }, (_, i) => ({ offset: Number(batch.buffers(i)!.offset()), length: Number(batch.buffers(i)!.length()) }));
  const eos = [view.getInt32(bodyAt + Number(block.bodyLength()), true), view.getInt32(bodyAt + Number(block.bodyLength()) + 4, true)];
  return { magic: [magic(0), magic(bytes.length - 6)], footer, schemaMsg, block, batchMsg, batch, bodyAt, buffers, eos };
}

describe('Arrow IPC file layout', () => {
  const f = frame('flows', [
    column('src_ip', 'string', ['10.0.0.1', null, '2001:db8::1']),
    column('bytes', 'number', [1, 2, 3]),
    column('avg', 'number', [1.5, null, 2]),
    column('first_seen', 'time', [1000, 2000, 3000]),
    column('ok', 'boolean', [true, false, true]),
  ]);
  f.schema.refId = 'A';
  const l = layout(frameToArrow(f));

  it('starts and ends with the magic, and closes the stream with the end-of-stream marker', () => {
    expect(l.magic).toEqual(['ARROW1', 'ARROW1']);
    expect(l.eos).toEqual([-1, 0]);
  });

  it('encapsulates the schema and the record batch as V5 messages with 8-byte aligned metadata', () => {
    for (const m of [l.schemaMsg, l.batchMsg]) {
      expect(m.continuation).toBe(-1);
      expect((8 + m.len) % 8).toBe(0);
      expect(m.msg.version()).toBe(MetadataVersion.V5);
    }
    expect(l.schemaMsg.msg.headerType()).toBe(MessageHeader.Schema);
    expect(l.batchMsg.msg.headerType()).toBe(MessageHeader.RecordBatch);
    expect(l.block.metaDataLength()).toBe(8 + l.batchMsg.len);
    expect(Number(l.batchMsg.msg.bodyLength())).toBe(Number(l.block.bodyLength()));
  });

  it('puts one record batch of 3 rows in the footer, with the schema repeated there', () => {
    expect(l.footer.version()).toBe(MetadataVersion.V5);
    expect(l.footer.recordBatchesLength()).toBe(1);
    expect(l.footer.dictionariesLength()).toBe(0);
    expect(Number(l.batch.length())).toBe(3);
    const schema = l.footer.schema(new Schema())!;
    expect(Array.from({ length: schema.fieldsLength() }, (_, i) => schema.fields(i)!.name())).toEqual(['src_ip', 'bytes', 'avg', 'first_seen', 'ok']);
  });

  it('starts every body buffer on an 8-byte boundary, in order and within the body', () => {
    // Per field: validity, then utf8 offsets+data / values: 3 + 2 + 2 + 2 + 2 buffers.
    expect(l.buffers).toHaveLength(11);
    let end = 0;
    for (const b of l.buffers) {
      expect(b.offset % 8).toBe(0);
      expect(b.offset).toBeGreaterThanOrEqual(end);
      end = b.offset + b.length;
    }
    expect(end).toBeLessThanOrEqual(Number(l.block.bodyLength()));
    expect(l.bodyAt % 8).toBe(0);
    // Validity only where there are nulls: src_ip and avg.
    expect([0, 3, 5, 7, 9].map((i) => l.buffers[i].length)).toEqual([1, 0, 1, 0, 0]);
    expect(Array.from({ length: l.batch.nodesLength() }, (_, i) => Number(l.batch.nodes(i)!.nullCount()))).toEqual([1, 0, 1, 0, 0]);
  });
});

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
    ['a time beyond the ECMAScript range', frame('x', [column('time', 'time', [9e15])]), /field "time" row 0: time 9000000000000000 ms is out of range/],
    ['fields without value columns', { schema: { refId: 'A', fields: [{ name: 'a', type: 'number' }] }, data: { values: [] } }, /1 fields but 0 value columns/],
    ['an unknown field type', { schema: { refId: 'A', fields: [{ name: 'a', type: 'date' as 'time' }] }, data: { values: [[1]] } }, /unknown type "date"/],
  ])('refuses %s with a FrameEncodeError naming the field', (_name, f, message) => {
    expect(() => frameToArrow(f)).toThrow(FrameEncodeError);
    expect(() => frameToArrow(f)).toThrow(message);
  });
});
