/**
 * The one way rows reach SQLite: every writer of the product (pings, metrics, log events, traces, ...) queues its
 * rows here and they are written in transactions of many rows through one prepared statement. On this machine kind
 * that is about 200k rows/s against 47k/s for one autocommit per row (NOTES-dependencies.md, SQLite).
 *
 * Producers stay cheap: push() only appends to an array. A flush runs on the next turn of the event loop once the
 * queue holds batchSize rows, or every flushIntervalMs, never inside push().
 *
 * The queue is bounded. push() is for producers that must never wait (packet and ping callbacks): when the queue is
 * full the row is dropped and counted. write() is for producers that can wait (file tailers, replays): its promise
 * settles once the row is queued, so awaiting it paces the producer to the database; a row still waiting after
 * writeTimeoutMs is dropped and counted. Waiting rows are queued in arrival order.
 */
import type Database from 'better-sqlite3';
import { errorMessage, StoreError } from './errors';
import type { StoreLogger } from './logger';

/** What a writer needs of the store; Store implements it. */
export interface WriterHost {
  readonly db: Database.Database;
  readonly logger: StoreLogger;
  registerWriter(writer: StoreWriter): void;
}

/** A writer the store reports in stats() and flushes in close(). */
export interface StoreWriter {
  readonly name: string;
  counters(): WriterCounters;
  /** Writes everything queued (and every row waiting in write()) and stops the timers. */
  stop(): void;
}

export interface WriterCounters {
  /** Rows in the queue now. */
  queued: number;
  /** write() calls waiting now for room in the queue. */
  waiting: number;
  /** Rows committed since start. */
  written: number;
  /** Rows given up: queue full in push(), write() timed out, or still unwritten when stopped. */
  dropped: number;
  /** Transactions committed. */
  flushes: number;
  /** Rows the database rejected (constraint, type, binding errors): skipped, their neighbours written. */
  errors: number;
  /** Flushes that failed as a whole (database busy, disk full, I/O error): their rows were queued again. */
  failedFlushes: number;
  /** Duration of the last committed flush, milliseconds. */
  lastFlushMs: number;
}

export interface BatchWriterOptions<T> {
  /** Names the writer in stats and logs; unique within a store. */
  name: string;
  /**
   * The statement for one row, with ? parameters; normally INSERT OR REPLACE. It must not use OR ROLLBACK or
   * OR FAIL: a rejected row must leave the rest of its transaction intact.
   */
  sql: string;
  /** The statement's parameters for a row; a throw here rejects only that row. */
  toParams: (row: T) => unknown[];
  /** Rows that trigger a flush. Default 500. */
  batchSize?: number;
  /** Longest time a row waits in the queue, milliseconds. Default 1000. */
  flushIntervalMs?: number;
  /** Queue bound, rows. Default 100 000. */
  maxQueue?: number;
  /** How long write() waits for room before dropping its row, milliseconds. Default 5000. */
  writeTimeoutMs?: number;
  /**
   * Writers whose rows this writer's rows reference by foreign key (event traces and their log events): each
   * flush of this writer flushes them first, so a referenced row is always committed before its reference.
   */
  flushFirst?: ReadonlyArray<{ flush(): number }>;
}

export const BATCH_WRITER_DEFAULTS = {
  batchSize: 500,
  flushIntervalMs: 1000,
  maxQueue: 100_000,
  writeTimeoutMs: 5000,
} as const;

interface Waiter<T> {
  row: T;
  deadline: number;
  resolve: (queued: boolean) => void;
}

const QUEUED: Promise<boolean> = Promise.resolve(true);
const DROPPED: Promise<boolean> = Promise.resolve(false);

// Errors about one row: constraint violations, type mismatch on an INTEGER PRIMARY KEY, oversized values, wrong
// parameter count. Anything else coded SQLITE_* (BUSY, FULL, IOERR, READONLY, ...) is about the database.
const ROW_ERROR = /^SQLITE_(CONSTRAINT|MISMATCH|TOOBIG|RANGE)/;

function isRowError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  // No SQLite code: thrown by toParams or by binding (TypeError, RangeError), so about the row.
  if (typeof code !== 'string' || !code.startsWith('SQLITE_')) return true;
  return ROW_ERROR.test(code);
}

export class BatchWriter<T> implements StoreWriter {
  readonly name: string;
  private readonly host: WriterHost;
  private readonly toParams: (row: T) => unknown[];
  private readonly batchSize: number;
  private readonly flushIntervalMs: number;
  private readonly maxQueue: number;
  private readonly writeTimeoutMs: number;
  private readonly flushFirst: ReadonlyArray<{ flush(): number }>;
  private readonly stmt: Database.Statement;
  private readonly insertAll: (rows: T[]) => void;
  private readonly insertEach: (rows: T[]) => { written: number; rejected: number; firstError?: unknown };

  private queue: T[] = [];
  // FIFO of blocked write() calls; consumed from waitHead so taking one is O(1).
  private waiters: Array<Waiter<T> | undefined> = [];
  private waitHead = 0;
  private expiryTimer: NodeJS.Timeout | undefined;
  private readonly timer: NodeJS.Timeout;
  private immediate: NodeJS.Immediate | undefined;
  // After a failed flush, size-triggered flushes wait for the interval instead of spinning on a sick database.
  private retryAt = 0;
  private failing = false;
  private stopped = false;
  private readonly c = { written: 0, dropped: 0, flushes: 0, errors: 0, failedFlushes: 0, lastFlushMs: 0 };

  constructor(host: WriterHost, opts: BatchWriterOptions<T>) {
    const o = { ...BATCH_WRITER_DEFAULTS, ...definedOnly(opts) };
    if (!o.name) throw new StoreError('NETWATCH_ERR_STORE_CONFIG', 'a batch writer needs a name');
    const bad = (what: string) => new StoreError('NETWATCH_ERR_STORE_CONFIG', `batch writer ${o.name}: ${what}`);
    if (!Number.isInteger(o.batchSize) || o.batchSize < 1) throw bad(`batchSize must be a positive integer, got ${o.batchSize}`);
    // A queue smaller than a batch would never trigger a size flush and write() would wait for the timer.
    if (!Number.isInteger(o.maxQueue) || o.maxQueue < o.batchSize) throw bad(`maxQueue must be an integer >= batchSize (${o.batchSize}), got ${o.maxQueue}`);
    if (!(o.flushIntervalMs > 0)) throw bad(`flushIntervalMs must be > 0, got ${o.flushIntervalMs}`);
    if (!(o.writeTimeoutMs >= 0)) throw bad(`writeTimeoutMs must be >= 0, got ${o.writeTimeoutMs}`);

    this.name = o.name;
    this.host = host;
    this.toParams = o.toParams;
    this.batchSize = o.batchSize;
    this.flushIntervalMs = o.flushIntervalMs;
    this.maxQueue = o.maxQueue;
    this.writeTimeoutMs = o.writeTimeoutMs;
    this.flushFirst = opts.flushFirst ?? [];
    // Preparing here reports a bad statement to the code that wrote it, at start rather than at the first flush.
    this.stmt = host.db.prepare(o.sql);

    const db = host.db;
    this.insertAll = db.transaction((rows: T[]) => {
      for (const row of rows) this.stmt.run(this.toParams(row));
    });
    // A constraint error aborts only its statement (SQLite's default ABORT resolution), so the good rows of a
    // rejected batch still commit together in one transaction.
    this.insertEach = db.transaction((rows: T[]) => {
      let written = 0;
      let rejected = 0;
      let firstError: unknown;
      for (const row of rows) {
        try {
          this.stmt.run(this.toParams(row));
          written++;
        } catch (err) {
          if (!isRowError(err)) throw err;
          rejected++;
          firstError ??= err;
        }
      }
      return { written, rejected, firstError };
    });

    host.registerWriter(this);
    this.timer = setInterval(() => this.flush(), this.flushIntervalMs);
    // The writer never keeps the process alive on its own; Store.close() stops it.
    this.timer.unref();
  }

  /** Queues a row without ever waiting; false (and counted in dropped) when the queue is full or the writer stopped. */
  push(row: T): boolean {
    if (this.stopped || this.queue.length >= this.maxQueue) {
      this.c.dropped++;
      return false;
    }
    this.enqueue(row);
    return true;
  }

  /**
   * Queues a row, waiting while the queue is full. Resolves true once queued, false if the row was dropped
   * (waited writeTimeoutMs, or the writer stopped); never rejects.
   */
  write(row: T): Promise<boolean> {
    if (this.stopped) {
      this.c.dropped++;
      return DROPPED;
    }
    // Rows only wait while the queue is full, so room in the queue means nobody is ahead of this row.
    if (this.queue.length < this.maxQueue) {
      this.enqueue(row);
      return QUEUED;
    }
    return new Promise<boolean>((resolve) => {
      this.waiters.push({ row, deadline: performance.now() + this.writeTimeoutMs, resolve });
      this.armExpiry();
    });
  }

  /** Writes every queued row now, in one transaction; returns the rows written. */
  flush(): number {
    return this.flushQueue().written;
  }

  counters(): WriterCounters {
    return { queued: this.queue.length, waiting: this.waiters.length - this.waitHead, ...this.c };
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.immediate = undefined;
    // Rows waiting in write() were accepted by their producers' protocol: they are written too.
    while (this.queue.length > 0 || this.waitHead < this.waiters.length) {
      if (!this.flushQueue().ok) break;
    }
    let lost = this.queue.length;
    this.queue = [];
    for (let i = this.waitHead; i < this.waiters.length; i++) {
      this.waiters[i]!.resolve(false);
      lost++;
    }
    this.waiters = [];
    this.waitHead = 0;
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    if (lost > 0) {
      this.c.dropped += lost;
      this.host.logger.error({ writer: this.name, lost }, 'batch writer stopped with rows it could not write');
    }
  }

  private enqueue(row: T): void {
    this.queue.push(row);
    if (this.queue.length >= this.batchSize) this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.immediate || this.stopped || performance.now() < this.retryAt) return;
    this.immediate = setImmediate(() => {
      this.immediate = undefined;
      this.flush();
    });
  }

  private flushQueue(): { ok: boolean; written: number } {
    if (this.queue.length === 0) {
      this.releaseWaiters();
      if (this.queue.length === 0) return { ok: true, written: 0 };
    }
    for (const w of this.flushFirst) w.flush();
    const batch = this.queue;
    this.queue = [];
    const started = performance.now();
    let written: number;
    let rejected = 0;
    let firstError: unknown;
    try {
      if (!this.host.db.open) throw new StoreError('NETWATCH_ERR_STORE_CLOSED', 'the database is closed');
      try {
        this.insertAll(batch);
        written = batch.length;
      } catch (err) {
        if (!isRowError(err)) throw err;
        ({ written, rejected, firstError } = this.insertEach(batch));
      }
    } catch (err) {
      this.failed(batch, err);
      return { ok: false, written: 0 };
    }

    this.c.written += written;
    this.c.errors += rejected;
    this.c.flushes++;
    this.c.lastFlushMs = performance.now() - started;
    if (rejected > 0) {
      this.host.logger.warn({ writer: this.name, rejected, written, err: errorMessage(firstError) }, 'batch writer skipped rows the database rejected');
    }
    if (this.failing) {
      this.failing = false;
      this.host.logger.info({ writer: this.name }, 'batch writer is writing again');
    }
    this.releaseWaiters();
    return { ok: true, written };
  }

  /** Puts a batch the database refused as a whole back at the head of the queue, for the next interval. */
  private failed(batch: T[], err: unknown): void {
    this.c.failedFlushes++;
    this.retryAt = performance.now() + this.flushIntervalMs;
    const requeued = batch.concat(this.queue);
    if (requeued.length > this.maxQueue) {
      // Only possible if toParams pushed to this writer during the flush; the newest rows go.
      this.c.dropped += requeued.length - this.maxQueue;
      requeued.length = this.maxQueue;
    }
    this.queue = requeued;
    if (!this.failing) {
      this.failing = true;
      this.host.logger.error({ writer: this.name, rows: batch.length, err: errorMessage(err) }, 'batch writer flush failed, rows kept for retry');
    }
  }

  private releaseWaiters(): void {
    const waiters = this.waiters;
    while (this.waitHead < waiters.length && this.queue.length < this.maxQueue) {
      const w = waiters[this.waitHead]!;
      waiters[this.waitHead++] = undefined;
      this.enqueue(w.row);
      w.resolve(true);
    }
    if (this.waitHead === waiters.length) {
      this.waiters = [];
      this.waitHead = 0;
      if (this.expiryTimer) clearTimeout(this.expiryTimer);
      this.expiryTimer = undefined;
    } else if (this.waitHead > 1024 && this.waitHead * 2 > waiters.length) {
      this.waiters = waiters.slice(this.waitHead);
      this.waitHead = 0;
    }
  }

  // Every waiter has the same timeout and they are queued in order, so the head always expires first: one timer
  // for the head is enough, however many producers wait.
  private armExpiry(): void {
    if (this.expiryTimer || this.waitHead >= this.waiters.length) return;
    const head = this.waiters[this.waitHead]!;
    this.expiryTimer = setTimeout(() => this.expireWaiters(), Math.max(0, head.deadline - performance.now()));
  }

  private expireWaiters(): void {
    this.expiryTimer = undefined;
    const now = performance.now();
    let expired = 0;
    while (this.waitHead < this.waiters.length && this.waiters[this.waitHead]!.deadline <= now) {
      const w = this.waiters[this.waitHead]!;
      this.waiters[this.waitHead++] = undefined;
      w.resolve(false);
      expired++;
    }
    if (expired > 0) {
      this.c.dropped += expired;
      this.host.logger.warn({ writer: this.name, dropped: expired, timeoutMs: this.writeTimeoutMs }, 'batch writer dropped rows that waited too long for room');
    }
    if (this.waitHead === this.waiters.length) {
      this.waiters = [];
      this.waitHead = 0;
    }
    this.armExpiry();
  }
}

/** Options with undefined values removed, so they do not override defaults. */
function definedOnly<O extends object>(o: O): O {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as O;
}
