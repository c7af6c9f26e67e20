"""The context stat cache: a file's checksum is re-read only when its stat changed.

One row per context holds every path's entry, marshalled: a no-op rebuild of a 20,000-file context
loads it in one read and one ``marshal.loads`` (about a third of what 20,000 rows cost to fetch), and
a build that learned something rewrites it in one transaction that first merges what another
process wrote meanwhile. It is a cache: an entry it cannot read is an entry it does not have.
"""

from __future__ import annotations

import marshal
import sqlite3
from pathlib import Path
from typing import Iterable

from layerlab.engine.dbfile import open_shared_db, write_transaction
from layerlab.engine.errors import StoreError

# path -> (size, mtime_ns, ino, ctime_ns, checksum)
Entries = dict[str, tuple[int, int, int, int, str]]

_MARSHAL_VERSION = 4


class StatCache:
    """A persistent map (context, path, size, mtime_ns, ino, ctime_ns) -> checksum.

    SQLite (WAL, busy timeout) so two processes may share it; ``path=None``
    keeps it in memory for one process only.
    """

    def __init__(self, path: Path | str | None = None):
        target = ":memory:" if path is None else str(path)
        try:
            self._db = open_shared_db(target)
            self._db.execute("CREATE TABLE IF NOT EXISTS stat_entries (context TEXT PRIMARY KEY,"
                             " entries BLOB NOT NULL)")
            if self._db.execute("SELECT 1 FROM sqlite_master WHERE name = 'stat_cache'").fetchone():
                self._migrate_rows()
        except sqlite3.Error as error:
            raise StoreError(f"{target}: cannot open the context stat cache: {error}") from error

    def _migrate_rows(self) -> None:
        """A file from before one row per context: its rows become entries, so no file is read again."""
        with write_transaction(self._db):
            if not self._db.execute("SELECT 1 FROM sqlite_master WHERE name = 'stat_cache'").fetchone():
                return  # another process migrated it meanwhile
            contexts: dict[str, Entries] = {}
            for context, path, size, mtime, ino, ctime, checksum in self._db.execute(
                    "SELECT context, path, size, mtime_ns, ino, ctime_ns, checksum FROM stat_cache"):
                contexts.setdefault(context, {})[path] = (size, mtime, ino, ctime, checksum)
            for context, entries in contexts.items():
                self._write(context, entries)
            self._db.execute("DROP TABLE stat_cache")

    def load(self, context: str) -> Entries:
        row = self._db.execute("SELECT entries FROM stat_entries WHERE context = ?", (context,)).fetchone()
        if row is None:
            return {}
        try:
            entries = marshal.loads(row[0])
        except (ValueError, EOFError, TypeError):
            return {}
        return entries if isinstance(entries, dict) else {}

    def update(self, context: str, rows: Iterable[tuple[str, int, int, int, int, str]],
               removed: Iterable[str] = ()) -> None:
        rows, removed = list(rows), list(removed)
        if not rows and not removed:
            return
        with write_transaction(self._db):
            entries = self.load(context)  # what another process wrote since this one loaded stays
            for path, size, mtime, ino, ctime, checksum in rows:
                entries[path] = (size, mtime, ino, ctime, checksum)
            for path in removed:
                entries.pop(path, None)
            self._write(context, entries)

    def _write(self, context: str, entries: Entries) -> None:
        self._db.execute("INSERT OR REPLACE INTO stat_entries VALUES (?, ?)",
                         (context, marshal.dumps(entries, _MARSHAL_VERSION)))

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "StatCache":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
