/**
 * Protocol frames to what Grafana reads from a plugin, for an ingest service that answers JSON (one that
 * predates the Arrow frames envelope, or a request for the JSON frame format). The encoding itself (types,
 * metadata, the Arrow IPC file writer) is the protocol's one definition, `@netwatch/ingest/protocol/arrow`, the
 * code the ingest service runs when it answers Arrow itself; this file only adds the columns read straight from
 * the JSON bytes (response-scanner.ts), written into the same Arrow buffers without a JS value per cell, and
 * the SDK's frame JSON. Tests prove both paths byte-identical to the protocol's frameToArrow.
 */
import type { FieldSchema, Frame } from '@netwatch/ingest/protocol';
import {
  MAX_TIME_MS,
  TS_TYPE,
  checkFrame,
  columnShape,
  encodeColumn,
  fieldError,
  fieldMetadata,
  frameMetadata,
  putInt64,
  putNanos,
  writeArrowFile,
  FrameEncodeError,
  type ColumnKind,
  type IpcColumn,
} from '@netwatch/ingest/protocol/arrow';
import { KIND_BOOL, KIND_NUMBER, KIND_STRING, TAG_STRING, TAG_TRUE, isPacked, unpack, type PackedColumn } from './response-scanner';

export { FrameEncodeError } from '@netwatch/ingest/protocol/arrow';

/** A frame column: a JS array (from JSON.parse) or a packed column read from the answer's bytes. */
export type ColumnValues = readonly unknown[] | PackedColumn;

/** Go's names for the field types (`typeInfo.frame` in the SDK's frame JSON). */
const GO_TYPE: Record<ColumnKind, string> = { time: 'time.Time', int64: 'int64', float64: 'float64', string: 'string', bool: 'bool' };

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

const UTF8 = new TextEncoder();

const isColumn = (v: unknown) => Array.isArray(v) || isPacked(v);

/** One frame as an Arrow IPC file (magic `ARROW1` at both ends), the bytes of `DataResponse.frames[i]`. */
export function frameToArrow(frame: Frame): Uint8Array {
  const rows = checkFrame(frame, isColumn);
  const columns = frame.schema.fields.map((f, i) => {
    const col = frame.data.values[i] as ColumnValues;
    if (isPacked(col)) {
      const kind = packedKind(f, col);
      if (kind) return encodePacked(f, col, kind);
    }
    const values = isPacked(col) ? unpack(col) : col;
    return encodeColumn(f, values, columnShape(f, values));
  });
  return writeArrowFile(columns, frameMetadata(frame), rows);
}

/**
 * One frame as the SDK's data frame JSON (for requests with format JSON): the protocol frame plus each field's
 * `typeInfo` (Go type and nullability), times staying epoch milliseconds.
 */
export function frameToJSON(frame: Frame): Buffer {
  checkFrame(frame, isColumn);
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
