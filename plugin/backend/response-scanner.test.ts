import { column, frame, type Frame, type FieldType } from '@netwatch/ingest/protocol';
import { frameToArrow as ingestFrameToArrow } from '@netwatch/ingest/protocol/arrow';
import { frameToArrow, frameToJSON } from './frames';
import { isPacked, scanQueryResponse, unpack } from './response-scanner';

/** The scanned value with every packed column turned back into an array: must equal JSON.parse. */
function unpacked(v: unknown): unknown {
  if (isPacked(v)) return unpack(v);
  if (Array.isArray(v)) return v.map(unpacked);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unpacked(x)]));
  return v;
}

const enc = (s: string) => Buffer.from(s, 'utf8');

let seed = 12345;
function rnd(): number {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x7fffffff;
}
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];

const STRINGS = ['10.0.0.1', '', 'tcp', 'é→ 🙂', 'quote " and backslash \\', 'line\nbreak\ttab', '\u0001ctl', '\ud800 lone surrogate', 'Failed password for root from 203.0.113.9 port 52144 ssh2', '2001:db8::1'];
const NUMBERS = [0, -0, 1, -1, 42, 65535, 1795341600000, 2 ** 53 - 1, 2 ** 53 + 2, -(2 ** 40), 1.5, -2.25, 0.1, 1e-7, 1e21, 123456789012345680000, 3.141592653589793, 5e-324];

function randomFrame(rows: number, refId: string): Frame {
  const types: FieldType[] = ['time', 'number', 'number', 'string', 'string', 'boolean'];
  return frame(
    pick(['flows', 'stats', 'a "quoted" name']),
    types.map((t, i) =>
      column(
        `${t}_${i}`,
        t,
        Array.from({ length: rows }, () => {
          if (rnd() < 0.1) return null;
          if (t === 'time') return 1795341600000 + Math.floor(rnd() * 1e7) + (rnd() < 0.3 ? 0.25 : 0);
          if (t === 'number') return i === 1 ? Math.floor(rnd() * 1e6) : pick(NUMBERS);
          if (t === 'string') return pick(STRINGS);
          return rnd() < 0.5;
        }),
        i === 2 ? { labels: { ip: '10.0.0.1' }, config: { unit: 'bytes' } } : undefined,
      ),
    ),
    { preferredVisualisationType: 'table' },
  );
}

describe('scanQueryResponse', () => {
  it('reads a whole query answer like JSON.parse, frames, errors and odd keys included', () => {
    const answer = {
      results: {
        A: { frames: [randomFrame(50, 'A'), randomFrame(0, 'A')] },
        B: { error: { code: 'NETWATCH_ERR_BAD_CIDR', message: 'bad "cidr" \u00e9', path: '/queries/1/cidr/0' }, status: 400 },
        C: { frames: [] },
        __proto__: { frames: [] },
      },
      extra: [1, 'two', { three: [3, [4]] }, true, null, -0.5e-3],
    };
    const text = JSON.stringify(answer, null, 1);
    expect(unpacked(scanQueryResponse(enc(text)))).toEqual(JSON.parse(text));
  });

  it('packs each column under data.values and leaves other arrays as arrays', () => {
    const got = scanQueryResponse(enc('{"data":{"values":[[1,null,2],["a",null],[true,false],[[1]],[]]},"values":[[1]]}')) as { data: { values: unknown[] }; values: unknown[] };
    expect(got.data.values.map((c) => (isPacked(c) ? `packed:${c.length}/${c.nullCount}` : 'array'))).toEqual(['packed:3/1', 'packed:2/1', 'packed:2/0', 'array', 'packed:0/0']);
    expect(got.values).toEqual([[1]]);
  });

  it.each(['{"a":1', '{"a":1}x', '{"a":01}', '{"a":1.}', '{"a":-}', '{"a":1e}', '{"a":"x}', '{"a":tru}', '[1,]', '{"a" 1}', '{"a":"\u0001"}'])('throws on malformed JSON %j, as JSON.parse does', (text) => {
    expect(() => JSON.parse(text)).toThrow(SyntaxError);
    expect(() => scanQueryResponse(enc(text))).toThrow(SyntaxError);
  });

  it('gives Arrow files byte-identical to the ingest service’s encoder of the JSON.parse result, over 200 random frames', () => {
    for (let k = 0; k < 200; k++) {
      const f = randomFrame(1 + Math.floor(rnd() * 40), 'A');
      f.schema.refId = 'A';
      const text = JSON.stringify(f);
      const scanned = scanQueryResponse(enc(text)) as Frame;
      // Buffer.equals: jest's toEqual walks a Buffer byte by byte as an object.
      // The JSON.parse path is the ingest service's own encoder: what it sends when it answers Arrow.
      expect(Buffer.from(frameToArrow(scanned)).equals(Buffer.from(ingestFrameToArrow(JSON.parse(text))))).toBe(true);
      expect(frameToJSON(scanned).equals(frameToJSON(JSON.parse(text)))).toBe(true);
    }
  });

  it('falls back to the array path for a column whose values do not match its type, with the same result or error', () => {
    const mixed = { schema: { refId: 'A', fields: [{ name: 's', type: 'string' }, { name: 'n', type: 'number' }] }, data: { values: [[1, 'a', null], ['x', 2, 3]] } };
    const text = JSON.stringify(mixed);
    expect(() => frameToArrow(JSON.parse(text))).toThrow(/field "n" row 0: expected a number/);
    expect(() => frameToArrow(scanQueryResponse(enc(text)) as Frame)).toThrow(/field "n" row 0: expected a number/);
    const ok = JSON.stringify({ ...mixed, data: { values: [[1, 'a', null], [1, 2, 3]] } });
    expect(Buffer.from(frameToArrow(scanQueryResponse(enc(ok)) as Frame))).toEqual(Buffer.from(frameToArrow(JSON.parse(ok))));
  });
});
