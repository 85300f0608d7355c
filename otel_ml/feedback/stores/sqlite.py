"""``OTEL_ML_FEEDBACK_STORE=sqlite:///path.db``: one file shared by the workers of one host.

SQLite in WAL mode (readers never wait for the writer; one writer at a
time, a few milliseconds per batch). One row per prediction: its id, model
name, creation time (wall clock), record (JSON) and whether a label joined
it. The join is one ``UPDATE ... SET joined = 1 WHERE id = ? AND joined = 0
RETURNING record``: SQLite runs writes one at a time, so of two workers
given the same label at once exactly one gets the row; the other sees the
row joined and answers ``duplicate``. Joined rows stay until they expire,
to tell duplicates from wrong ids.

Bounds, enforced by each worker's writer every :data:`MAINTAIN_EVERY_S`:
rows older than the TTL are deleted, then the oldest beyond the capacity;
freed pages go back to the file system (``auto_vacuum=INCREMENTAL``) and the
WAL file is truncated (``wal_checkpoint(TRUNCATE)``), so the file stays
near the size of ``capacity`` rows (about 300 bytes each).
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from otel_ml._internal.registry import reset_after_fork
from otel_ml.feedback.store import Outcome
from otel_ml.feedback.stores.shared import SharedStore

MAINTAIN_EVERY_S = 10.0
BUSY_TIMEOUT_MS = 2000
"""How long a statement waits for another process's write before it fails."""
VACUUM_PAGES = 2000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS predictions (
    id TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    created REAL NOT NULL,
    record TEXT NOT NULL,
    joined INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS predictions_created ON predictions (created);
"""


class SqliteStore(SharedStore):
    """Predictions in an SQLite file (see the module docstring)."""

    backend = "sqlite"

    def __init__(self, url: str, capacity: int, ttl_s: float) -> None:
        self.path = Path(url.removeprefix("sqlite://"))
        super().__init__(url, capacity, ttl_s)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._reset_connections()
        reset_after_fork(self, SqliteStore._reset_connections)
        self._connection().close()  # a file that cannot be opened fails here, at start-up
        self._reset_connections()

    def _reset_connections(self) -> None:
        # Also the after-fork hook: an SQLite connection must not cross a fork.
        self._local = threading.local()

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection (sqlite3 connections are not shared by threads)."""
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                check_same_thread=False,
            )  # fmt: skip
            connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            connection.execute("PRAGMA auto_vacuum = INCREMENTAL")  # before the table exists
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = NORMAL")  # WAL: safe for a cache like this
            connection.executescript(_SCHEMA)
            self._local.connection = connection
        return connection

    def _write(self, rows: list[tuple[str, str, float, str]]) -> None:
        connection = self._connection()
        with _transaction(connection):
            connection.executemany(
                "INSERT OR REPLACE INTO predictions (id, model, created, record, joined) "
                "VALUES (?, ?, ?, ?, 0)",
                rows,
            )

    def _take(self, prediction_id: str, names: list[str]) -> tuple[Outcome, str | None]:
        connection = self._connection()
        models = ", ".join("?" * len(names))
        found = connection.execute(
            f"UPDATE predictions SET joined = 1 WHERE id = ? AND joined = 0 AND model IN "
            f"({models}) RETURNING record",
            [prediction_id, *names],
        ).fetchall()
        if found:
            return "matched", str(found[0][0])
        joined = connection.execute(
            f"SELECT 1 FROM predictions WHERE id = ? AND model IN ({models})",
            [prediction_id, *names],
        ).fetchone()
        return ("duplicate" if joined else "unknown"), None

    def _maintain(self) -> None:
        connection = self._connection()
        with _transaction(connection):
            connection.execute("DELETE FROM predictions WHERE created < ?",
                               (self.now() - self.ttl_s,))  # fmt: skip
            (held,) = connection.execute("SELECT count(*) FROM predictions").fetchone()
            if held > self.capacity:
                connection.execute(
                    "DELETE FROM predictions WHERE id IN "
                    "(SELECT id FROM predictions ORDER BY created LIMIT ?)",
                    (held - self.capacity,),
                )
        connection.execute(f"PRAGMA incremental_vacuum({VACUUM_PAGES})").fetchall()
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()


class _transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on error): takes the write lock
    first, so a batch never fails half-way for a lock another worker holds."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def __enter__(self) -> None:
        self._connection.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, *rest: object) -> None:
        self._connection.execute("ROLLBACK" if kind is not None else "COMMIT")
