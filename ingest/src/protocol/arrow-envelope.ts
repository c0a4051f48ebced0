/**
 * The binary answer of `POST /api/v1/query` for clients that ask for it with
 * `Accept: application/vnd.netwatch.arrow-frames`: per refId, its frames as Arrow IPC files (exactly the bytes
 * Grafana's `DataResponse.frames` carries, arrow.ts), or its coded error and status. The Grafana plugin passes
 * the files through without decoding them. JSON stays the default answer.
 *
 * Layout (integers little-endian), docs/protocol.md "Arrow frames":
 *
 *   0   4  magic "NWAF"
 *   4   1  envelope version (1)
 *   5   3  reserved, zero
 *   8   4  header length H (uint32)
 *  12   H  header: UTF-8 JSON {"results":[{"refId":"A","frames":[len, ...]}, {"refId":"B","error":{...},"status":400}]}
 *          zero padding to a multiple of 8
 *          the frames' Arrow files in header order, each followed by zero padding to a multiple of 8
 *
 * The body ends exactly after the last file's padding. Files start 8-aligned (relative to the body start) so
 * a reader may view their buffers in place. A reader trusts no length: every one is checked against what is
 * left, the sum against the body size, and each file's magic at both ends (decodeArrowFrames).
 */
/** A refId's coded error, as in the JSON answer (`QueryResult.error`); codes are kept as sent, even ones this reader does not know. */
export interface ResultError {
  code: string;
  message: string;
  path?: string;
}

export const ARROW_FRAMES_MEDIA_TYPE = 'application/vnd.netwatch.arrow-frames';
export const ARROW_FRAMES_VERSION = 1;

/** "NWAF" */
const ENVELOPE_MAGIC = [0x4e, 0x57, 0x41, 0x46];
const PREFIX_BYTES = 12;
/** The header lists refIds, lengths and error messages of at most 50 queries: 16 MiB is far beyond any honest one. */
export const MAX_ENVELOPE_HEADER_BYTES = 16 * 1024 * 1024;
/** The smallest Arrow IPC file: magic and padding (8), footer length (4), magic (6). */
const MIN_ARROW_FILE_BYTES = 18;
const ARROW_FILE_MAGIC = [0x41, 0x52, 0x52, 0x4f, 0x57, 0x31]; // "ARROW1"

/** One refId's answer: its frames as Arrow IPC files, or its error. */
export type ArrowFramesResult = { refId: string; frames: Uint8Array[] } | { refId: string; error: ResultError; status: number };

export class ArrowFramesError extends Error {
  override readonly name = 'ArrowFramesError';
}

const pad8 = (n: number) => (n + 7) & ~7;

/** The envelope of `results` (refIds unique), in one buffer. */
export function encodeArrowFrames(results: readonly ArrowFramesResult[]): Buffer {
  const header = {
    results: results.map((r) => ('frames' in r ? { refId: r.refId, frames: r.frames.map((f) => f.length) } : { refId: r.refId, error: r.error, status: r.status })),
  };
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  if (headerBytes.length > MAX_ENVELOPE_HEADER_BYTES) throw new ArrowFramesError(`envelope header of ${headerBytes.length} bytes is over ${MAX_ENVELOPE_HEADER_BYTES}`);
  let size = pad8(PREFIX_BYTES + headerBytes.length);
  for (const r of results) if ('frames' in r) for (const f of r.frames) size += pad8(f.length);
  // allocUnsafe: every byte is written below, padding included.
  const out = Buffer.allocUnsafe(size);
  out.set(ENVELOPE_MAGIC, 0);
  out[4] = ARROW_FRAMES_VERSION;
  out[5] = out[6] = out[7] = 0;
  out.writeUInt32LE(headerBytes.length, 8);
  out.set(headerBytes, PREFIX_BYTES);
  let at = PREFIX_BYTES + headerBytes.length;
  out.fill(0, at, pad8(at));
  at = pad8(at);
  for (const r of results) {
    if (!('frames' in r)) continue;
    for (const f of r.frames) {
      out.set(f, at);
      out.fill(0, at + f.length, at + pad8(f.length));
      at += pad8(f.length);
    }
  }
  return out;
}

const HEX = (b: Uint8Array) => Buffer.from(b).toString('hex');

function isResultError(v: unknown): v is ResultError {
  if (!v || typeof v !== 'object') return false;
  const e = v as Record<string, unknown>;
  return typeof e.code === 'string' && typeof e.message === 'string' && (e.path === undefined || typeof e.path === 'string');
}

/**
 * Reads an envelope without trusting any of its lengths: the answer per refId, each frame a view into `body`
 * (no copy). Throws ArrowFramesError naming what is wrong and where.
 */
export function decodeArrowFrames(body: Uint8Array): Map<string, { frames: Uint8Array[] } | { error: ResultError; status: number }> {
  const fail = (what: string): never => {
    throw new ArrowFramesError(`Arrow frames envelope: ${what}`);
  };
  if (body.length < PREFIX_BYTES) fail(`truncated: ${body.length} bytes, the envelope prefix alone is ${PREFIX_BYTES}`);
  for (let i = 0; i < 4; i++) if (body[i] !== ENVELOPE_MAGIC[i]) fail(`bad magic ${HEX(body.subarray(0, 4))}, expected ${HEX(Uint8Array.from(ENVELOPE_MAGIC))} ("NWAF")`);
  if (body[4] !== ARROW_FRAMES_VERSION) fail(`version ${body[4]} is not supported (this reader knows version ${ARROW_FRAMES_VERSION})`);
  if (body[5] !== 0 || body[6] !== 0 || body[7] !== 0) fail(`reserved bytes 5-7 are ${HEX(body.subarray(5, 8))}, expected zero`);
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const headerLength = view.getUint32(8, true);
  if (headerLength > MAX_ENVELOPE_HEADER_BYTES) fail(`header length ${headerLength} is over the limit of ${MAX_ENVELOPE_HEADER_BYTES}`);
  if (PREFIX_BYTES + headerLength > body.length) fail(`truncated: header of ${headerLength} bytes, only ${body.length - PREFIX_BYTES} after the prefix`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body.subarray(PREFIX_BYTES, PREFIX_BYTES + headerLength)));
  } catch (e) {
    fail(`header is not UTF-8 JSON (${(e as Error).message})`);
  }
  const list = (header as { results?: unknown } | null)?.results;
  if (!Array.isArray(list)) fail('header has no "results" array');

  const out = new Map<string, { frames: Uint8Array[] } | { error: ResultError; status: number }>();
  let at = pad8(PREFIX_BYTES + headerLength);
  for (let i = PREFIX_BYTES + headerLength; i < Math.min(at, body.length); i++) if (body[i] !== 0) fail(`non-zero padding at byte ${i}`);
  for (const [k, r] of (list as unknown[]).entries()) {
    const item = r as Record<string, unknown> | null;
    const refId = item?.refId;
    if (typeof refId !== 'string' || refId === '') fail(`results[${k}] has no refId`);
    const name = `refId ${JSON.stringify(refId)}`;
    if (out.has(refId as string)) fail(`${name} appears twice`);
    if (item!.frames !== undefined) {
      const lengths = item!.frames;
      if (!Array.isArray(lengths)) fail(`${name}: "frames" is not an array of lengths`);
      const frames: Uint8Array[] = [];
      for (const [j, n] of (lengths as unknown[]).entries()) {
        if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < MIN_ARROW_FILE_BYTES) fail(`${name} frame ${j}: length ${JSON.stringify(n)} is not a valid Arrow file size`);
        const len = n as number;
        if (at + len > body.length) fail(`truncated: ${name} frame ${j} needs ${len} bytes at offset ${at}, the body has ${body.length}`);
        const file = body.subarray(at, at + len);
        for (let m = 0; m < 6; m++) {
          if (file[m] !== ARROW_FILE_MAGIC[m] || file[len - 6 + m] !== ARROW_FILE_MAGIC[m]) fail(`${name} frame ${j} (offset ${at}, ${len} bytes) is not an Arrow IPC file: no ARROW1 magic at both ends`);
        }
        const footer = new DataView(file.buffer, file.byteOffset, file.byteLength).getInt32(len - 10, true);
        if (footer <= 0 || footer > len - MIN_ARROW_FILE_BYTES) fail(`${name} frame ${j}: footer length ${footer} does not fit its ${len}-byte file`);
        const end = Math.min(at + pad8(len), body.length);
        for (let p = at + len; p < end; p++) if (body[p] !== 0) fail(`non-zero padding at byte ${p}`);
        if (at + pad8(len) > body.length) fail(`truncated: ${name} frame ${j} padding runs past the body's ${body.length} bytes`);
        frames.push(file);
        at += pad8(len);
      }
      out.set(refId as string, { frames });
    } else {
      const status = item!.status;
      if (!isResultError(item!.error)) fail(`${name} has neither "frames" nor a coded "error"`);
      if (typeof status !== 'number' || !Number.isInteger(status) || status < 400 || status > 599) fail(`${name}: error status ${JSON.stringify(status)} is not an HTTP error status`);
      const e = item!.error as ResultError;
      out.set(refId as string, { error: e.path === undefined ? { code: e.code, message: e.message } : { code: e.code, message: e.message, path: e.path }, status: status as number });
    }
  }
  if (at !== body.length) fail(`${body.length - at} trailing bytes after the last frame (offset ${at})`);
  return out;
}
