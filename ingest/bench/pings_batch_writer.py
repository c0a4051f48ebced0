"""The reference of `npm run bench -- pings`: the Python BatchWriter of the ping storage design (design 003),
written here after its description: sqlite3, WAL, a writer thread fed by a Queue, batches of 100 rows (or what
arrived within 1 s), each batch written with executemany on a fresh connection and committed.

One change, so that rows do not collide: write() takes the timestamp instead of reading int(time.time()),
which would give every row of the same second and target the same (ts, target) key.

Usage: python3 pings_batch_writer.py DB_PATH ROWS TARGETS   -> prints one JSON line with the figures.
"""
import json
import pathlib
import sqlite3
import sys
import threading
import time
from contextlib import contextmanager
from queue import Empty, Queue

DDL = """
CREATE TABLE IF NOT EXISTS pings (
  ts INTEGER NOT NULL,
  target TEXT NOT NULL,
  latency_ms REAL,
  success INTEGER,
  PRIMARY KEY (ts, target)
);
CREATE INDEX IF NOT EXISTS idx_target_ts ON pings(target, ts DESC);
CREATE INDEX IF NOT EXISTS idx_ts ON pings(ts DESC);
"""


class SQLiteStorage:
    def __init__(self, db_path):
        self.db_path = pathlib.Path(db_path).expanduser()
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        self._init_db()

    def _init_db(self):
        with self.connection() as conn:
            conn.executescript(DDL)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA temp_store=MEMORY")
            conn.execute("PRAGMA mmap_size=30000000000")

    @contextmanager
    def connection(self):
        conn = sqlite3.connect(self.db_path, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        try:
            yield conn
            conn.commit()
        except Exception:
            conn.rollback()
            raise
        finally:
            conn.close()


class BatchWriter:
    def __init__(self, storage, batch_size=100):
        self.storage = storage
        self.batch_size = batch_size
        self.queue = Queue()
        self.written = 0
        self.thread = threading.Thread(target=self._writer_loop, daemon=True)
        self.thread.start()

    def write(self, ts, target, latency_ms, success):
        self.queue.put((ts, target, latency_ms, int(success)))

    def _writer_loop(self):
        batch = []
        while True:
            try:
                deadline = time.time() + 1.0
                while len(batch) < self.batch_size and time.time() < deadline:
                    timeout = deadline - time.time()
                    if timeout > 0:
                        try:
                            batch.append(self.queue.get(timeout=timeout))
                        except Empty:
                            break
                if batch:
                    self._write_batch(batch)
                    self.written += len(batch)
                    batch = []
            except Exception as e:  # the design logs and goes on
                print(f"Batch writer error: {e}", file=sys.stderr)

    def _write_batch(self, batch):
        with self.storage.connection() as conn:
            conn.executemany("INSERT OR REPLACE INTO pings VALUES (?, ?, ?, ?)", batch)


def main():
    db_path, rows, targets = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    names = [f"10.0.{i // 256}.{i % 256}" for i in range(targets)]
    writer = BatchWriter(SQLiteStorage(db_path))
    t0 = time.perf_counter()
    for i in range(rows):
        writer.write(1_800_000_000 + i // targets, names[i % targets], 1.0 + (i % 97) / 10, True)
    while writer.written < rows:
        time.sleep(0.0005)
    seconds = time.perf_counter() - t0
    with writer.storage.connection() as conn:
        stored = conn.execute("SELECT count(*) FROM pings").fetchone()[0]
    print(json.dumps({"rows": rows, "stored": stored, "seconds": seconds, "rows_per_s": rows / seconds}))


if __name__ == "__main__":
    main()
