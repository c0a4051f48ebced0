/**
 * Bytes -> lines, for the file tailer and the offline `logs` command: complete lines are decoded (UTF-8) and
 * handed on, or, to a consumer that scans bytes, handed on as they were read (runs of ASCII lines); an incomplete
 * last line is held, as bytes, until its newline arrives; a line longer than
 * `maxLineBytes` is dropped and counted, and never held past that limit, so a writer that never ends its line
 * cannot grow memory.
 */
import { isAscii } from 'node:buffer';
import { readSync } from 'node:fs';

export const DEFAULT_MAX_LINE_BYTES = 16 * 1024;

export interface LineSink {
  line(text: string): void;
  /**
   * Optional: many complete lines of ASCII at once, as the bytes read (a view of the caller's chunk, valid during
   * the call only), joined by "\n" (no final newline). Saves decoding them: a consumer that scans bytes in place
   * pays a string only for what it keeps. The line limit is the consumer's to apply, as to the lines it is given
   * (an overlong one is counted as overlong() counts it); without bytes(), each line goes to line().
   */
  bytes?(lines: Buffer, maxLineBytes: number): void;
  /** A line longer than the limit was dropped (once per line, when its end is seen or at finish()). */
  overlong(): void;
}

export class LineSplitter {
  private held: Buffer[] = [];
  private heldLength = 0;
  // Inside a line already known to be too long: drop bytes up to its newline.
  private discarding = false;
  private sinceNewline = 0;
  private readonly newlines: number[] = [];

  constructor(readonly maxLineBytes = DEFAULT_MAX_LINE_BYTES) {}

  /** Bytes of the incomplete line held now (at most maxLineBytes). */
  get heldBytes(): number {
    return this.heldLength;
  }

  /** Bytes read since the last newline, held or dropped: a reader's durable position is its offset minus these. */
  get bytesSinceNewline(): number {
    return this.sinceNewline;
  }

  push(chunk: Buffer, sink: LineSink): void {
    const first = chunk.indexOf(10);
    if (first < 0) {
      this.hold(chunk);
      this.sinceNewline += chunk.length;
      return;
    }
    const last = chunk.lastIndexOf(10);
    let start = 0;
    // The line that was waiting for its end.
    if (this.heldLength > 0 || this.discarding) {
      if (this.discarding || this.heldLength + first > this.maxLineBytes) {
        sink.overlong();
      } else {
        this.held.push(chunk.subarray(0, first));
        sink.line(Buffer.concat(this.held, this.heldLength + first).toString('utf8'));
      }
      this.held = [];
      this.heldLength = 0;
      this.discarding = false;
      start = first + 1;
    }
    // Many lines at once when the consumer takes bytes: no decoding and no newline search here (the consumer
    // splits the lines itself). ASCII only, where a byte is a character; anything else is decoded below.
    if (start <= last && sink.bytes !== undefined && isAscii(chunk.subarray(start, last))) {
      sink.bytes(chunk.subarray(start, last), this.maxLineBytes);
      start = last + 1;
    }
    if (start <= last) {
      const nl = this.newlines;
      nl.length = 0;
      for (let i = chunk.indexOf(10, start); i >= 0; i = chunk.indexOf(10, i + 1)) nl.push(i);
      // Complete lines in one decode, split on "\n": the i-th piece is the i-th byte range, so lengths checked in
      // bytes below match the pieces.
      const text = chunk.toString('utf8', start, last);
      let from = 0;
      let prev = start;
      for (let k = 0; k < nl.length; k++) {
        const bytes = nl[k] - prev;
        const to = k === nl.length - 1 ? text.length : text.indexOf('\n', from);
        if (bytes > this.maxLineBytes) sink.overlong();
        else sink.line(text.slice(from, to));
        from = to + 1;
        prev = nl[k] + 1;
      }
      start = last + 1;
    }
    if (start < chunk.length) this.hold(chunk.subarray(start));
    this.sinceNewline = chunk.length - last - 1;
  }

  /** End of input: the held incomplete line, if any, is a line (offline files that lack a final newline). */
  finish(sink: LineSink): void {
    if (this.discarding) sink.overlong();
    else if (this.heldLength > 0) sink.line(Buffer.concat(this.held, this.heldLength).toString('utf8'));
    this.reset();
  }

  /** Forgets the held bytes (the file they came from was truncated or replaced). */
  reset(): void {
    this.held = [];
    this.heldLength = 0;
    this.discarding = false;
    this.sinceNewline = 0;
  }

  private hold(rest: Buffer): void {
    if (this.discarding) return;
    if (this.heldLength + rest.length > this.maxLineBytes) {
      this.held = [];
      this.heldLength = 0;
      this.discarding = true;
      return;
    }
    // Copy: the caller reuses its read buffer.
    this.held.push(Buffer.from(rest));
    this.heldLength += rest.length;
  }
}

/**
 * Reads `fd` to its end through `splitter` into `sink`, `buf` at a time, then finishes the splitter. The splitter
 * is given whole lines: the incomplete last line of a read is moved to the front of `buf` and completed by the
 * next read, so that a consumer of bytes() gets every line in a block (a line longer than `buf` is left to the
 * splitter, which holds or drops it).
 */
export function readLinesSync(fd: number, splitter: LineSplitter, sink: LineSink, buf: Buffer): void {
  let held = 0;
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, buf, held, buf.length - held, null);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') continue;
      if ((e as NodeJS.ErrnoException).code === 'EOF') break;
      throw e;
    }
    if (n === 0) break;
    const filled = held + n;
    const last = buf.lastIndexOf(10, filled - 1);
    if (last < 0) {
      splitter.push(buf.subarray(0, filled), sink);
      held = 0;
      continue;
    }
    splitter.push(buf.subarray(0, last + 1), sink);
    held = filled - last - 1;
    buf.copyWithin(0, last + 1, filled);
  }
  if (held > 0) splitter.push(buf.subarray(0, held), sink);
  splitter.finish(sink);
}
