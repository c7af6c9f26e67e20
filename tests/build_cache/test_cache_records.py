"""Cache records in SQLite: lookup, previous-for-step, listing, pruning, two processes at once."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
import time

import pytest

from layerlab.engine.builder.cache_key import StepInputs, run_command
from layerlab.engine.builder.cache_records import DB_NAME, CacheRecords, probe
from layerlab.engine.builder.context import FileEntry
from layerlab.engine.errors import StoreError
from layerlab.engine.record_type import replace


def step(position: int = 1, command: str = "make", parent: str = "sha256:" + "0" * 64, **kw) -> StepInputs:
    return StepInputs(dockerfile=kw.pop("dockerfile", "Dockerfile"), stage=kw.pop("stage", "0"), position=position,
                      index=position, instruction=f"RUN {command}", parent=parent,
                      command=run_command(command), **kw)


def test_put_lookup_previous_and_listing(tmp_path):
    with CacheRecords(tmp_path) as records:
        assert (tmp_path / DB_NAME).is_file()
        assert records.lookup(step().key()) is None
        first = records.put(step(command="make"), "sha256:" + "a" * 64, layer_size=10, created=1000.0)
        second = records.put(step(command="make -j2"), "sha256:" + "b" * 64, layer_size=5, created=2000.0)
        records.put(step(position=2, command="test"), "sha256:" + "c" * 64, created=3000.0)
        records.put(step(stage="s2", command="x"), "sha256:" + "d" * 64, created=4000.0)
        found = records.lookup(first.key)
        assert found.result == first.result and found.inputs == first.inputs and found.last_used > 1000
        assert records.previous("Dockerfile", "0", 1).key == second.key
        assert records.previous("Dockerfile", "0", 3) is None
        assert records.previous("other/Dockerfile", "0", 1) is None
        assert [r.created for r in records.records()] == [4000.0, 3000.0, 2000.0, 1000.0]
        assert records.usage() == (4, 15)
        assert len(records) == 4
        assert "sha256:" + "c" * 64 in records.results()
        # a step that reuses a record makes it that step's "previous"
        records.lookup(first.key, step(command="make"))
        assert records.previous("Dockerfile", "0", 1).key == first.key


def test_stages_sharing_a_record_keep_their_own_history(tmp_path):
    with CacheRecords(tmp_path) as records:
        shared = records.put(step(stage="a"), "sha256:" + "a" * 64)
        assert records.lookup(shared.key, step(stage="b")) is not None
        changed = records.put(step(stage="a", command="make -j2"), "sha256:" + "b" * 64)
        assert records.previous("Dockerfile", "a", 1).key == changed.key
        assert records.previous("Dockerfile", "b", 1).key == shared.key
        records.remove([shared.key])
        assert records.previous("Dockerfile", "b", 1) is None


def test_previous_passes_over_a_use_whose_record_is_gone(tmp_path):
    """Only the step's uses are sorted (not their records' source entries); one left without its
    record, as a file changed by hand may have, gives way to the use before it."""
    with CacheRecords(tmp_path) as records:
        first = records.put(step(command="make"), "sha256:" + "a" * 64, created=1000.0)
        second = records.put(step(command="make -j2"), "sha256:" + "b" * 64, created=2000.0)
    db = sqlite3.connect(tmp_path / DB_NAME)
    with db:
        db.execute("DELETE FROM records WHERE key = ?", (second.key,))
    db.close()
    with CacheRecords(tmp_path) as records:
        assert records.previous("Dockerfile", "0", 1).key == first.key


def test_prune_by_age_and_keep(tmp_path):
    with CacheRecords(tmp_path) as records:
        old = records.put(step(command="old"), "sha256:" + "a" * 64, created=time.time() - 3600)
        kept = records.put(step(command="kept"), "sha256:" + "b" * 64, created=time.time() - 3600)
        new = records.put(step(command="new"), "sha256:" + "c" * 64)
        removed = records.prune(unused_for=600, keep=lambda r: r.key == kept.key)
        assert [r.key for r in removed] == [old.key]
        assert {r.key for r in records} == {kept.key, new.key}
        assert len(records.prune()) == 2 and len(records) == 0


def test_probe_hit_and_miss(tmp_path):
    with CacheRecords(tmp_path) as records:
        miss = probe(records, step())
        assert (miss.cache, miss.reason) == ("miss", "first build of this step")
        records.put(step(), "sha256:" + "a" * 64)
        hit = probe(records, step())
        assert hit.cache == "hit" and hit.record.result == "sha256:" + "a" * 64
        assert probe(records, step(), forced="--no-cache-filter build").reason == "--no-cache-filter build"
        changed = probe(records, step(parent="sha256:" + "9" * 64), parent_rebuilt=False)
        assert changed.reason == "base image changed: sha256:000000000000 → sha256:999999999999"


def _writer(root: str, worker: int, count: int) -> None:
    with CacheRecords(root) as records:
        for i in range(count):
            records.put(step(position=i, command=f"w{worker}-{i}"), f"sha256:{worker:064d}")
            records.lookup(step(position=i, command=f"w{1 - worker}-{i}").key())


def test_two_processes_write_at_once(tmp_path):
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(str(tmp_path), w, 60)) for w in (0, 1)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    with CacheRecords(tmp_path) as records:
        assert len(records) == 120
        assert sqlite3.connect(tmp_path / DB_NAME).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_newer_schema_or_damaged_record_is_a_store_error(tmp_path):
    with CacheRecords(tmp_path) as records:
        record = records.put(step(), "sha256:" + "a" * 64)
    db = sqlite3.connect(tmp_path / DB_NAME)
    db.execute("UPDATE records SET inputs = '{\"nope\": 1}'")
    db.commit()
    with CacheRecords(tmp_path) as records, pytest.raises(StoreError, match="unreadable inputs"):
        records.get(record.key)
    db.execute("PRAGMA user_version = 99")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="newer"):
        CacheRecords(tmp_path)


def copy_step(mtime_ns: int, **kw) -> StepInputs:
    sources = {f"d/f{i}": FileEntry(f"d/f{i}", "file", 0o644, 0, 0, 3, "", f"{i:064x}", mtime_ns)
               for i in range(50)}
    return step(command="#(nop) COPY dir:x in /ctx", source_digest="dir:x", sources=sources, **kw)


def test_a_hit_with_untouched_sources_reads_none_of_their_entries(tmp_path):
    with CacheRecords(tmp_path) as records:
        records.put(copy_step(1000), "sha256:" + "a" * 64)
    db = sqlite3.connect(tmp_path / DB_NAME)
    db.execute("UPDATE record_sources SET sources = '{not json'")  # decoding them now would fail
    db.commit()
    db.close()
    with CacheRecords(tmp_path) as records:
        untouched = probe(records, copy_step(1000))
        assert untouched.cache == "hit" and untouched.causes == ()
        # a touched file must be compared with the record's entries: those are read, and unreadable
        with pytest.raises(StoreError, match="unreadable source entries"):
            probe(records, copy_step(2000))


def test_a_touched_source_is_noted_from_the_stored_entries(tmp_path):
    with CacheRecords(tmp_path) as records:
        records.put(copy_step(1000), "sha256:" + "a" * 64)
    with CacheRecords(tmp_path) as records:
        touched = probe(records, copy_step(2000))
        assert touched.cache == "hit"
        assert [cause.kind for cause in touched.causes][:3] == ["touched"] * 3
        assert records.get(touched.key).inputs == copy_step(1000)


def test_a_version_1_cache_keeps_its_records(tmp_path):
    """A build cache written before sources had a column of their own: its records hit and explain."""
    old = copy_step(1000)
    db = sqlite3.connect(tmp_path / DB_NAME)
    db.executescript("""
        CREATE TABLE records (key TEXT PRIMARY KEY, result TEXT NOT NULL, dockerfile TEXT NOT NULL,
            stage TEXT NOT NULL, position INTEGER NOT NULL, created REAL NOT NULL, last_used REAL NOT NULL,
            layer_size INTEGER NOT NULL DEFAULT 0, inputs TEXT NOT NULL);
        CREATE TABLE step_uses (dockerfile TEXT NOT NULL, stage TEXT NOT NULL, position INTEGER NOT NULL,
            key TEXT NOT NULL, used REAL NOT NULL, PRIMARY KEY (dockerfile, stage, position, key));
        PRAGMA user_version = 1;
    """)
    db.execute("INSERT INTO records VALUES (?, ?, 'Dockerfile', '0', 1, 1000, 1000, 7, ?)",
               (old.key(), "sha256:" + "a" * 64, json.dumps(old.to_json())))
    db.commit()
    db.close()
    with CacheRecords(tmp_path) as records:
        assert records.get(old.key()).inputs == old
        assert probe(records, copy_step(1000)).cache == "hit"
        touched = probe(records, copy_step(2000))
        assert touched.cache == "hit" and touched.causes[0].kind == "touched"
        changed = probe(records, copy_step(1000, parent="sha256:" + "1" * 64))
        assert changed.cache == "miss"
        assert sqlite3.connect(tmp_path / DB_NAME).execute("PRAGMA user_version").fetchone()[0] == 3


def test_a_version_2_cache_moves_its_source_entries_out_of_the_records(tmp_path):
    """Schema 2 kept a record's entries in the record, so marking it used rewrote them all: on open they
    move to a table of their own, and the record still hits and explains a touched file."""
    old = copy_step(1000)
    with CacheRecords(tmp_path) as records:
        records.put(old, "sha256:" + "a" * 64)
    db = sqlite3.connect(tmp_path / DB_NAME)
    with db:  # back to the layout of schema 2
        text = db.execute("SELECT sources FROM record_sources").fetchone()[0]
        db.execute("DROP TABLE record_sources")
        db.execute("UPDATE records SET sources = ?", (text,))
        db.execute("PRAGMA user_version = 2")
    db.close()
    with CacheRecords(tmp_path) as records:
        db = sqlite3.connect(tmp_path / DB_NAME)
        assert db.execute("SELECT count(*) FROM records WHERE sources != ''").fetchone()[0] == 0
        assert db.execute("SELECT sources FROM record_sources").fetchone()[0] == text
        assert db.execute("PRAGMA user_version").fetchone()[0] == 3
        assert probe(records, copy_step(1000)).cache == "hit"
        touched = probe(records, copy_step(2000))
        assert touched.cache == "hit" and touched.causes[0].kind == "touched"
        assert records.get(old.key()).inputs == old
        records.remove([old.key()])
        assert db.execute("SELECT count(*) FROM record_sources").fetchone()[0] == 0
        db.close()


def test_a_touched_source_makes_only_its_own_entry(tmp_path):
    """A touched file is found from the stored mtimes: the other entries are never made, so a damaged one
    elsewhere goes unread."""
    with CacheRecords(tmp_path) as records:
        records.put(copy_step(1000), "sha256:" + "a" * 64)
    db = sqlite3.connect(tmp_path / DB_NAME)
    text = db.execute("SELECT sources FROM record_sources").fetchone()[0]
    damaged = json.loads(text)
    damaged["d/f7"] = ["file", "not a mode", 0, 0, 3, "", "0" * 64, 1000]
    db.execute("UPDATE record_sources SET sources = ?", (json.dumps(damaged),))
    db.commit()
    db.close()
    current = copy_step(1000)
    touched_one = dict(current.sources, **{"d/f3": FileEntry("d/f3", "file", 0o644, 0, 0, 3, "", f"{3:064x}", 5000)})
    with CacheRecords(tmp_path) as records:
        decision = probe(records, replace(current, sources=touched_one))
    assert decision.cache == "hit"
    assert [(cause.kind, cause.subject) for cause in decision.causes] == [("touched", "d/f3")]
