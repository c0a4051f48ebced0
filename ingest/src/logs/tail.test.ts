/**
 * The file tailer and its positions on real files in a temporary directory: rotation by rename, copytruncate,
 * partial lines, a restart in the middle of a file, and lines that are binary or too long. Every test checks the
 * complete list of lines received: nothing lost, nothing repeated.
 */
import { appendFileSync, mkdtempSync, readFileSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describeWithData, testDataPath } from '../testing/data';
import { LineSplitter } from './lines';
import { PositionStore } from './positions';
import { FileTailer, type FilePosition } from './tail';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'netwatch-tail-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function collector() {
  const lines: string[] = [];
  let overlong = 0;
  return { lines, sink: { line: (l: string) => lines.push(l), overlong: () => overlong++ }, overlong: () => overlong };
}

const numbered = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `line ${from + i}`);

describe('FileTailer', () => {
  it('starts at the end of an existing file by default, and at its start with fromStart', () => {
    const f = path.join(dir, 'a.log');
    writeFileSync(f, 'old 1\nold 2\n');
    const end = collector();
    const t = new FileTailer({ path: f, position: null, fromStart: false });
    t.poll(end.sink);
    appendFileSync(f, 'new 1\n');
    t.poll(end.sink);
    const start = collector();
    new FileTailer({ path: f, position: null, fromStart: true }).poll(start.sink);
    expect([end.lines, start.lines]).toEqual([['new 1'], ['old 1', 'old 2', 'new 1']]);
  });

  it('holds a partial last line until its newline arrives, and resumes before it after a restart', () => {
    const f = path.join(dir, 'a.log');
    writeFileSync(f, '');
    const c = collector();
    const t = new FileTailer({ path: f, position: null, fromStart: true });
    t.poll(c.sink);
    appendFileSync(f, 'complete\npart');
    t.poll(c.sink);
    expect(c.lines).toEqual(['complete']);
    const saved = t.position()!;
    expect(saved.offset).toBe('complete\n'.length);
    appendFileSync(f, 'ial\n');
    t.poll(c.sink);
    expect(c.lines).toEqual(['complete', 'partial']);
    // A restart from the position saved while the line was partial reads it whole, once.
    const after = collector();
    new FileTailer({ path: f, position: saved, fromStart: false }).poll(after.sink);
    expect(after.lines).toEqual(['partial']);
  });

  it('reads the rest of a file renamed away, then the new file from its start (logrotate create)', () => {
    const f = path.join(dir, 'auth.log');
    writeFileSync(f, `${numbered(0, 3).join('\n')}\n`);
    const c = collector();
    const t = new FileTailer({ path: f, position: null, fromStart: true });
    t.poll(c.sink);
    appendFileSync(f, 'line 3\nline 4\n');
    renameSync(f, `${f}.1`);
    // Between the rename and the create the path is missing.
    t.poll(c.sink);
    appendFileSync(`${f}.1`, 'line 5\n'); // a writer still holding the old file
    writeFileSync(f, 'line 6\nline 7\n');
    t.poll(c.sink);
    appendFileSync(f, 'line 8\n');
    t.poll(c.sink);
    expect(c.lines).toEqual(numbered(0, 9));
    expect([t.counters.rotations, t.counters.truncations, t.counters.missing]).toEqual([1, 0, 1]);
  });

  it('starts again from the start of a file truncated in place (copytruncate), also when it grew past the old offset', () => {
    const f = path.join(dir, 'auth.log');
    writeFileSync(f, 'a 1\na 2\n');
    const c = collector();
    const t = new FileTailer({ path: f, position: null, fromStart: true });
    t.poll(c.sink);
    truncateSync(f, 0);
    appendFileSync(f, 'b 1\n');
    t.poll(c.sink);
    // Truncated and rewritten longer than before between two polls: the file's first bytes changed.
    writeFileSync(f, 'c 1 a longer first line than before\nc 2\n');
    t.poll(c.sink);
    expect(c.lines).toEqual(['a 1', 'a 2', 'b 1', 'c 1 a longer first line than before', 'c 2']);
    expect(t.counters.truncations).toBe(2);
  });

  it('after a restart resumes where it stopped, reads a file rotated while it was down from its start, and refuses a rewritten one', () => {
    const f = path.join(dir, 'auth.log');
    writeFileSync(f, 'one\ntwo\n');
    const t1 = new FileTailer({ path: f, position: null, fromStart: true });
    const c1 = collector();
    t1.poll(c1.sink);
    const saved = t1.position()!;
    t1.close();
    appendFileSync(f, 'three\n');
    const c2 = collector();
    const t2 = new FileTailer({ path: f, position: saved, fromStart: false });
    t2.poll(c2.sink);
    // Down again; meanwhile the file is rotated: the new file is all new.
    const saved2 = t2.position()!;
    t2.close();
    renameSync(f, `${f}.1`);
    writeFileSync(f, 'four\n');
    const c3 = collector();
    const t3 = new FileTailer({ path: f, position: saved2, fromStart: false });
    t3.poll(c3.sink);
    // Same inode, rewritten with other content as long as before: the saved offset no longer belongs to it.
    const saved3 = t3.position()!;
    t3.close();
    writeFileSync(f, 'FIVE\n');
    const c4 = collector();
    new FileTailer({ path: f, position: saved3, fromStart: false }).poll(c4.sink);
    expect([c1.lines, c2.lines, c3.lines, c4.lines]).toEqual([['one', 'two'], ['three'], ['four'], ['FIVE']]);
    expect(t3.counters.rotations).toBe(1);
  });

  it('drops a line longer than the limit without holding it, and counts it', () => {
    const f = path.join(dir, 'a.log');
    writeFileSync(f, '');
    const c = collector();
    const t = new FileTailer({ path: f, position: null, fromStart: true, maxLineBytes: 1024, readBytes: 512 });
    t.poll(c.sink);
    appendFileSync(f, `short\n${'x'.repeat(5000)}`);
    t.poll(c.sink);
    appendFileSync(f, `${'y'.repeat(5000)}\nafter\n`);
    t.poll(c.sink);
    expect([c.lines, c.overlong(), t.counters.overlong]).toEqual([['short', 'after'], 1, 1]);
  });
});

describeWithData('FileTailer on a real log', () => {
  it('delivers every line of a real auth.log written in uneven pieces, across a restart in the middle of a line, once each', () => {
    const real = readFileSync(testDataPath('logs', 'elastic_examples_auth.log'));
    const want = real.toString('utf8').split('\n').slice(0, -1);
    const f = path.join(dir, 'auth.log');
    writeFileSync(f, '');
    const store = new PositionStore(dir);
    const got: string[] = [];
    const sink = { line: (l: string) => got.push(l), overlong: () => got.push('<overlong>') };
    let t = new FileTailer({ path: f, position: null, fromStart: true, readBytes: 777 });
    let o = 0;
    let step = 0;
    while (o < real.length) {
      const n = 1 + ((step * 7919) % 20000);
      appendFileSync(f, real.subarray(o, o + n));
      o += n;
      step++;
      t.poll(sink);
      if (step === 30) {
        // Restart through the position file, in the middle of a line.
        store.save({ files: { [f]: t.position()! } });
        t.close();
        t = new FileTailer({ path: f, position: store.load().positions.files[f], fromStart: false, readBytes: 777 });
      }
    }
    t.poll(sink);
    expect(got.length).toBe(want.length);
    expect(got).toEqual(want);
  });
});

describe('PositionStore', () => {
  it('keeps positions across a save and a load, and ignores a damaged file', () => {
    const store = new PositionStore(dir);
    const p: FilePosition = { dev: 1, ino: 2, offset: 3, head: 'abcd' };
    store.save({ files: { '/var/log/auth.log': p }, journald: { cursor: 's=1;i=2' } });
    expect(store.load()).toEqual({ positions: { files: { '/var/log/auth.log': p }, journald: { cursor: 's=1;i=2' } }, invalid: 0, error: null });
    writeFileSync(store.file, '{"files": {"/a": {"dev": "x"}, "/b": {"dev": 1, "ino": 2, "offset": 5, "head": ""}}}');
    expect(store.load()).toEqual({ positions: { files: { '/b': { dev: 1, ino: 2, offset: 5, head: '' } }, journald: null }, invalid: 1, error: null });
    writeFileSync(store.file, 'not json');
    expect(store.load().error).toMatch(/not JSON/);
  });
});

describe('LineSplitter', () => {
  it('hands on complete lines, whatever the chunking, and multi-byte characters split between chunks', () => {
    const text = 'héllo wörld\nzwei\n€uro\nend';
    const bytes = Buffer.from(text);
    for (const size of [1, 2, 3, 5, 64]) {
      const c = collector();
      const s = new LineSplitter();
      for (let o = 0; o < bytes.length; o += size) s.push(bytes.subarray(o, o + size), c.sink);
      s.finish(c.sink);
      expect(c.lines).toEqual(['héllo wörld', 'zwei', '€uro', 'end']);
    }
  });
});
