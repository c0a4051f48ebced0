import { ByteBuffer } from 'flatbuffers';
import { Footer } from 'apache-arrow/fb/footer';
import { Message } from 'apache-arrow/fb/message';
import { MessageHeader } from 'apache-arrow/fb/message-header';
import { MetadataVersion } from 'apache-arrow/fb/metadata-version';
import { RecordBatch } from 'apache-arrow/fb/record-batch';
import { Schema } from 'apache-arrow/fb/schema';
import { column, frame } from '@netwatch/ingest/protocol';
import { frameToArrow } from './frames';

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
