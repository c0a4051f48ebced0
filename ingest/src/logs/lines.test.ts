/**
 * The offline read loop (readLinesSync) and the splitter together hand on every line once, whole, whatever the
 * read size: the lines of a block (bytes()) and the decoded ones (line()), in order, overlong ones counted.
 */
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LineSplitter, readLinesSync, type LineSink } from './lines';

const MAX = 256;

type Got = { lines: string[]; viaLine: number };

function collect(): { sink: LineSink; got: Got } {
  const got: Got = { lines: [], viaLine: 0 };
  const sink: LineSink = {
    line: (t) => {
      got.lines.push(t);
      got.viaLine++;
    },
    // As the summary scan does: split the block itself, apply the limit itself.
    bytes: (b, max) => {
      for (const piece of b.toString('latin1').split('\n')) got.lines.push(piece.length > max ? '<overlong>' : piece);
    },
    overlong: () => {
      got.lines.push('<overlong>');
    },
  };
  return { sink, got };
}

/** What the lines of `content` are, decoded, with those over MAX bytes as "<overlong>". */
function want(content: Buffer): string[] {
  const pieces: Buffer[] = [];
  let s = 0;
  for (let i = content.indexOf(10); i >= 0; i = content.indexOf(10, i + 1)) {
    pieces.push(content.subarray(s, i));
    s = i + 1;
  }
  if (s < content.length) pieces.push(content.subarray(s));
  return pieces.map((p) => (p.length > MAX ? '<overlong>' : p.toString('utf8')));
}

function readAll(content: Buffer, bufSize: number): Got {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'netwatch-lines-'));
  try {
    const file = path.join(dir, 'x.log');
    writeFileSync(file, content);
    const fd = openSync(file, 'r');
    const { sink, got } = collect();
    try {
      readLinesSync(fd, new LineSplitter(MAX), sink, Buffer.alloc(bufSize));
    } finally {
      closeSync(fd);
    }
    return got;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const ASCII = Array.from({ length: 40 }, (_, i) => `Mar 27 13:06:${String(i % 60).padStart(2, '0')} host sshd[${100 + i}]: ${'x'.repeat((i * 7) % 90)}`).join('\n');
const MIXED = [
  'short',
  '',
  'crlf line\r',
  'a'.repeat(MAX),
  'b'.repeat(MAX + 1),
  'c'.repeat(3 * MAX),
  'caf\u00e9 and \u00fc',
  ASCII,
  'last line without a newline',
].join('\n');

describe('readLinesSync', () => {
  it.each([
    ['ASCII lines', Buffer.from(`${ASCII}\n`)],
    ['ASCII lines, no final newline', Buffer.from(ASCII)],
    ['overlong, CRLF, empty, non-ASCII and invalid UTF-8 lines', Buffer.concat([Buffer.from(MIXED), Buffer.from([10, 0x66, 0xff, 0x6f, 10])])],
    ['nothing', Buffer.alloc(0)],
    ['one newline', Buffer.from('\n')],
  ])('hands on every line of %s once, in order, at every read size', (_name, content) => {
    for (const size of [1, 7, 64, 100, 257, 1000, 1 << 16]) {
      expect([size, readAll(content, size).lines]).toEqual([size, want(content)]);
    }
  });

  it('gives every ASCII line that fits the buffer in a block, decoding one by one only a last line without newline', () => {
    for (const size of [200, 1000, 4096]) {
      expect([size, readAll(Buffer.from(`${ASCII}\n${ASCII}\n`), size).viaLine]).toEqual([size, 0]);
      expect([size, readAll(Buffer.from(`${ASCII}\n${ASCII}`), size).viaLine]).toEqual([size, 1]);
    }
  });
});
