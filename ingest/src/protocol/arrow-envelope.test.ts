import { tableFromIPC } from 'apache-arrow';
import { ARROW_FRAMES_VERSION, ArrowFramesError, decodeArrowFrames, encodeArrowFrames, frameToArrow, type ArrowFramesResult } from './arrow';
import { column, frame } from './frame';

const file = (name: string, refId: string, rows: number) => {
  const f = frame(name, [column('time', 'time', Array.from({ length: rows }, (_, i) => 1795341600000 + i)), column('src_ip', 'string', Array.from({ length: rows }, (_, i) => `10.0.0.${i % 256}`))]);
  f.schema.refId = refId;
  return frameToArrow(f);
};

/** A result list with frames of odd sizes (so padding is exercised), an empty refId and two errors. */
const RESULTS: ArrowFramesResult[] = [
  { refId: 'A', frames: [file('flows', 'A', 3), file('flows', 'A', 17)] },
  { refId: 'B', error: { code: 'NETWATCH_ERR_BAD_CIDR', message: '"10.0.0.0/33": prefix length 33 out of range 0-32', path: '/queries/1/cidr/0' }, status: 400 },
  { refId: 'C', frames: [] },
  { refId: 'é "quoted"', frames: [file('pings', 'é "quoted"', 1)] },
  { refId: 'E', error: { code: 'NETWATCH_ERR_NOT_IMPLEMENTED', message: 'query kind "logs" is not implemented' }, status: 501 },
];

const asObject = (m: ReturnType<typeof decodeArrowFrames>) => Object.fromEntries([...m].map(([k, v]) => [k, 'frames' in v ? { frames: v.frames.map((f) => Buffer.from(f).toString('hex')) } : v]));
const want = Object.fromEntries(RESULTS.map((r) => [r.refId, 'frames' in r ? { frames: r.frames.map((f) => Buffer.from(f).toString('hex')) } : { error: r.error, status: r.status }]));

/** Byte offsets of the envelope built from RESULTS: where the header ends and where each file starts. */
function offsets(body: Buffer) {
  const headerLength = body.readUInt32LE(8);
  const starts: number[] = [];
  let at = (12 + headerLength + 7) & ~7;
  for (const r of RESULTS) if ('frames' in r) for (const f of r.frames) starts.push(at), (at += (f.length + 7) & ~7);
  return { headerLength, starts, end: at };
}

describe('Arrow frames envelope', () => {
  const body = encodeArrowFrames(RESULTS);

  it('round-trips every refId: frames byte for byte, errors with code, message, path and status', () => {
    expect(asObject(decodeArrowFrames(body))).toEqual(want);
  });

  it('lays out magic, version, header length and 8-aligned zero-padded files, ending exactly after the last one', () => {
    const { headerLength, starts, end } = offsets(body);
    expect([body.subarray(0, 4).toString('latin1'), body[4], [...body.subarray(5, 8)]]).toEqual(['NWAF', ARROW_FRAMES_VERSION, [0, 0, 0]]);
    expect(JSON.parse(body.subarray(12, 12 + headerLength).toString('utf8'))).toEqual({
      results: RESULTS.map((r) => ('frames' in r ? { refId: r.refId, frames: r.frames.map((f) => f.length) } : { refId: r.refId, error: r.error, status: r.status })),
    });
    expect(starts.map((s) => s % 8)).toEqual([0, 0, 0]);
    expect(starts.map((s) => body.subarray(s, s + 6).toString('latin1'))).toEqual(['ARROW1', 'ARROW1', 'ARROW1']);
    expect(end).toBe(body.length);
  });

  it('gives frames apache-arrow reads in place, as views of the body', () => {
    const got = decodeArrowFrames(body).get('A') as { frames: Uint8Array[] };
    expect(got.frames.map((f) => f.buffer === body.buffer)).toEqual([true, true]);
    expect(got.frames.map((f) => tableFromIPC(f).numRows)).toEqual([3, 17]);
    expect(tableFromIPC(got.frames[1]).schema.metadata.get('refId')).toBe('A');
  });

  it('encodes an answer without results', () => {
    expect(decodeArrowFrames(encodeArrowFrames([]))).toEqual(new Map());
  });

  const { headerLength, starts } = offsets(body);
  const edit = (f: (b: Buffer) => Buffer | void) => {
    const b = Buffer.from(body);
    return f(b) ?? b;
  };
  const withHeader = (header: unknown) => {
    const h = Buffer.from(JSON.stringify(header));
    const prefix = Buffer.alloc(12);
    prefix.write('NWAF', 0, 'latin1');
    prefix[4] = 1;
    prefix.writeUInt32LE(h.length, 8);
    const pad = Buffer.alloc(((12 + h.length + 7) & ~7) - 12 - h.length);
    return Buffer.concat([prefix, h, pad]);
  };

  it.each<[string, Buffer, RegExp]>([
    ['an empty body', Buffer.alloc(0), /truncated: 0 bytes, the envelope prefix alone is 12/],
    ['a JSON answer', Buffer.from('{"results":{"A":{"frames":[]}}}'), /bad magic 7b227265, expected 4e574146/],
    ['an unknown version', edit((b) => void (b[4] = 2)), /version 2 is not supported \(this reader knows version 1\)/],
    ['non-zero reserved bytes', edit((b) => void (b[6] = 1)), /reserved bytes 5-7 are 000100, expected zero/],
    ['a header length beyond the body', edit((b) => void b.writeUInt32LE(body.length, 8)), new RegExp(`truncated: header of ${body.length} bytes, only ${body.length - 12} after the prefix`)],
    ['a header length over the limit', edit((b) => void b.writeUInt32LE(0xffffffff, 8)), /header length 4294967295 is over the limit of 16777216/],
    ['a header cut in the middle', body.subarray(0, 12 + (headerLength >> 1)), /truncated: header of/],
    ['a header that is not JSON', edit((b) => void b.write('}', 12, 'latin1')), /header is not UTF-8 JSON/],
    ['a header without results', withHeader({ frames: [] }), /header has no "results" array/],
    ['a truncated last frame', body.subarray(0, body.length - 20), /truncated: refId "é \\"quoted\\"" frame 0 needs \d+ bytes at offset \d+, the body has \d+/],
    ['the body cut right after the header', body.subarray(0, starts[0]), /truncated: refId "A" frame 0 needs \d+ bytes at offset \d+/],
    ['trailing bytes', Buffer.concat([body, Buffer.alloc(8)]), /8 trailing bytes after the last frame/],
    ['a frame that is not an Arrow file', edit((b) => void b.write('XXXXXX', starts[1], 'latin1')), /refId "A" frame 1 \(offset \d+, \d+ bytes\) is not an Arrow IPC file: no ARROW1 magic at both ends/],
    ['a negative frame length', withHeader({ results: [{ refId: 'A', frames: [-8] }] }), /refId "A" frame 0: length -8 is not a valid Arrow file size/],
    ['a fractional frame length', withHeader({ results: [{ refId: 'A', frames: [20.5] }] }), /length 20.5 is not a valid Arrow file size/],
    ['a huge frame length', withHeader({ results: [{ refId: 'A', frames: [2 ** 53] }] }), /length 9007199254740992 is not a valid Arrow file size/],
    ['a frame length given as text', withHeader({ results: [{ refId: 'A', frames: ['100'] }] }), /length "100" is not a valid Arrow file size/],
    ['a result without refId', withHeader({ results: [{ frames: [] }] }), /results\[0\] has no refId/],
    ['a refId twice', withHeader({ results: [{ refId: 'A', frames: [] }, { refId: 'A', frames: [] }] }), /refId "A" appears twice/],
    ['an error without code', withHeader({ results: [{ refId: 'A', error: { message: 'x' }, status: 500 }] }), /refId "A" has neither "frames" nor a coded "error"/],
    ['an error with status 200', withHeader({ results: [{ refId: 'A', error: { code: 'X', message: 'x' }, status: 200 }] }), /refId "A": error status 200 is not an HTTP error status/],
  ])('refuses %s with a clear ArrowFramesError', (_name, bad, message) => {
    expect(() => decodeArrowFrames(bad)).toThrow(ArrowFramesError);
    expect(() => decodeArrowFrames(bad)).toThrow(message);
  });

  it('refuses non-zero padding and a footer length that does not fit its file', () => {
    const lastPad = body.length - 1;
    const lastFile = RESULTS[3] as { frames: Uint8Array[] };
    const padded = (lastFile.frames[0].length & 7) !== 0;
    expect(padded).toBe(true);
    expect(() => decodeArrowFrames(edit((b) => void (b[lastPad] = 1)))).toThrow(new RegExp(`non-zero padding at byte ${lastPad}`));
    const footerAt = starts[0] + (RESULTS[0] as { frames: Uint8Array[] }).frames[0].length - 10;
    expect(() => decodeArrowFrames(edit((b) => void b.writeInt32LE(0x7fffffff, footerAt)))).toThrow(/refId "A" frame 0: footer length 2147483647 does not fit its \d+-byte file/);
  });

  it('never reads past a body that is a view into a larger buffer', () => {
    // The envelope inside bigger memory (as a pooled Buffer may be): a truncation must still be seen.
    const big = Buffer.concat([Buffer.alloc(16), body, Buffer.from(file('x', 'A', 2))]);
    expect(asObject(decodeArrowFrames(big.subarray(16, 16 + body.length)))).toEqual(want);
    expect(() => decodeArrowFrames(big.subarray(16, 16 + body.length - 8))).toThrow(/truncated/);
  });
});
