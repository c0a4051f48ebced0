/**
 * Bytes -> lines, for the file tailer and the offline `logs` command: complete lines are decoded (UTF-8) and
 * handed on; an incomplete last line is held, as bytes, until its newline arrives; a line longer than
 * `maxLineBytes` is dropped and counted, and never held past that limit, so a writer that never ends its line
 * cannot grow memory.
 */
import { isAscii } from 'node:buffer';

export const DEFAULT_MAX_LINE_BYTES = 16 * 1024;

export interface LineSink {
  line(text: string): void;
  /**
   * Optional: many complete ASCII lines at once, joined by "\n" (no final newline), none longer than the limit.
   * A consumer that scans text by offsets saves a string per line; without it, each line goes to line().
   */
  block?(text: string): void;
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
    const nl = this.newlines;
    nl.length = 0;
    for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) nl.push(i);
    let start = 0;
    let k = 0;
    // The line that was waiting for its end.
    if ((this.heldLength > 0 || this.discarding) && nl.length > 0) {
      const end = nl[0];
      if (this.discarding || this.heldLength + end > this.maxLineBytes) {
        sink.overlong();
      } else {
        this.held.push(chunk.subarray(0, end));
        sink.line(Buffer.concat(this.held, this.heldLength + end).toString('utf8'));
      }
      this.held = [];
      this.heldLength = 0;
      this.discarding = false;
      start = end + 1;
      k = 1;
    }
    if (k < nl.length && sink.block !== undefined && isAscii(chunk.subarray(start, nl[nl.length - 1]))) {
      let longest = nl[k] - start;
      for (let j = k + 1; j < nl.length; j++) longest = Math.max(longest, nl[j] - nl[j - 1] - 1);
      if (longest <= this.maxLineBytes) {
        sink.block(chunk.toString('latin1', start, nl[nl.length - 1]));
        start = nl[nl.length - 1] + 1;
        k = nl.length;
      }
    }
    if (k < nl.length) {
      // Complete lines in one decode, split on "\n": the i-th piece is the i-th byte range, so lengths checked in
      // bytes above match the pieces below.
      const last = nl[nl.length - 1];
      const text = chunk.toString('utf8', start, last);
      let from = 0;
      let prev = start;
      for (; k < nl.length; k++) {
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
    this.sinceNewline = nl.length > 0 ? chunk.length - nl[nl.length - 1] - 1 : this.sinceNewline + chunk.length;
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
