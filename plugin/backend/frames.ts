/**
 * Protocol frames (Grafana's data frame JSON, times in epoch ms) to what Grafana reads from a plugin: one
 * Arrow IPC *file* per frame, laid out as grafana-plugin-sdk-go's data/arrow.go writes it.
 *  - schema metadata: `name`, `refId` (always), `meta` (JSON, when the frame has meta);
 *  - field metadata: `tstype` (the frontend type: time, number, string, boolean), `labels` and `config` (JSON);
 *  - times: Timestamp(nanosecond, no zone); Grafana reads every timestamp as nanoseconds;
 *  - numbers: Int64 when every value is an integer within ±2^53, else Float64;
 *  - strings: plain Utf8; a dictionary-encoded column is refused by Grafana's reader;
 *  - nullable exactly when the column holds a null.
 * Columns are written straight into the file buffer (arrow-ipc.ts; no per-value objects, no BigInt): the
 * plugin's cost per query is this conversion, and a 10k-row frame has to stay within a few milliseconds.
 */
import type { FieldSchema, Frame } from '@netwatch/ingest/protocol';
import { writeArrowFile, type IpcColumn } from './arrow-ipc';
import { KIND_BOOL, KIND_NUMBER, KIND_STRING, TAG_STRING, TAG_TRUE, isPacked, unpack, type PackedColumn } from './response-scanner';

/** A frame column: a JS array (from JSON.parse) or a packed column read from the answer's bytes. */
export type ColumnValues = readonly unknown[] | PackedColumn;

export class FrameEncodeError extends Error {
  override readonly name = 'FrameEncodeError';
}

export type ColumnKind = 'time' | 'int64' | 'float64' | 'string' | 'bool';

/** Go's names for the field types (`typeInfo.frame` in the SDK's frame JSON). */
const GO_TYPE: Record<ColumnKind, string> = { time: 'time.Time', int64: 'int64', float64: 'float64', string: 'string', bool: 'bool' };
const TS_TYPE: Record<ColumnKind, string> = { time: 'time', int64: 'number', float64: 'number', string: 'string', bool: 'boolean' };

const TWO_32 = 4294967296;

export interface ColumnShape {
  kind: ColumnKind;
  nullable: boolean;
  nullCount: number;
}

function fieldError(field: FieldSchema, row: number, what: string): FrameEncodeError {
  return new FrameEncodeError(`field "${field.name}" row ${row}: ${what}`);
}

/** The column's Arrow kind and nullability from its protocol type and its values. */
export function columnShape(field: FieldSchema, values: readonly unknown[]): ColumnShape {
  let nullCount = 0;
  for (let i = 0; i < values.length; i++) if (values[i] === null || values[i] === undefined) nullCount++;
  let kind: ColumnKind;
  switch (field.type) {
    case 'time':
      kind = 'time';
      break;
    case 'string':
      kind = 'string';
      break;
    case 'boolean':
      kind = 'bool';
      break;
    case 'number': {
      let integral = nullCount < values.length;
      for (let i = 0; integral && i < values.length; i++) {
        const v = values[i];
        if (v !== null && v !== undefined && !Number.isSafeInteger(v)) integral = false;
      }
      kind = integral ? 'int64' : 'float64';
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

function numberAt(field: FieldSchema, values: readonly unknown[], i: number): number {
  const v = values[i];
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    if (field.type === 'number' && typeof v === 'number') return v; // NaN and ±Inf are valid Float64 values
    throw fieldError(field, i, `expected a number, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** Int64 words (little-endian lo, hi) of a safe integer, without BigInt. */
function putInt64(words: Int32Array, i: number, v: number): void {
  const hi = Math.floor(v / TWO_32);
  words[2 * i] = (v - hi * TWO_32) | 0;
  words[2 * i + 1] = hi | 0;
}

/** Epoch milliseconds (possibly fractional, kept to the microsecond) as Int64 nanoseconds, without BigInt. */
function putNanos(words: Int32Array, i: number, ms: number): void {
  const us = Math.round(ms * 1000);
  const usHi = Math.floor(us / TWO_32);
  const loNs = (us - usHi * TWO_32) * 1000; // < 2^42, exact
  const carry = Math.floor(loNs / TWO_32);
  words[2 * i] = (loNs - carry * TWO_32) | 0;
  words[2 * i + 1] = (usHi * 1000 + carry) | 0;
}

const MAX_TIME_MS = 8.64e15; // ECMAScript's time range; ns of it still fit in Int64

/** The field's Arrow kind for a packed column, or undefined when its values need the array path. */
function packedKind(field: FieldSchema, c: PackedColumn): ColumnKind | undefined {
  const k = c.kinds;
  switch (field.type) {
    case 'number':
      if ((k & ~KIND_NUMBER) !== 0) return undefined;
      return c.allSafeInt && c.nullCount < c.length ? 'int64' : 'float64';
    case 'time':
      return (k & ~KIND_NUMBER) === 0 ? 'time' : undefined;
    case 'string':
      return (k & ~KIND_STRING) === 0 ? 'string' : undefined;
    case 'boolean':
      return (k & ~KIND_BOOL) === 0 ? 'bool' : undefined;
    default:
      throw new FrameEncodeError(`field "${field.name}": unknown type ${JSON.stringify(field.type)}`);
  }
}

function encodePacked(field: FieldSchema, c: PackedColumn, kind: ColumnKind): IpcColumn {
  const length = c.length;
  const nullable = c.nullCount > 0;
  const base = { name: field.name, nullable, nullCount: c.nullCount, metadata: fieldMetadata(field, kind), validity: nullable ? c.validity.subarray(0, (length + 7) >> 3) : undefined };
  const { nums, tags } = c;
  switch (kind) {
    case 'float64':
      return { ...base, type: 'float64', buffers: [{ byteLength: 8 * length, write: (file, at) => new Float64Array(file.buffer, file.byteOffset + at, length).set(nums.subarray(0, length)) }] };
    case 'int64':
      return {
        ...base,
        type: 'int64',
        buffers: [
          {
            byteLength: 8 * length,
            write(file, at) {
              const words = new Int32Array(file.buffer, file.byteOffset + at, 2 * length);
              for (let i = 0; i < length; i++) if (tags[i] !== 0) putInt64(words, i, nums[i]);
            },
          },
        ],
      };
    case 'time':
      for (let i = 0; i < length; i++) {
        if (tags[i] !== 0 && (nums[i] < -MAX_TIME_MS || nums[i] > MAX_TIME_MS)) throw fieldError(field, i, `time ${nums[i]} ms is out of range`);
      }
      return {
        ...base,
        type: 'timestamp_ns',
        buffers: [
          {
            byteLength: 8 * length,
            write(file, at) {
              const words = new Int32Array(file.buffer, file.byteOffset + at, 2 * length);
              for (let i = 0; i < length; i++) if (tags[i] !== 0) putNanos(words, i, nums[i]);
            },
          },
        ],
      };
    case 'string': {
      const { src, strStart, strEnd, escaped } = c;
      const escapedBytes = new Map<number, Uint8Array>();
      let total = 0;
      for (let i = 0; i < length; i++) {
        if (tags[i] !== TAG_STRING) continue;
        const e = escaped === null ? undefined : escaped.get(i);
        if (e !== undefined) {
          const b = UTF8.encode(e);
          escapedBytes.set(i, b);
          total += b.length;
        } else total += strEnd[i] - strStart[i];
      }
      if (total > 0x7fffffff) throw new FrameEncodeError(`field "${field.name}": over 2 GiB of text`);
      let offsetsAt = 0;
      return {
        ...base,
        type: 'utf8',
        buffers: [
          { byteLength: 4 * (length + 1), write: (_file, at) => void (offsetsAt = at) },
          {
            byteLength: total,
            write(file, at) {
              // Offsets and bytes in one pass; the bytes of an unescaped JSON string are its UTF-8 as they are.
              const offsets = new Int32Array(file.buffer, file.byteOffset + offsetsAt, length + 1);
              const anyEscaped = escapedBytes.size > 0;
              let pos = 0;
              for (let i = 0; i < length; i++) {
                if (tags[i] === TAG_STRING) {
                  const b = anyEscaped ? escapedBytes.get(i) : undefined;
                  if (b) {
                    file.set(b, at + pos);
                    pos += b.length;
                  } else {
                    for (let j = strStart[i], e = strEnd[i], o = at + pos; j < e; j++, o++) file[o] = src[j];
                    pos += strEnd[i] - strStart[i];
                  }
                }
                offsets[i + 1] = pos;
              }
            },
          },
        ],
      };
    }
    case 'bool': {
      const bits = new Uint8Array((length + 7) >> 3);
      for (let i = 0; i < length; i++) if (tags[i] === TAG_TRUE) bits[i >> 3] |= 1 << (i & 7);
      return { ...base, type: 'bool', buffers: [{ byteLength: bits.length, write: (file, at) => file.set(bits, at) }] };
    }
  }
}

function encodeColumn(field: FieldSchema, values: readonly unknown[], shape: ColumnShape): IpcColumn {
  const length = values.length;
  const base = { name: field.name, nullable: shape.nullable, nullCount: shape.nullCount, metadata: fieldMetadata(field, shape.kind), validity: validity(values, shape.nullCount) };
  const present = (i: number) => values[i] !== null && values[i] !== undefined;
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
              for (let i = 0; i < length; i++) if (present(i)) out[i] = numberAt(field, values, i);
            },
          },
        ],
      };
    case 'int64':
      return {
        ...base,
        type: 'int64',
        buffers: [
          {
            byteLength: 8 * length,
            write(file, at) {
              const words = new Int32Array(file.buffer, file.byteOffset + at, 2 * length);
              for (let i = 0; i < length; i++) if (present(i)) putInt64(words, i, values[i] as number);
            },
          },
        ],
      };
    case 'time':
      for (let i = 0; i < length; i++) {
        if (!present(i)) continue;
        const ms = numberAt(field, values, i);
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
              for (let i = 0; i < length; i++) if (present(i)) putNanos(words, i, values[i] as number);
            },
          },
        ],
      };
    case 'string': {
      // One TextEncoder pass over the joined column: a Buffer.write per value costs a native call each.
      const parts = new Array<string>(length);
      for (let i = 0; i < length; i++) {
        const v = values[i];
        parts[i] = typeof v === 'string' ? v : v === null || v === undefined ? '' : stringOf(v);
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
                pos += ascii ? parts[i].length : utf8Length(parts[i]);
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

function checkFrame(frame: Frame): number {
  if (!frame || typeof frame !== 'object' || !frame.schema || !Array.isArray(frame.schema.fields) || !frame.data || !Array.isArray(frame.data.values)) {
    throw new FrameEncodeError('not a data frame: expected {schema: {fields}, data: {values}}');
  }
  const { fields } = frame.schema;
  const { values } = frame.data;
  if (values.length !== fields.length) throw new FrameEncodeError(`frame "${frame.schema.name ?? ''}": ${fields.length} fields but ${values.length} value columns`);
  const rows = values.length > 0 ? (values[0] as ColumnValues).length : 0;
  values.forEach((col, i) => {
    if (!Array.isArray(col) && !isPacked(col)) throw new FrameEncodeError(`field "${fields[i].name}": values are not an array`);
    if (col.length !== rows) throw new FrameEncodeError(`frame "${frame.schema.name ?? ''}": field "${fields[i].name}" has ${col.length} values, field "${fields[0].name}" ${rows}`);
  });
  return rows;
}

function fieldMetadata(field: FieldSchema, kind: ColumnKind): Array<[string, string]> {
  const m: Array<[string, string]> = [['tstype', TS_TYPE[kind]]];
  if (field.labels && Object.keys(field.labels).length > 0) m.push(['labels', JSON.stringify(field.labels)]);
  if (field.config) m.push(['config', JSON.stringify(field.config)]);
  return m;
}

/** One frame as an Arrow IPC file (magic `ARROW1` at both ends), the bytes of `DataResponse.frames[i]`. */
export function frameToArrow(frame: Frame): Uint8Array {
  const rows = checkFrame(frame);
  const columns = frame.schema.fields.map((f, i) => {
    const col = frame.data.values[i] as ColumnValues;
    if (isPacked(col)) {
      const kind = packedKind(f, col);
      if (kind) return encodePacked(f, col, kind);
    }
    const values = isPacked(col) ? unpack(col) : col;
    return encodeColumn(f, values, columnShape(f, values));
  });
  const meta: Array<[string, string]> = [
    ['name', frame.schema.name ?? ''],
    ['refId', frame.schema.refId ?? ''],
  ];
  if (frame.schema.meta) meta.push(['meta', JSON.stringify(frame.schema.meta)]);
  return writeArrowFile(columns, meta, rows);
}

/**
 * One frame as the SDK's data frame JSON (for requests with format JSON): the protocol frame plus each field's
 * `typeInfo` (Go type and nullability), times staying epoch milliseconds.
 */
export function frameToJSON(frame: Frame): Buffer {
  checkFrame(frame);
  const values = frame.data.values.map((c) => (isPacked(c) ? unpack(c) : c));
  const fields = frame.schema.fields.map((f, i) => {
    const shape = columnShape(f, values[i]);
    const out: Record<string, unknown> = { name: f.name, type: TS_TYPE[shape.kind], typeInfo: shape.nullable ? { frame: GO_TYPE[shape.kind], nullable: true } : { frame: GO_TYPE[shape.kind] } };
    if (f.labels && Object.keys(f.labels).length > 0) out.labels = f.labels;
    if (f.config) out.config = f.config;
    return out;
  });
  const schema: Record<string, unknown> = {};
  if (frame.schema.name) schema.name = frame.schema.name;
  if (frame.schema.refId) schema.refId = frame.schema.refId;
  if (frame.schema.meta) schema.meta = frame.schema.meta;
  schema.fields = fields;
  return Buffer.from(JSON.stringify({ schema, data: { values } }), 'utf8');
}
