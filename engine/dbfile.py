"""SQLite files that several processes share (the store's metadata, build cache, stat cache, registry state).

Every one is opened by ``open_shared_db`` and changed only inside ``write_transaction``.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from layerlab.engine.errors import StoreError

# typing costs milliseconds of every command's start-up; type checkers honour this form.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator


class SharedConnection(sqlite3.Connection):
    """A connection that threads may share: ``write_transaction`` serializes them with ``tx_lock``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.tx_lock = threading.RLock()
        self.label = str(args[0]) if args else "database"


def open_shared_db(path: Path | str, *, timeout: float = 30.0, synchronous: str = "NORMAL") -> SharedConnection:
    """A connection in autocommit mode with a busy timeout, WAL journaling and the given sync level."""
    db = sqlite3.connect(str(path), timeout=timeout, isolation_level=None, check_same_thread=False,
                         factory=SharedConnection)
    db.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
    _enable_wal(db)
    db.execute(f"PRAGMA synchronous={synchronous}")
    return db


@contextmanager
def write_transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``; rolled back on any error. Nested use joins the outer one.

    ``BEGIN IMMEDIATE`` takes SQLite's write lock up front, so two processes
    never both read-then-write and deadlock; the busy timeout makes the
    second one wait, and a wait that runs out is a ``StoreError`` naming the file.
    """
    lock = getattr(db, "tx_lock", None) or threading.RLock()
    with lock:
        if db.in_transaction:
            yield db
            return
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            raise StoreError(f"{getattr(db, 'label', 'database')}: locked by another process: {error}") from error
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")


@contextmanager
def kept_open(*paths: Path) -> Iterator[None]:
    """Hold an idle connection to each existing database among ``paths`` for the block.

    When the last connection to a WAL database closes, SQLite checkpoints the log into the file (an
    fsync), then deletes the log and its shared-memory file; the next open creates both again. A
    session that opens and closes a database for every build (watch mode) pays that each time; with
    one connection held, the closes are plain. The held connection reads nothing, so it holds no
    snapshot and stops no other process's writes or checkpoints.
    """
    held = []
    try:
        for path in paths:
            if Path(path).is_file():  # an idle connection must not be what creates a database
                try:
                    held.append(open_shared_db(path))
                except sqlite3.Error:
                    pass  # only a saving: the builds open it themselves and report what is wrong
        yield
    finally:
        for db in held:
            db.close()


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
