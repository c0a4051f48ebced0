/**
 * Protocol frames as Grafana reads them from a backend plugin: one Arrow IPC *file* per frame, laid out as
 * grafana-plugin-sdk-go's data/arrow.go writes it. The one definition of that encoding, used by the ingest
 * service (`/api/v1/query` answering `application/vnd.netwatch.arrow-frames`, arrow-envelope.ts) and by the
 * plugin backend (its fallback for an ingest service that answers JSON only). Imported as the subpath
 * `@netwatch/ingest/protocol/arrow`, not from `./index`, so the plugin's browser bundle never pulls flatbuffers.
 *
 *  - schema metadata: `name`, `refId` (always), `meta` (JSON, when the frame has meta);
 *  - field metadata: `tstype` (the frontend type: time, number, string, boolean), `labels` and `config` (JSON);
 *  - times: Timestamp(nanosecond, no zone); Grafana reads every timestamp as nanoseconds;
 *  - numbers: Int64 when every value is an integer within ±2^53, else Float64;
 *  - strings: plain Utf8; a dictionary-encoded column is refused by Grafana's reader;
 *  - nullable exactly when the column holds a null.
 *
 * The writer covers the few types frames need (Int64, Float64, Timestamp(ns), Utf8, Bool), one record batch and
 * no dictionaries (arrow.apache.org/docs/format/Columnar.html, "IPC File Format"). The message metadata are
 * flatbuffers built from Arrow's Schema.fbs / Message.fbs / File.fbs (table slots as declared there); the body
 * is laid out first so each column is written once, in place, into the one buffer that becomes the file.
 * apache-arrow's own writer gives the same bytes' meaning but builds intermediate vectors and copies the body
 * twice. Layout: "ARROW1\0\0", Schema message, RecordBatch message and body, end-of-stream marker, Footer
 * flatbuffer, footer length (int32), "ARROW1". Messages are encapsulated as 0xFFFFFFFF, metadata length,
 * flatbuffer padded to 8 bytes; every body buffer starts on an 8-byte boundary.
 */
import { Builder } from 'flatbuffers';
import type { FieldSchema, Frame } from './frame';

export * from './arrow-envelope';

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

/** "ARROW1", the magic at both ends of an Arrow IPC file. */
export const ARROW_MAGIC: readonly number[] = [0x41, 0x52, 0x52, 0x4f, 0x57, 0x31];

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
  file.set(ARROW_MAGIC, 0);
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
  file.set(ARROW_MAGIC, size - 6);
  return file;
}

// ---- protocol frames -> Arrow columns ----

export class FrameEncodeError extends Error {
  override readonly name = 'FrameEncodeError';
}

export type ColumnKind = 'time' | 'int64' | 'float64' | 'string' | 'bool';

/** The frontend type of each kind (field metadata `tstype`; `type` in the SDK's frame JSON). */
export const TS_TYPE: Record<ColumnKind, string> = { time: 'time', int64: 'number', float64: 'number', string: 'string', bool: 'boolean' };

const TWO_32 = 4294967296;

/** ECMAScript's time range in milliseconds; its nanoseconds still fit Int64. */
export const MAX_TIME_MS = 8.64e15;

export interface ColumnShape {
  kind: ColumnKind;
  nullable: boolean;
  nullCount: number;
}

export function fieldError(field: FieldSchema, row: number, what: string): FrameEncodeError {
  return new FrameEncodeError(`field "${field.name}" row ${row}: ${what}`);
}

/** The column's Arrow kind and nullability from its protocol type and its values (one pass over them). */
export function columnShape(field: FieldSchema, values: readonly unknown[]): ColumnShape {
  let nullCount = 0;
  let kind: ColumnKind;
  switch (field.type) {
    case 'time':
    case 'string':
    case 'boolean':
      kind = field.type === 'time' ? 'time' : field.type === 'string' ? 'string' : 'bool';
      for (let i = 0; i < values.length; i++) if (values[i] === null || values[i] === undefined) nullCount++;
      break;
    case 'number': {
      let integral = true;
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        if (v === null || v === undefined) nullCount++;
        else if (integral && !Number.isSafeInteger(v)) integral = false;
      }
      kind = integral && nullCount < values.length ? 'int64' : 'float64';
      break;
    }
    default:
      throw new FrameEncodeError(`field "${field.name}": unknown type ${JSON.stringify(field.type)}`);
  }
  return { kind, nullable: nullCount > 0, nullCount };
}

function validity(values: readonly unknown[], nullCount: number): Uint8Array | undefined {
  if (nullCount === 0) return undefined;
  const bits = new Uint8Array((values.length + 7) >> 3);
  for (let i = 0; i < values.length; i++) if (values[i] !== null && values[i] !== undefined) bits[i >> 3] |= 1 << (i & 7);
  return bits;
}

/** Int64 words (little-endian lo, hi) of a safe integer, without BigInt. */
export function putInt64(words: Int32Array, i: number, v: number): void {
  const hi = Math.floor(v / TWO_32);
  words[2 * i] = (v - hi * TWO_32) | 0;
  words[2 * i + 1] = hi | 0;
}

/** Epoch milliseconds (possibly fractional, kept to the microsecond) as Int64 nanoseconds, without BigInt. */
export function putNanos(words: Int32Array, i: number, ms: number): void {
  const us = Math.round(ms * 1000);
  const usHi = Math.floor(us / TWO_32);
  const loNs = (us - usHi * TWO_32) * 1000; // < 2^42, exact
  const carry = Math.floor(loNs / TWO_32);
  words[2 * i] = (loNs - carry * TWO_32) | 0;
  words[2 * i + 1] = (usHi * 1000 + carry) | 0;
}

/**
 * The Arrow column of a field whose values are a JS array (as frame() builds them, or JSON.parse reads them).
 * The loops test for null inline and write numbers straight into the file: this runs for every cell the
 * ingest service answers in Arrow.
 */
export function encodeColumn(field: FieldSchema, values: readonly unknown[], shape: ColumnShape = columnShape(field, values)): IpcColumn {
  const length = values.length;
  const base = { name: field.name, nullable: shape.nullable, nullCount: shape.nullCount, metadata: fieldMetadata(field, shape.kind), validity: validity(values, shape.nullCount) };
  switch (shape.kind) {
    case 'float64':
      return {
        ...base,
        type: 'float64',
        buffers: [
          {
            byteLength: 8 * length,
            write(file, at) {
              const out = new Float64Array(file.buffer, file.byteOffset + at, length);
              for (let i = 0; i < length; i++) {
                const v = values[i];
                if (typeof v === 'number') out[i] = v; // NaN and ±Inf are valid Float64 values
                else if (v !== null && v !== undefined) throw fieldError(field, i, `expected a number, got ${JSON.stringify(v)}`);
              }
            },
          },
        ],
      };
    case 'int64':
      // columnShape chose Int64 only when every present value is a safe integer.
      return {
        ...base,
        type: 'int64',
        buffers: [
          {
            byteLength: 8 * length,
            write(file, at) {
              const words = new Int32Array(file.buffer, file.byteOffset + at, 2 * length);
              for (let i = 0; i < length; i++) {
                const v = values[i] as number | null | undefined;
                if (v === null || v === undefined) continue;
                if (v >= -0x80000000 && v <= 0x7fffffff) {
                  words[2 * i] = v;
                  words[2 * i + 1] = v < 0 ? -1 : 0;
                } else putInt64(words, i, v);
              }
            },
          },
        ],
      };
    case 'time':
      for (let i = 0; i < length; i++) {
        const ms = values[i];
        if (ms === null || ms === undefined) continue;
        if (typeof ms !== 'number' || !Number.isFinite(ms)) throw fieldError(field, i, `expected a number, got ${JSON.stringify(ms)}`);
        if (ms < -MAX_TIME_MS || ms > MAX_TIME_MS) throw fieldError(field, i, `time ${ms} ms is out of range`);
      }
      return {
        ...base,
        type: 'timestamp_ns',
        buffers: [
          {
            byteLength: 8 * length,
            write(file, at) {
              const words = new Int32Array(file.buffer, file.byteOffset + at, 2 * length);
              for (let i = 0; i < length; i++) {
                const ms = values[i] as number | null | undefined;
                if (ms !== null && ms !== undefined) putNanos(words, i, ms);
              }
            },
          },
        ],
      };
    case 'string': {
      // One TextEncoder pass over the joined column: a Buffer.write per value costs a native call each.
      // join() writes null and undefined as '', as Arrow wants them under a validity bit; only values of other
      // types need a copy of the column with their text.
      let parts = values as readonly unknown[];
      for (let i = 0; i < length; i++) {
        const v = values[i];
        if (typeof v === 'string' || v === null || v === undefined) continue;
        if (parts === values) parts = values.slice();
        (parts as unknown[])[i] = stringOf(v);
      }
      const joined = parts.join('');
      const bytes = UTF8.encode(joined);
      if (bytes.length > 0x7fffffff) throw new FrameEncodeError(`field "${field.name}": over 2 GiB of text`);
      // All ASCII when the byte count equals the UTF-16 length: the offsets are the string lengths.
      const ascii = bytes.length === joined.length;
      return {
        ...base,
        type: 'utf8',
        buffers: [
          {
            byteLength: 4 * (length + 1),
            write(file, at) {
              const offsets = new Int32Array(file.buffer, file.byteOffset + at, length + 1);
              let pos = 0;
              for (let i = 0; i < length; i++) {
                const v = parts[i] as string | null | undefined;
                if (v !== null && v !== undefined) pos += ascii ? v.length : utf8Length(v);
                offsets[i + 1] = pos;
              }
              if (pos !== bytes.length) throw new FrameEncodeError(`field "${field.name}": UTF-8 length mismatch (${pos} != ${bytes.length})`);
            },
          },
          { byteLength: bytes.length, write: (file, at) => file.set(bytes, at) },
        ],
      };
    }
    case 'bool': {
      const bits = new Uint8Array((length + 7) >> 3);
      for (let i = 0; i < length; i++) {
        const v = values[i];
        if (v === null || v === undefined) continue;
        if (typeof v !== 'boolean') throw fieldError(field, i, `expected a boolean, got ${JSON.stringify(v)}`);
        if (v) bits[i >> 3] |= 1 << (i & 7);
      }
      return { ...base, type: 'bool', buffers: [{ byteLength: bits.length, write: (file, at) => file.set(bits, at) }] };
    }
  }
}

const UTF8 = new TextEncoder();

/** Bytes of a string in UTF-8 as TextEncoder writes it (a lone surrogate becomes U+FFFD, 3 bytes). */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

function stringOf(v: unknown): string {
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/**
 * Checks the frame's shape and returns its row count. `isColumn` says what a value column may be: a JS array,
 * or (in the plugin) also a column read straight from JSON bytes; anything with a `length`.
 */
export function checkFrame(frame: Frame, isColumn: (v: unknown) => boolean = Array.isArray): number {
  if (!frame || typeof frame !== 'object' || !frame.schema || !Array.isArray(frame.schema.fields) || !frame.data || !Array.isArray(frame.data.values)) {
    throw new FrameEncodeError('not a data frame: expected {schema: {fields}, data: {values}}');
  }
  const { fields } = frame.schema;
  const values = frame.data.values as unknown[];
  if (values.length !== fields.length) throw new FrameEncodeError(`frame "${frame.schema.name ?? ''}": ${fields.length} fields but ${values.length} value columns`);
  const rows = values.length > 0 ? (values[0] as { length: number }).length : 0;
  values.forEach((col, i) => {
    if (!isColumn(col)) throw new FrameEncodeError(`field "${fields[i].name}": values are not an array`);
    const n = (col as { length: number }).length;
    if (n !== rows) throw new FrameEncodeError(`frame "${frame.schema.name ?? ''}": field "${fields[i].name}" has ${n} values, field "${fields[0].name}" ${rows}`);
  });
  return rows;
}

export function fieldMetadata(field: FieldSchema, kind: ColumnKind): Array<[string, string]> {
  const m: Array<[string, string]> = [['tstype', TS_TYPE[kind]]];
  if (field.labels && Object.keys(field.labels).length > 0) m.push(['labels', JSON.stringify(field.labels)]);
  if (field.config) m.push(['config', JSON.stringify(field.config)]);
  return m;
}

/** The schema metadata of a frame: `name` and `refId` always (possibly empty), `meta` as JSON when present. */
export function frameMetadata(frame: Frame): Array<[string, string]> {
  const meta: Array<[string, string]> = [
    ['name', frame.schema.name ?? ''],
    ['refId', frame.schema.refId ?? ''],
  ];
  if (frame.schema.meta) meta.push(['meta', JSON.stringify(frame.schema.meta)]);
  return meta;
}

/** One frame as an Arrow IPC file (magic `ARROW1` at both ends): the bytes of Grafana's `DataResponse.frames[i]`. */
export function frameToArrow(frame: Frame): Uint8Array {
  const rows = checkFrame(frame);
  const columns = frame.schema.fields.map((f, i) => encodeColumn(f, frame.data.values[i]));
  return writeArrowFile(columns, frameMetadata(frame), rows);
}
