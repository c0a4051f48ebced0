/**
 * Read positions of the log sources, kept in `<data-dir>/log-positions.json` so that a restart neither loses nor
 * repeats lines: file sources store device, inode, offset and the file's first bytes; journald its cursor.
 * Written atomically (temporary file, fsync, rename): a crash leaves the previous version, never half a file.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { FilePosition } from './tail';

export interface Positions {
  files: Record<string, FilePosition>;
  journald?: { cursor: string } | null;
}

export const POSITIONS_FILE = 'log-positions.json';

function isPosition(v: unknown): v is FilePosition {
  const p = v as FilePosition;
  return typeof p === 'object' && p !== null && Number.isSafeInteger(p.dev) && Number.isSafeInteger(p.ino) && Number.isSafeInteger(p.offset) && p.offset >= 0 && typeof p.head === 'string' && /^[0-9a-f]{0,128}$/.test(p.head);
}

export class PositionStore {
  readonly file: string;

  constructor(dataDir: string) {
    this.file = path.join(dataDir, POSITIONS_FILE);
  }

  /** What was saved; entries that do not have the expected shape are ignored (and reported in `invalid`). */
  load(): { positions: Positions; invalid: number; error: string | null } {
    const out: Positions = { files: {}, journald: null };
    let raw: string;
    try {
      raw = readFileSync(this.file, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return { positions: out, invalid: 0, error: code === 'ENOENT' ? null : `${this.file}: ${code}` };
    }
    let data: unknown;
    try {
      data = JSON.parse(raw);
    } catch {
      return { positions: out, invalid: 1, error: `${this.file}: not JSON; starting without saved positions` };
    }
    let invalid = 0;
    const files = (data as Positions | null)?.files;
    if (files && typeof files === 'object') {
      for (const [p, v] of Object.entries(files)) {
        if (isPosition(v)) out.files[p] = { dev: v.dev, ino: v.ino, offset: v.offset, head: v.head };
        else invalid++;
      }
    }
    const j = (data as Positions | null)?.journald;
    if (j && typeof j.cursor === 'string' && j.cursor.length < 1024) out.journald = { cursor: j.cursor };
    return { positions: out, invalid, error: null };
  }

  save(positions: Positions): void {
    const tmp = `${this.file}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, `${JSON.stringify(positions, null, 1)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
  }
}
