/**
 * Reads the ingest service's `/api/v1/query` answer straight from its bytes, keeping each frame column
 * (`data.values[i]`) packed: numbers in a Float64Array, strings as byte ranges of the answer itself (a JSON
 * string without escapes is already its UTF-8 bytes), nulls in a validity bitmap. frames.ts writes these into
 * Arrow without ever making a JS string or number object per value. On a 10k-row frame, JSON.parse plus
 * encoding from JS arrays was about as slow as the ingest service's own work; this path is several times
 * faster. Everything outside `data.values` (the envelope, schemas, errors) is ordinary JSON, parsed into
 * ordinary values. Any syntax error throws: the caller then parses the answer with JSON.parse.
 */

/** A column of primitive values as read from the answer; `kinds` says which kinds occurred. */
export interface PackedColumn {
  readonly packed: true;
  length: number;
  nullCount: number;
  /** Bit i set: row i is not null (Arrow's validity layout). */
  validity: Uint8Array;
  /** KIND_* bits of the non-null values. */
  kinds: number;
  /** Numbers (rows that are not numbers hold 0). */
  nums: Float64Array;
  /** Every number is an integer within ±(2^53 - 1). */
  allSafeInt: boolean;
  /** Strings: byte range [strStart, strEnd) of `src`, or the decoded text in `escaped` when it had escapes. */
  src: Uint8Array;
  strStart: Int32Array;
  strEnd: Int32Array;
  escaped: Map<number, string> | null;
  /** Per row: TAG_NULL, TAG_NUMBER, TAG_STRING, TAG_TRUE or TAG_FALSE. */
  tags: Uint8Array;
}

export const TAG_NULL = 0;
export const TAG_NUMBER = 1;
export const TAG_STRING = 2;
export const TAG_TRUE = 3;
export const TAG_FALSE = 4;

export const KIND_NUMBER = 1;
export const KIND_STRING = 2;
export const KIND_BOOL = 4;

export function isPacked(v: unknown): v is PackedColumn {
  return typeof v === 'object' && v !== null && (v as PackedColumn).packed === true;
}

/** The column as a JS array (for the JSON frame format and for checks). */
export function unpack(c: PackedColumn): unknown[] {
  const out = new Array<unknown>(c.length);
  const dec = new TextDecoder();
  for (let i = 0; i < c.length; i++) {
    switch (c.tags[i]) {
      case TAG_NULL:
        out[i] = null;
        break;
      case TAG_NUMBER:
        out[i] = c.nums[i];
        break;
      case TAG_STRING:
        out[i] = c.escaped?.get(i) ?? dec.decode(c.src.subarray(c.strStart[i], c.strEnd[i]));
        break;
      default:
        out[i] = c.tags[i] === TAG_TRUE;
    }
  }
  return out;
}

class ScanError extends SyntaxError {}

const EMPTY_F64 = new Float64Array(0);
const EMPTY_I32 = new Int32Array(0);

/**
 * Parses `body` like JSON.parse, except that each array directly under a `"values"` key of a `"data"` object
 * whose elements are all primitives becomes a PackedColumn.
 */
export function scanQueryResponse(body: Uint8Array): unknown {
  let pos = 0;
  const n = body.length;
  const latin1 = (a: number, b: number) => Buffer.from(body.buffer, body.byteOffset + a, b - a).toString('latin1');

  const fail = (what: string): never => {
    throw new ScanError(`${what} at byte ${pos}`);
  };
  const ws = () => {
    while (pos < n) {
      const c = body[pos];
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) pos++;
      else break;
    }
  };

  /** At an opening quote: the string's content range, and whether it has escapes. */
  const stringRange = (): [number, number, boolean] => {
    pos++;
    const start = pos;
    let esc = false;
    for (;;) {
      if (pos >= n) fail('unterminated string');
      const c = body[pos];
      if (c === 0x22) break;
      if (c === 0x5c) {
        esc = true;
        pos += 2;
        continue;
      }
      if (c < 0x20) fail('control character in string');
      pos++;
    }
    const end = pos;
    pos++;
    return [start, end, esc];
  };
  const decodeString = (start: number, end: number, esc: boolean): string => {
    if (!esc) return Buffer.from(body.buffer, body.byteOffset + start, end - start).toString('utf8');
    return JSON.parse(Buffer.from(body.buffer, body.byteOffset + start - 1, end - start + 2).toString('utf8')) as string;
  };

  /** A number at pos; sets `safeInt` false unless it is an integer that fits 2^53 exactly. */
  let safeInt = true;
  const number = (): number => {
    const start = pos;
    let neg = false;
    if (body[pos] === 0x2d) {
      neg = true;
      pos++;
    }
    const digitsAt = pos;
    let v = 0;
    while (pos < n && body[pos] >= 0x30 && body[pos] <= 0x39) {
      v = v * 10 + (body[pos] - 0x30);
      pos++;
    }
    const digits = pos - digitsAt;
    if (digits === 0 || (digits > 1 && body[digitsAt] === 0x30)) fail('bad number');
    const c = body[pos];
    if (c !== 0x2e && c !== 0x65 && c !== 0x45 && digits <= 15) {
      safeInt = true;
      return neg ? -v : v;
    }
    // Fractions, exponents and long integers: the engine's own conversion, correctly rounded as JSON.parse is.
    if (c === 0x2e) {
      pos++;
      const f = pos;
      while (pos < n && body[pos] >= 0x30 && body[pos] <= 0x39) pos++;
      if (pos === f) fail('bad fraction');
    }
    if (body[pos] === 0x65 || body[pos] === 0x45) {
      pos++;
      if (body[pos] === 0x2b || body[pos] === 0x2d) pos++;
      const e = pos;
      while (pos < n && body[pos] >= 0x30 && body[pos] <= 0x39) pos++;
      if (pos === e) fail('bad exponent');
    }
    const x = Number(latin1(start, pos));
    safeInt = Number.isSafeInteger(x);
    return x;
  };

  const literal = (text: string, value: unknown): unknown => {
    for (let i = 0; i < text.length; i++) if (body[pos + i] !== text.charCodeAt(i)) fail(`expected ${text}`);
    pos += text.length;
    return value;
  };

  const value = (parentKey: string, grandKey: string): unknown => {
    ws();
    const c = body[pos];
    if (c === 0x7b) return object(parentKey);
    if (c === 0x5b) return grandKey === 'data' && parentKey === 'values' ? columns() : array();
    if (c === 0x22) {
      const [s, e, esc] = stringRange();
      return decodeString(s, e, esc);
    }
    if (c === 0x74) return literal('true', true);
    if (c === 0x66) return literal('false', false);
    if (c === 0x6e) return literal('null', null);
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return number();
    return fail('unexpected character');
  };

  const object = (ownKey: string): Record<string, unknown> => {
    pos++;
    const out: Record<string, unknown> = {};
    ws();
    if (body[pos] === 0x7d) {
      pos++;
      return out;
    }
    for (;;) {
      ws();
      if (body[pos] !== 0x22) fail('expected a key');
      const [s, e, esc] = stringRange();
      const key = decodeString(s, e, esc);
      ws();
      if (body[pos] !== 0x3a) fail('expected :');
      pos++;
      const v = value(key, ownKey);
      // Like JSON.parse, a key "__proto__" becomes an own property, not the prototype.
      Object.defineProperty(out, key, { value: v, writable: true, enumerable: true, configurable: true });
      ws();
      if (body[pos] === 0x2c) {
        pos++;
        continue;
      }
      if (body[pos] === 0x7d) {
        pos++;
        return out;
      }
      fail('expected , or }');
    }
  };

  /** At `[`: the elements, each read by `element` (which is given the ones before it). */
  const list = (element: (before: unknown[]) => unknown): unknown[] => {
    pos++;
    const out: unknown[] = [];
    ws();
    if (body[pos] === 0x5d) {
      pos++;
      return out;
    }
    for (;;) {
      out.push(element(out));
      ws();
      if (body[pos] === 0x2c) {
        pos++;
        continue;
      }
      if (body[pos] === 0x5d) {
        pos++;
        return out;
      }
      fail('expected , or ]');
    }
  };

  const array = (): unknown[] => list(() => value('', ''));

  /** `data.values`: an array of columns, each packed when all its elements are primitives. */
  const columns = (): unknown[] =>
    list((before) => {
      ws();
      // Columns of a frame are equally long: the previous one sizes the next one's arrays exactly.
      const prev = before[before.length - 1];
      return body[pos] === 0x5b ? column(isPacked(prev) ? prev.length : 0) : value('', '');
    });

  const column = (sizeHint: number): PackedColumn | unknown[] => {
    // The hot loop: local cursor and inline scanning (closures over `pos` are several times slower in V8).
    // The number and string arrays are allocated on the first value of their kind: a column has one kind.
    const start = pos;
    let p = pos + 1;
    let cap = sizeHint > 0 ? (sizeHint + 8) & ~7 : 256;
    let validity = new Uint8Array(cap >> 3);
    let nums = EMPTY_F64;
    let strStart = EMPTY_I32;
    let strEnd = EMPTY_I32;
    let tags = new Uint8Array(cap);
    let escaped: Map<number, string> | null = null;
    let len = 0;
    let nullCount = 0;
    let kinds = 0;
    let allSafeInt = true;
    let c = body[p];
    while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = body[++p];
    if (c === 0x5d) {
      pos = p + 1;
      return { packed: true, length: 0, nullCount: 0, validity, kinds: 0, nums, allSafeInt, src: body, strStart, strEnd, escaped, tags };
    }
    for (;;) {
      if (len === cap) {
        cap *= 2;
        const v = new Uint8Array(cap >> 3);
        v.set(validity);
        validity = v;
        if (nums.length > 0) {
          const nn = new Float64Array(cap);
          nn.set(nums);
          nums = nn;
        }
        if (strStart.length > 0) {
          const ss = new Int32Array(cap);
          ss.set(strStart);
          strStart = ss;
          const se = new Int32Array(cap);
          se.set(strEnd);
          strEnd = se;
        }
        const tt = new Uint8Array(cap);
        tt.set(tags);
        tags = tt;
      }
      c = body[p];
      while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = body[++p];
      if (c === 0x22) {
        const s0 = ++p;
        let esc = false;
        for (;;) {
          if (p >= n) {
            pos = p;
            fail('unterminated string');
          }
          c = body[p];
          if (c === 0x22) break;
          if (c === 0x5c) {
            esc = true;
            p += 2;
          } else if (c < 0x20) {
            pos = p;
            fail('control character in string');
          } else p++;
        }
        if (esc) (escaped ??= new Map()).set(len, decodeString(s0, p, true));
        if (strStart.length === 0) {
          strStart = new Int32Array(cap);
          strEnd = new Int32Array(cap);
        }
        strStart[len] = s0;
        strEnd[len] = p;
        p++;
        tags[len] = TAG_STRING;
        kinds |= KIND_STRING;
        validity[len >> 3] |= 1 << (len & 7);
      } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
        // Integers of up to 15 digits inline; anything else through number() (correct rounding).
        const s0 = p;
        const neg = c === 0x2d;
        if (neg) c = body[++p];
        let v = 0;
        const d0 = p;
        while (c >= 0x30 && c <= 0x39) {
          v = v * 10 + (c - 0x30);
          c = body[++p];
        }
        const digits = p - d0;
        if (nums.length === 0) nums = new Float64Array(cap);
        if (digits > 0 && digits <= 15 && (digits === 1 || body[d0] !== 0x30) && c !== 0x2e && c !== 0x65 && c !== 0x45) {
          nums[len] = neg ? -v : v;
        } else {
          pos = s0;
          nums[len] = number();
          if (!safeInt) allSafeInt = false;
          p = pos;
        }
        tags[len] = TAG_NUMBER;
        kinds |= KIND_NUMBER;
        validity[len >> 3] |= 1 << (len & 7);
      } else if (c === 0x6e) {
        pos = p;
        literal('null', null);
        p = pos;
        nullCount++;
      } else if (c === 0x74 || c === 0x66) {
        pos = p;
        tags[len] = c === 0x74 ? (literal('true', TAG_TRUE) as number) : (literal('false', TAG_FALSE) as number);
        p = pos;
        kinds |= KIND_BOOL;
        validity[len >> 3] |= 1 << (len & 7);
      } else {
        // Objects or arrays in a column: not a frame column of ours; read it as plain JSON.
        pos = start;
        return array();
      }
      len++;
      c = body[p];
      while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = body[++p];
      if (c === 0x2c) {
        p++;
        continue;
      }
      if (c === 0x5d) {
        p++;
        break;
      }
      pos = p;
      fail('expected , or ]');
    }
    pos = p;
    return { packed: true, length: len, nullCount, validity, kinds, nums, allSafeInt, src: body, strStart, strEnd, escaped, tags };
  };

  const v = value('', '');
  ws();
  if (pos !== n) fail('trailing characters');
  return v;
}
