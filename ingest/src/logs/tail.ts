/**
 * Follows one log file the way `tail -F` does, by polling (inotify misses renames on some filesystems and says
 * nothing about NFS): reads what was appended since the last poll, survives rename-and-create rotation (the old
 * file is read to its end before the new one is opened) and copytruncate (a file shorter than the read position
 * is read again from its start), holds an incomplete last line until its newline, and reports the position of the
 * last complete line so that a restart resumes there.
 *
 * Bounded: one read buffer, and at most maxLineBytes held for an incomplete line.
 */
import { closeSync, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { LineSplitter, type LineSink } from './lines';

export interface FilePosition {
  /** Device and inode of the file the offset belongs to. */
  dev: number;
  ino: number;
  /** Byte offset just after the last complete line handed on. */
  offset: number;
  /** The first bytes of the file (hex, up to 64): tells a truncated-and-rewritten file from the one we read. */
  head: string;
}

export interface TailCounters {
  bytes: number;
  lines: number;
  overlong: number;
  rotations: number;
  truncations: number;
  /** Polls that found the file missing (between a rename and the create, or deleted). */
  missing: number;
  readErrors: number;
}

export interface TailOptions {
  path: string;
  /** Where to resume; null starts at the end of the file (or at its start with fromStart). */
  position: FilePosition | null;
  fromStart: boolean;
  maxLineBytes?: number;
  /** Bytes per read; a poll reads at most maxBytesPerPoll before yielding to the event loop. */
  readBytes?: number;
  maxBytesPerPoll?: number;
}

const HEAD_BYTES = 64;

export class FileTailer {
  readonly path: string;
  readonly counters: TailCounters = { bytes: 0, lines: 0, overlong: 0, rotations: 0, truncations: 0, missing: 0, readErrors: 0 };
  private fd: number | null = null;
  private dev = 0;
  private ino = 0;
  private offset = 0;
  private head = '';
  private readonly splitter: LineSplitter;
  private readonly buf: Buffer;
  private readonly maxBytesPerPoll: number;
  private pending: FilePosition | null;
  private readonly fromStart: boolean;
  private lastError: string | null = null;

  constructor(opts: TailOptions) {
    this.path = opts.path;
    this.splitter = new LineSplitter(opts.maxLineBytes);
    this.buf = Buffer.allocUnsafe(opts.readBytes ?? 256 * 1024);
    this.maxBytesPerPoll = opts.maxBytesPerPoll ?? 8 * 1024 * 1024;
    this.pending = opts.position;
    this.fromStart = opts.fromStart;
  }

  /** The position to persist: after the last complete line (held bytes of an incomplete one are read again). */
  position(): FilePosition | null {
    if (this.fd === null && this.ino === 0) return this.pending;
    return { dev: this.dev, ino: this.ino, offset: this.offset - this.splitter.bytesSinceNewline, head: this.head };
  }

  /** Why the file cannot be read now, or null. */
  error(): string | null {
    return this.lastError;
  }

  /**
   * Reads what is new and hands each complete line to the sink. Returns true when it stopped because of
   * maxBytesPerPoll (more is waiting).
   */
  poll(out: LineSink): boolean {
    const sink: LineSink = {
      line: (t) => {
        this.counters.lines++;
        out.line(t);
      },
      overlong: () => {
        this.counters.overlong++;
        out.overlong();
      },
    };
    let st: Stats;
    try {
      st = statSync(this.path);
    } catch (e) {
      this.counters.missing++;
      this.lastError = `${this.path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
      // Renamed away and not created again yet: finish what the old file still holds.
      if (this.fd !== null) this.drain(sink, Infinity);
      return false;
    }
    if (this.fd === null) {
      this.open(st);
      if (this.fd === null) return false;
    } else if (st.ino !== this.ino || st.dev !== this.dev) {
      // Rotated by rename: the old descriptor still reads the old file; take its last lines, then the new file.
      this.drain(sink, Infinity);
      this.splitter.finish(sink);
      this.close();
      this.counters.rotations++;
      this.pending = null;
      this.openAt(st, 0);
      if (this.fd === null) return false;
    }
    return this.drain(sink, this.maxBytesPerPoll);
  }

  close(): void {
    if (this.fd !== null) {
      try {
        closeSync(this.fd);
      } catch {
        /* already gone */
      }
      this.fd = null;
    }
  }

  private open(st: Stats): void {
    const p = this.pending;
    let start: number;
    if (p !== null && p.ino === st.ino && p.dev === st.dev && p.offset <= st.size && this.headMatches(p.head, null)) {
      start = p.offset; // the file we were reading: resume
    } else if (p !== null) {
      // Rotated or rewritten while we were not running: everything in it is new.
      start = 0;
      if (p.ino === st.ino && p.dev === st.dev) this.counters.truncations++;
      else this.counters.rotations++;
    } else {
      start = this.fromStart ? 0 : st.size;
    }
    this.openAt(st, start);
  }

  /** Whether the file's first bytes (through `fd`, or the path when not open) still start as `head` does. */
  private headMatches(head: string, fd: number | null = this.fd): boolean {
    let own = false;
    try {
      if (fd === null) {
        fd = openSync(this.path, 'r');
        own = true;
      }
      const b = Buffer.alloc(HEAD_BYTES);
      const n = readSync(fd, b, 0, HEAD_BYTES, 0);
      const now = b.subarray(0, n).toString('hex');
      return now.startsWith(head) || head.startsWith(now);
    } catch {
      return false;
    } finally {
      if (own && fd !== null) closeSync(fd);
    }
  }

  private openAt(_st: Stats, offset: number): void {
    try {
      this.fd = openSync(this.path, 'r');
      const fst = fstatSync(this.fd);
      this.dev = fst.dev;
      this.ino = fst.ino;
      this.offset = offset;
      this.head = '';
      this.splitter.reset();
      this.lastError = null;
      this.readHead();
    } catch (e) {
      this.fd = null;
      this.counters.readErrors++;
      this.lastError = `${this.path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
    }
  }

  private readHead(): void {
    if (this.fd === null || this.head.length >= HEAD_BYTES * 2) return;
    const b = Buffer.alloc(HEAD_BYTES);
    const n = readSync(this.fd, b, 0, HEAD_BYTES, 0);
    this.head = b.subarray(0, n).toString('hex');
  }

  /** Reads from the descriptor up to its end (or `limit` bytes); handles truncation. */
  private drain(sink: LineSink, limit: number): boolean {
    if (this.fd === null) return false;
    let size: number;
    try {
      size = fstatSync(this.fd).size;
    } catch (e) {
      this.counters.readErrors++;
      this.lastError = (e as Error).message;
      return false;
    }
    if (size < this.offset) {
      // copytruncate: the file was emptied under us; what follows is new, from its start.
      this.counters.truncations++;
      this.offset = 0;
      this.splitter.reset();
      this.head = '';
    }
    if (size > this.offset && this.head !== '' && !this.headMatches(this.head)) {
      // Truncated and written again past our offset between two polls: the start of the file changed.
      this.counters.truncations++;
      this.offset = 0;
      this.splitter.reset();
      this.head = '';
    }
    // The fingerprint grows with the file up to HEAD_BYTES (a file shorter than that has a shorter one).
    if (this.head.length < HEAD_BYTES * 2 && size > 0) this.readHead();
    let read = 0;
    while (read < limit) {
      let n: number;
      try {
        n = readSync(this.fd, this.buf, 0, this.buf.length, this.offset);
      } catch (e) {
        this.counters.readErrors++;
        this.lastError = (e as Error).message;
        return false;
      }
      if (n === 0) return false;
      this.offset += n;
      read += n;
      this.counters.bytes += n;
      this.splitter.push(this.buf.subarray(0, n), sink);
    }
    return true;
  }
}
