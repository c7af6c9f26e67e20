"""SQLite files that several processes share (the store's metadata, build cache, stat cache, registry state)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path


def open_shared_db(path: Path | str, *, timeout: float = 30.0, synchronous: str = "NORMAL",
                   factory: type[sqlite3.Connection] = sqlite3.Connection) -> sqlite3.Connection:
    """A connection in autocommit mode with a busy timeout, WAL journaling and the given sync level.

    Threads may share it (callers serialize their own transactions).
    """
    db = sqlite3.connect(str(path), timeout=timeout, isolation_level=None, check_same_thread=False,
                         factory=factory)
    db.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
    _enable_wal(db)
    db.execute(f"PRAGMA synchronous={synchronous}")
    return db


def _enable_wal(db: sqlite3.Connection, attempts: int = 100) -> None:
    # Switching a new database to WAL needs it to itself, and SQLite answers "locked" at once
    # (no busy handler) when another process is opening it at the same moment: retry briefly.
    for attempt in range(attempts):
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or attempt == attempts - 1:
                raise
            time.sleep(0.05)
