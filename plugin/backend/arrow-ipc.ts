/**
 * A writer of the Arrow IPC *file* format (arrow.apache.org/docs/format/Columnar.html, "IPC File Format") for
 * the few types Grafana frames need: Int64, Float64, Timestamp(ns), Utf8, Bool, one record batch, no
 * dictionaries. The message metadata are flatbuffers built from Arrow's Schema.fbs / Message.fbs / File.fbs
 * (table slots as declared there); the body is laid out first so each column is written once, in place, into
 * the one buffer that becomes the file. apache-arrow's own writer gives the same bytes' meaning but builds
 * intermediate vectors and copies the body twice, which was most of the plugin's cost on a 10k-row frame.
 *
 * Layout: "ARROW1\0\0", Schema message, RecordBatch message and body, end-of-stream marker, Footer
 * flatbuffer, footer length (int32), "ARROW1". Messages are encapsulated as 0xFFFFFFFF, metadata length,
 * flatbuffer padded to 8 bytes; every body buffer starts on an 8-byte boundary.
 */
import { Builder } from 'flatbuffers';

/** Type ids of the `Type` union (Schema.fbs). */
const TYPE_INT = 2;
const TYPE_FLOATING_POINT = 3;
const TYPE_UTF8 = 5;
const TYPE_BOOL = 6;
const TYPE_TIMESTAMP = 10;
const PRECISION_DOUBLE = 2;
const TIME_UNIT_NANOSECOND = 3;
/** MetadataVersion.V5 (Schema.fbs), what current readers (Go, C++, JS) expect. */
const METADATA_V5 = 4;
const HEADER_SCHEMA = 1;
const HEADER_RECORD_BATCH = 3;

export type IpcType = 'int64' | 'float64' | 'timestamp_ns' | 'utf8' | 'bool';

/** One body buffer of a column: its byte length and a function writing it at `offset` of `file`. */
export interface IpcBuffer {
  byteLength: number;
  write(file: Uint8Array, offset: number): void;
}

export interface IpcColumn {
  name: string;
  type: IpcType;
  nullable: boolean;
  nullCount: number;
  metadata: ReadonlyArray<readonly [string, string]>;
  /** Validity bitmap, when the column has nulls. */
  validity?: Uint8Array;
  /** The type's buffers after validity: values (primitives, bool), or offsets then data (utf8). */
  buffers: IpcBuffer[];
}

const MAGIC = [0x41, 0x52, 0x52, 0x4f, 0x57, 0x31]; // "ARROW1"

const pad8 = (n: number) => (n + 7) & ~7;

function keyValues(b: Builder, kvs: ReadonlyArray<readonly [string, string]>): number {
  const offsets = kvs.map(([k, v]) => {
    const ko = b.createString(k);
    const vo = b.createString(v);
    b.startObject(2);
    b.addFieldOffset(0, ko, 0);
    b.addFieldOffset(1, vo, 0);
    return b.endObject();
  });
  return offsetVector(b, offsets);
}

function offsetVector(b: Builder, offsets: number[]): number {
  b.startVector(4, offsets.length, 4);
  for (let i = offsets.length - 1; i >= 0; i--) b.addOffset(offsets[i]);
  return b.endVector();
}

function typeTable(b: Builder, t: IpcType): [number, number] {
  switch (t) {
    case 'int64':
      b.startObject(2);
      b.addFieldInt32(0, 64, 0);
      b.addFieldInt8(1, 1, 0);
      return [TYPE_INT, b.endObject()];
    case 'float64':
      b.startObject(1);
      b.addFieldInt16(0, PRECISION_DOUBLE, 0);
      return [TYPE_FLOATING_POINT, b.endObject()];
    case 'timestamp_ns':
      // No timezone, as the Go SDK writes times (arrow.TimestampType{Unit: Nanosecond}).
      b.startObject(2);
      b.addFieldInt16(0, TIME_UNIT_NANOSECOND, 0);
      return [TYPE_TIMESTAMP, b.endObject()];
    case 'utf8':
      b.startObject(0);
      return [TYPE_UTF8, b.endObject()];
    case 'bool':
      b.startObject(0);
      return [TYPE_BOOL, b.endObject()];
  }
}

function schemaTable(b: Builder, columns: readonly IpcColumn[], metadata: ReadonlyArray<readonly [string, string]>): number {
  const fields = columns.map((c) => {
    const name = b.createString(c.name);
    const [typeId, type] = typeTable(b, c.type);
    const children = offsetVector(b, []);
    const md = keyValues(b, c.metadata);
    b.startObject(7);
    b.addFieldOffset(0, name, 0);
    b.addFieldInt8(1, c.nullable ? 1 : 0, 0);
    b.addFieldInt8(2, typeId, 0);
    b.addFieldOffset(3, type, 0);
    b.addFieldOffset(5, children, 0);
    b.addFieldOffset(6, md, 0);
    return b.endObject();
  });
  const fieldVec = offsetVector(b, fields);
  const md = keyValues(b, metadata);
  b.startObject(4);
  b.addFieldOffset(1, fieldVec, 0);
  b.addFieldOffset(2, md, 0);
  return b.endObject();
}

function message(headerType: number, build: (b: Builder) => number, bodyLength: number): Uint8Array {
  const b = new Builder(1024);
  const header = build(b);
  b.startObject(5);
  b.addFieldInt16(0, METADATA_V5, 0);
  b.addFieldInt8(1, headerType, 0);
  b.addFieldOffset(2, header, 0);
  b.addFieldInt64(3, BigInt(bodyLength), BigInt(0));
  b.finish(b.endObject());
  return b.asUint8Array();
}

/** One frame as an Arrow IPC file: the schema, one record batch of `rows` rows, the footer. */
export function writeArrowFile(columns: readonly IpcColumn[], metadata: ReadonlyArray<readonly [string, string]>, rows: number): Uint8Array {
  // Body layout: per column its validity buffer (empty without nulls), then its type's buffers.
  const nodes: Array<[number, number]> = [];
  const spans: Array<[number, number]> = [];
  const writes: Array<[IpcBuffer, number]> = [];
  let body = 0;
  for (const c of columns) {
    nodes.push([rows, c.nullCount]);
    const validity = c.validity;
    if (validity) {
      spans.push([body, validity.length]);
      writes.push([{ byteLength: validity.length, write: (f, o) => f.set(validity, o) }, body]);
      body += pad8(validity.length);
    } else {
      spans.push([body, 0]);
    }
    for (const buf of c.buffers) {
      spans.push([body, buf.byteLength]);
      writes.push([buf, body]);
      body += pad8(buf.byteLength);
    }
  }

  const schemaMsg = message(HEADER_SCHEMA, (b) => schemaTable(b, columns, metadata), 0);
  const batchMsg = message(
    HEADER_RECORD_BATCH,
    (b) => {
      b.startVector(16, nodes.length, 8);
      for (let i = nodes.length - 1; i >= 0; i--) {
        b.prep(8, 16);
        b.writeInt64(BigInt(nodes[i][1]));
        b.writeInt64(BigInt(nodes[i][0]));
      }
      const nodeVec = b.endVector();
      b.startVector(16, spans.length, 8);
      for (let i = spans.length - 1; i >= 0; i--) {
        b.prep(8, 16);
        b.writeInt64(BigInt(spans[i][1]));
        b.writeInt64(BigInt(spans[i][0]));
      }
      const bufVec = b.endVector();
      b.startObject(5);
      b.addFieldInt64(0, BigInt(rows), BigInt(0));
      b.addFieldOffset(1, nodeVec, 0);
      b.addFieldOffset(2, bufVec, 0);
      return b.endObject();
    },
    body,
  );

  // Encapsulated message: continuation, metadata length, flatbuffer padded so the body starts 8-aligned.
  const schemaMeta = pad8(8 + schemaMsg.length) - 8;
  const batchMeta = pad8(8 + batchMsg.length) - 8;
  const schemaAt = 8;
  const batchAt = schemaAt + 8 + schemaMeta;
  const bodyAt = batchAt + 8 + batchMeta;
  const eosAt = bodyAt + body;

  const fb = new Builder(1024);
  const schema = schemaTable(fb, columns, metadata);
  fb.startVector(24, 0, 8);
  const dictionaries = fb.endVector();
  fb.startVector(24, 1, 8);
  fb.prep(8, 24);
  fb.writeInt64(BigInt(body));
  fb.pad(4);
  fb.writeInt32(8 + batchMeta);
  fb.writeInt64(BigInt(batchAt));
  const batches = fb.endVector();
  fb.startObject(5);
  fb.addFieldInt16(0, METADATA_V5, 0);
  fb.addFieldOffset(1, schema, 0);
  fb.addFieldOffset(2, dictionaries, 0);
  fb.addFieldOffset(3, batches, 0);
  fb.finish(fb.endObject());
  const footer = fb.asUint8Array();

  const footerAt = eosAt + 8;
  const size = footerAt + footer.length + 4 + 6;
  const file = new Uint8Array(new ArrayBuffer(size));
  const view = new DataView(file.buffer);
  file.set(MAGIC, 0);
  view.setInt32(schemaAt, -1, true);
  view.setInt32(schemaAt + 4, schemaMeta, true);
  file.set(schemaMsg, schemaAt + 8);
  view.setInt32(batchAt, -1, true);
  view.setInt32(batchAt + 4, batchMeta, true);
  file.set(batchMsg, batchAt + 8);
  for (const [buf, at] of writes) buf.write(file, bodyAt + at);
  view.setInt32(eosAt, -1, true);
  view.setInt32(eosAt + 4, 0, true);
  file.set(footer, footerAt);
  view.setInt32(footerAt + footer.length, footer.length, true);
  file.set(MAGIC, size - 6);
  return file;
}
