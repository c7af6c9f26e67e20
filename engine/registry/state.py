"""What layerlab remembers about registries, in ``ROOT/registry.db`` (SQLite, WAL).

- ``compressed``: diff ID -> the gzip blob made from it for a push, so a
  layer stored uncompressed is compressed once, not on every push.
- ``seen``: which repositories of a registry are known to hold a blob, the
  source of cross-repository mounts.
- ``uploads``: the upload URL and offset of an unfinished chunked upload, so
  a push cut off half-way resumes where the registry says it stopped.

Losing this file loses nothing but time.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from layerlab.engine.dbfile import open_shared_db
from layerlab.engine.errors import StoreError
from layerlab.engine.oci.digest import Digest

DB_NAME = "registry.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS compressed (
    diff_id     TEXT NOT NULL,
    compression TEXT NOT NULL,
    digest      TEXT NOT NULL,
    size        INTEGER NOT NULL,
    PRIMARY KEY (diff_id, compression)
);
CREATE TABLE IF NOT EXISTS seen (
    domain      TEXT NOT NULL,
    digest      TEXT NOT NULL,
    repository  TEXT NOT NULL,
    at          REAL NOT NULL,
    PRIMARY KEY (domain, digest, repository)
);
CREATE TABLE IF NOT EXISTS uploads (
    domain      TEXT NOT NULL,
    repository  TEXT NOT NULL,
    digest      TEXT NOT NULL,
    location    TEXT NOT NULL,
    offset      INTEGER NOT NULL,
    PRIMARY KEY (domain, repository, digest)
)
"""


class RegistryState:
    def __init__(self, root: Path | str):
        self.path = Path(root) / DB_NAME
        self._lock = threading.Lock()
        try:
            self._db = open_shared_db(self.path)
            for statement in _SCHEMA.split(";"):
                self._db.execute(statement)
        except sqlite3.Error as error:
            raise StoreError(f"{self.path}: cannot open the registry state: {error}") from error

    def _write(self, sql: str, params: tuple) -> None:
        with self._lock:
            self._db.execute(sql, params)

    def _read(self, sql: str, params: tuple) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    # -- compressed layers ----------------------------------------------------------
    def compressed(self, diff_id: Digest, compression: str = "gzip") -> tuple[Digest, int] | None:
        rows = self._read("SELECT digest, size FROM compressed WHERE diff_id=? AND compression=?",
                          (str(diff_id), compression))
        return (Digest.parse(rows[0][0]), rows[0][1]) if rows else None

    def remember_compressed(self, diff_id: Digest, digest: Digest, size: int, compression: str = "gzip") -> None:
        self._write("INSERT OR REPLACE INTO compressed VALUES (?,?,?,?)", (str(diff_id), compression, str(digest), size))

    # -- where blobs are ---------------------------------------------------------------
    def remember_seen(self, domain: str, repository: str, digest: Digest) -> None:
        self._write("INSERT OR REPLACE INTO seen VALUES (?,?,?,?)", (domain, str(digest), repository, time.time()))

    def seen_in(self, domain: str, digest: Digest) -> list[str]:
        """Repositories of ``domain`` that held ``digest``, most recent first."""
        return [r[0] for r in self._read("SELECT repository FROM seen WHERE domain=? AND digest=? ORDER BY at DESC",
                                         (domain, str(digest)))]

    # -- unfinished uploads --------------------------------------------------------------
    def upload(self, domain: str, repository: str, digest: Digest) -> tuple[str, int] | None:
        rows = self._read("SELECT location, offset FROM uploads WHERE domain=? AND repository=? AND digest=?",
                          (domain, repository, str(digest)))
        return (rows[0][0], rows[0][1]) if rows else None

    def remember_upload(self, domain: str, repository: str, digest: Digest, location: str, offset: int) -> None:
        self._write("INSERT OR REPLACE INTO uploads VALUES (?,?,?,?,?)",
                    (domain, repository, str(digest), location, offset))

    def forget_upload(self, domain: str, repository: str, digest: Digest) -> None:
        self._write("DELETE FROM uploads WHERE domain=? AND repository=? AND digest=?",
                    (domain, repository, str(digest)))

    def close(self) -> None:
        self._db.close()
