"""Build cache records: key -> result, with the inputs each result was built from.

Records live in SQLite in a file of their own under the store root
(``ROOT/buildcache.db``), in WAL mode with a busy timeout, one transaction per
change, so several processes may build against one root at once. Each record
keeps its inputs as JSON; a COPY's per-file source entries (20,000 for a large
context, megabytes of JSON) are a table of their own, read only when a miss or
a touched file needs them: a hit compares the digest of their mtimes, a column
of the record, and marking a record used rewrites none of them (``stored_sources``). Keys say nothing
of where a step sits (two stages may share a record), so ``step_uses`` remembers
which records each step (Dockerfile, stage, position) produced or reused, and
when: a later miss of that step is explained against the one it used last.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Callable, Iterator

from layerlab.engine.builder.cache_key import StepInputs
from layerlab.engine.builder.reasons import explain_hit, explain_hit_notes, explain_miss, summary
from layerlab.engine.builder.stored_sources import StoredSources, mtimes_digest
from layerlab.engine.dbfile import open_shared_db, write_transaction
from layerlab.engine.errors import StoreError
from layerlab.engine.events import Cause
from layerlab.engine.record_type import record, replace

DB_NAME = "buildcache.db"
# 2: a record's source entries and their mtimes' digest moved out of ``inputs`` into columns of their own
# 3: the source entries moved on to a table of their own (``records.sources`` stays, empty)
SCHEMA_VERSION = 3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    key         TEXT PRIMARY KEY,
    result      TEXT NOT NULL,
    dockerfile  TEXT NOT NULL,
    stage       TEXT NOT NULL,
    position    INTEGER NOT NULL,
    created     REAL NOT NULL,
    last_used   REAL NOT NULL,
    layer_size  INTEGER NOT NULL DEFAULT 0,
    inputs      TEXT NOT NULL,
    sources     TEXT NOT NULL DEFAULT '',
    mtimes      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS records_by_result ON records (result);
CREATE TABLE IF NOT EXISTS step_uses (
    dockerfile  TEXT NOT NULL,
    stage       TEXT NOT NULL,
    position    INTEGER NOT NULL,
    key         TEXT NOT NULL,
    used        REAL NOT NULL,
    PRIMARY KEY (dockerfile, stage, position, key)
);
CREATE INDEX IF NOT EXISTS step_uses_by_key ON step_uses (key);
CREATE TABLE IF NOT EXISTS record_sources (
    key         TEXT PRIMARY KEY,
    sources     TEXT NOT NULL
);
"""


@record(frozen=True)
class CacheRecord:
    key: str
    result: str          # what the step produced: the image ID the next step stands on
    created: float       # unix seconds
    last_used: float
    layer_size: int      # bytes of the layer the step added (0: no layer)
    inputs: StepInputs


@record(frozen=True)
class CacheDecision:
    """The outcome of probing the cache for one step."""

    key: str
    record: CacheRecord | None     # the record reused, on a hit
    reason: str                    # one line: what was reused, or why not
    causes: tuple[Cause, ...] = ()
    previous_result: str = ""      # on a miss: what the step produced last time (a COPY links unchanged files)

    @property
    def cache(self) -> str:
        return "hit" if self.record is not None else "miss"


class CacheRecords:
    """The build cache of one store root."""

    def __init__(self, root: Path | str):
        self.path = Path(root) / DB_NAME
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = open_shared_db(self.path)
            if self._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
                return  # made already (the version is set with the tables): no write lock to wait for
            with write_transaction(self._db):
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    self._db.execute(statement)
                version = self._db.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise StoreError(f"{self.path}: build cache schema {version} is newer than this layerlab")
                columns = {row[1] for row in self._db.execute("PRAGMA table_info(records)")}
                for added in ("sources", "mtimes"):  # a version 1 file: its records keep sources in inputs
                    if added not in columns:
                        self._db.execute(f"ALTER TABLE records ADD COLUMN {added} TEXT NOT NULL DEFAULT ''")
                # a version 2 file: the entries move out of the records (updating a record's last use
                # rewrote them all, as SQLite rewrites a whole row)
                self._db.execute("INSERT OR REPLACE INTO record_sources SELECT key, sources FROM records"
                                 " WHERE sources != ''")
                self._db.execute("UPDATE records SET sources = '' WHERE sources != ''")
                self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except sqlite3.Error as error:
            raise StoreError(f"{self.path}: cannot open the build cache: {error}") from error

    # -- reading ---------------------------------------------------------------

    def _record(self, row) -> CacheRecord:
        key, result, created, last_used, layer_size, inputs, mtimes = row
        # a record has source entries exactly when it has their mtimes' digest (``put`` writes both)
        stored = StoredSources(lambda: self._sources_text(key), mtimes,
                               f"{self.path}: cache record {key}") if mtimes else None
        try:
            decoded = StepInputs.from_json(json.loads(inputs), sources=stored)
        except (ValueError, KeyError, TypeError) as error:
            raise StoreError(f"{self.path}: cache record {key} has unreadable inputs: {error}") from error
        return CacheRecord(key, result, created, last_used, layer_size, decoded)

    _COLUMNS = "key, result, created, last_used, layer_size, inputs, mtimes"

    def _sources_text(self, key: str) -> str:
        """A record's source entries (JSON); a record removed since it was read has none ("{}")."""
        row = self._db.execute("SELECT sources FROM record_sources WHERE key = ?", (key,)).fetchone()
        return row[0] if row else "{}"

    def get(self, key: str) -> CacheRecord | None:
        row = self._db.execute(f"SELECT {self._COLUMNS} FROM records WHERE key = ?", (key,)).fetchone()
        return self._record(row) if row else None

    def lookup(self, key: str, step: StepInputs | None = None,
               found: CacheRecord | None = None) -> CacheRecord | None:
        """The record under ``key``, marked as used now (and by ``step``, when given).

        ``found``: that record, read already (a step's previous record is often the one it hits)."""
        record = found if found is not None and found.key == key else self.get(key)
        if record is not None:
            now = time.time()
            with write_transaction(self._db):
                self._db.execute("UPDATE records SET last_used = ? WHERE key = ?", (now, key))
                if step is not None:
                    self._note_use(step, key, now)
            record = replace(record, last_used=now)
        return record

    def _note_use(self, step: StepInputs, key: str, when: float) -> None:
        self._db.execute("INSERT OR REPLACE INTO step_uses VALUES (?, ?, ?, ?, ?)",
                         (step.dockerfile, step.stage, step.position, key, when))

    def previous(self, dockerfile: str, stage: str, position: int) -> CacheRecord | None:
        """The record this step produced or reused last: what a miss is compared against."""
        # the step's uses are sorted alone, then the one record they lead to is read
        row = self._db.execute(
            f"SELECT {self._COLUMNS} FROM records WHERE key = (SELECT key FROM step_uses"
            " WHERE dockerfile = ? AND stage = ? AND position = ? AND key IN (SELECT key FROM records)"
            " ORDER BY used DESC, rowid DESC LIMIT 1)",
            (dockerfile, stage, position),
        ).fetchone()
        return self._record(row) if row else None

    def records(self) -> list[CacheRecord]:
        """Every record, newest first (``system df``, ``builder prune``)."""
        rows = self._db.execute(f"SELECT {self._COLUMNS} FROM records ORDER BY created DESC, rowid DESC")
        return [self._record(row) for row in rows]

    def __iter__(self) -> Iterator[CacheRecord]:
        return iter(self.records())

    def __len__(self) -> int:
        return self._db.execute("SELECT count(*) FROM records").fetchone()[0]

    def usage(self) -> tuple[int, int]:
        """(number of records, total bytes of the layers they added)."""
        count, size = self._db.execute("SELECT count(*), coalesce(sum(layer_size), 0) FROM records").fetchone()
        return count, size

    def results(self) -> set[str]:
        """Every result a record points at (for gc: these images are reachable from the cache)."""
        return {row[0] for row in self._db.execute("SELECT DISTINCT result FROM records")}

    # -- writing ---------------------------------------------------------------

    def put(self, inputs: StepInputs, result: str, *, layer_size: int = 0,
            created: float | None = None) -> CacheRecord:
        """Record that ``inputs`` produced ``result``; replaces an older record under the same key."""
        key = inputs.key()
        now = time.time() if created is None else created
        encoded = inputs.to_json()
        sources = encoded.pop("sources")
        sources_text = _compact_json(sources) if sources else ""
        with write_transaction(self._db):
            self._db.execute(
                "INSERT OR REPLACE INTO records (key, result, dockerfile, stage, position, created, last_used,"
                " layer_size, inputs, sources, mtimes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (key, result, inputs.dockerfile, inputs.stage, inputs.position, now, now, layer_size,
                 _compact_json(encoded), "", mtimes_digest(inputs.sources) if sources else ""),
            )
            if sources_text:
                self._db.execute("INSERT OR REPLACE INTO record_sources VALUES (?, ?)", (key, sources_text))
            else:
                self._db.execute("DELETE FROM record_sources WHERE key = ?", (key,))
            self._note_use(inputs, key, now)
        return CacheRecord(key, result, now, now, layer_size, inputs)

    def remove(self, keys: list[str]) -> int:
        with write_transaction(self._db):
            self._db.executemany("DELETE FROM step_uses WHERE key = ?", [(key,) for key in keys])
            self._db.executemany("DELETE FROM record_sources WHERE key = ?", [(key,) for key in keys])
            return sum(self._db.execute("DELETE FROM records WHERE key = ?", (key,)).rowcount for key in keys)

    def prune(self, *, unused_for: float | None = None,
              keep: Callable[[CacheRecord], bool] | None = None) -> list[CacheRecord]:
        """Remove records not used for ``unused_for`` seconds (all when None) unless ``keep`` says so."""
        cutoff = None if unused_for is None else time.time() - unused_for
        victims = [r for r in self.records()
                   if (cutoff is None or r.last_used < cutoff) and not (keep and keep(r))]
        self.remove([r.key for r in victims])
        return victims

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "CacheRecords":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _compact_json(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def probe(records: CacheRecords, inputs: StepInputs, *, forced: str | None = None,
          parent_rebuilt: bool = False, touch: bool = True) -> CacheDecision:
    """Look a step up and say why it hits or misses.

    ``forced`` names the flag that disables the cache for this step
    (``--no-cache``, ``--no-cache-filter STAGE``); ``parent_rebuilt`` says the
    step before it missed in this build. ``touch=False`` only reads: the record found is not
    marked as used (a prediction, which must not change what later misses are compared with).
    """
    key = inputs.key()
    # Read before the lookup marks this use: what the step's last build used explains a hit as well as a miss.
    previous = None if forced else records.previous(inputs.dockerfile, inputs.stage, inputs.position)
    if not forced:
        same = previous if previous is not None and previous.key == key else None
        record = records.lookup(key, inputs, same) if touch else same or records.get(key)
        if record is not None:
            notes = explain_hit_notes(inputs, record.inputs, record.created,
                                      previous.inputs if previous is not None and previous.key != key else None)
            reason = explain_hit(record.key, record.result, record.created, inputs)
            return CacheDecision(key, record, f"{summary(notes)}; {reason}" if notes else reason, notes)
    causes = explain_miss(inputs, previous.inputs if previous else None, forced=forced,
                          parent_rebuilt=parent_rebuilt)
    return CacheDecision(key, None, summary(causes), causes, previous.result if previous else "")


__all__ = ["CacheDecision", "CacheRecord", "CacheRecords", "DB_NAME", "probe"]
