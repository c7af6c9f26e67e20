"""The context stat cache: a file's checksum is re-read only when its stat changed."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Iterable

from layerlab.engine.dbfile import open_shared_db, write_transaction
from layerlab.engine.errors import StoreError


class StatCache:
    """A persistent map (context, path, size, mtime_ns, ino, ctime_ns) -> checksum.

    SQLite (WAL, busy timeout) so two processes may share it; ``path=None``
    keeps it in memory for one process only.
    """

    def __init__(self, path: Path | str | None = None):
        target = ":memory:" if path is None else str(path)
        try:
            self._db = open_shared_db(target)
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS stat_cache (context TEXT NOT NULL, path TEXT NOT NULL,"
                " size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, ino INTEGER NOT NULL,"
                " ctime_ns INTEGER NOT NULL, checksum TEXT NOT NULL, PRIMARY KEY (context, path))"
            )
        except sqlite3.Error as error:
            raise StoreError(f"{target}: cannot open the context stat cache: {error}") from error

    def load(self, context: str) -> dict[str, tuple[int, int, int, int, str]]:
        rows = self._db.execute(
            "SELECT path, size, mtime_ns, ino, ctime_ns, checksum FROM stat_cache WHERE context = ?", (context,)
        )
        return {path: (size, mtime, ino, ctime, checksum) for path, size, mtime, ino, ctime, checksum in rows}

    def update(self, context: str, rows: Iterable[tuple[str, int, int, int, int, str]],
               removed: Iterable[str] = ()) -> None:
        rows, removed = list(rows), list(removed)
        if not rows and not removed:
            return
        with write_transaction(self._db):
            self._db.executemany(
                "INSERT OR REPLACE INTO stat_cache VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(context, *row) for row in rows],
            )
            self._db.executemany("DELETE FROM stat_cache WHERE context = ? AND path = ?",
                                 [(context, path) for path in removed])

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "StatCache":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
