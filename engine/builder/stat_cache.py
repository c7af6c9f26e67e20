"""The context stat cache: a file's checksum is re-read only when its stat changed.

One row per context holds every path's entry, marshalled: a no-op rebuild of a 20,000-file context
loads it in one read and one ``marshal.loads`` (about a third of what 20,000 rows cost to fetch), and
a build that learned something rewrites it in one transaction that first merges what another
process wrote meanwhile. It is a cache: an entry it cannot read is an entry it does not have.

The row keeps the files' paths and stats, in the order of the walk that wrote it, as one marshalled
blob (``keys_blob``) beside a tuple of their checksums, not as a tuple per file: a walk whose files all
have the very stats stored compares one bytes object and takes every checksum at once
(``Snapshot.checksums_for``), without loading and comparing 100,000 objects one by one. Only a walk
that differs unmarshals the blob into entries (``Snapshot.entries``). A row of an earlier form (a dict
of entries) is read as entries and rewritten in this form by the next build that uses it.
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
StatKey = tuple[int, int, int, int]   # (size, mtime_ns, ino, ctime_ns)
# marshal's version 2 writes no references between objects, so equal stats always give equal bytes
_KEYS_VERSION = 2


def keys_blob(paths: list[str], keys: list[StatKey]) -> bytes:
    """The files' paths and stats in one blob, compared whole with the stored one."""
    return marshal.dumps((paths, keys), _KEYS_VERSION)


class Snapshot:
    """One context's row as read: the stored stats' blob and checksums, entries unmarshalled only if asked."""

    __slots__ = ("_keys", "_checksums", "_entries")

    def __init__(self, keys: bytes = b"", checksums: tuple[str, ...] = (), entries: Entries | None = None):
        self._keys, self._checksums, self._entries = keys, checksums, entries

    def checksums_for(self, keys: bytes) -> tuple[str, ...] | None:
        """Every file's checksum, in order, when ``keys`` (``keys_blob`` of a walk's files) is the stored blob."""
        return self._checksums if self._keys and keys == self._keys else None

    def entries(self) -> Entries:
        if self._entries is None:
            self._entries = _unpacked(self._keys, self._checksums)
        return self._entries


def _unpacked(keys: bytes, checksums: tuple[str, ...]) -> Entries:
    """Each file's entry; each is checked for its shape where it is used (``_well_formed`` on a write)."""
    try:
        paths, stats = marshal.loads(keys) if keys else ([], [])
        if len(paths) != len(checksums) or len(stats) != len(checksums):
            return {}
        return {path: (*stat, checksum) for path, stat, checksum in zip(paths, stats, checksums)}
    except (ValueError, EOFError, TypeError):
        return {}


def _well_formed(value: object) -> bool:
    return type(value) is tuple and len(value) == 5 and all(type(field) is int for field in value[:4]) \
        and type(value[4]) is str


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

    def snapshot(self, context: str) -> Snapshot:
        row = self._db.execute("SELECT entries FROM stat_entries WHERE context = ?", (context,)).fetchone()
        if row is None:
            return Snapshot()
        try:
            stored = marshal.loads(row[0])
        except (ValueError, EOFError, TypeError):
            return Snapshot()
        if isinstance(stored, dict):  # the earlier form: each entry is checked as it is used
            return Snapshot(entries=stored)
        if type(stored) is tuple and len(stored) == 2 and type(stored[0]) is bytes and type(stored[1]) is tuple \
                and all(type(checksum) is str for checksum in stored[1]):
            return Snapshot(stored[0], stored[1])
        return Snapshot()

    def load(self, context: str) -> Entries:
        return self.snapshot(context).entries()

    def update(self, context: str, rows: Iterable[tuple[str, int, int, int, int, str]],
               removed: Iterable[str] = (), order: Iterable[str] = ()) -> None:
        """Merge ``rows`` into the context's entries and drop ``removed``; ``order``: the writer's walk,
        the order the files are kept in (a later walk that finds them all unchanged matches at once)."""
        rows, removed = list(rows), list(removed)
        with write_transaction(self._db):
            entries = dict(self.load(context))  # what another process wrote since this one loaded stays
            for path, size, mtime, ino, ctime, checksum in rows:
                entries[path] = (size, mtime, ino, ctime, checksum)
            for path in removed:
                entries.pop(path, None)
            self._write(context, entries, order)

    def _write(self, context: str, entries: Entries, order: Iterable[str] = ()) -> None:
        paths = [path for path in order if path in entries]
        if len(paths) < len(entries):
            placed = set(paths)
            paths += [path for path in entries if path not in placed]
        kept = [path for path in paths if _well_formed(entries[path])]
        blob = keys_blob(kept, [entries[path][:4] for path in kept])
        checksums = tuple(entries[path][4] for path in kept)
        self._db.execute("INSERT OR REPLACE INTO stat_entries VALUES (?, ?)",
                         (context, marshal.dumps((blob, checksums), _MARSHAL_VERSION)))

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "StatCache":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
