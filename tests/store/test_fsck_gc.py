"""fsck finds damage and names it; gc clears leftovers; notes are not errors."""

from __future__ import annotations

import os
import sqlite3
import stat

import pytest

from layerlab.engine.errors import StoreError
from layerlab.engine.store import Store
from tests.store.images import make_image


def errors(store):
    return [str(p) for p in store.fsck() if p.is_error]


def test_clean_store(store):
    store.put_image(make_image({"a": b"1"}, {"b": b"2"}), tags=["x"])
    assert store.fsck() == []


def test_corrupted_blob_is_named(store):
    image = store.put_image(make_image({"a": b"1"}), tags=["x"])
    layer = image.layers()[0]
    path = store.blobs.path(layer.digest)
    path.chmod(0o644)
    path.write_bytes(path.read_bytes()[:-3] + b"zzz")
    found = errors(store)
    assert any(str(layer.digest) in line and "hashes to" in line for line in found), found


def test_missing_blobs_are_named(store):
    image = store.put_image(make_image({"a": b"1"}), tags=["x"])
    store.blobs.path(image.layers()[0].digest).unlink()
    store.blobs.path(image.id).unlink()
    found = errors(store)
    assert any("layer blob missing" in line for line in found)
    assert any(f"image {image.id.short}: config blob missing" in line for line in found)


def test_metadata_that_disagrees_with_config(store):
    image = store.put_image(make_image({"a": b"1"}, {"b": b"2"}), tags=["x"])
    db = sqlite3.connect(store.root / "meta.db")
    db.execute("DELETE FROM image_layers WHERE image_id=? AND position=1", (str(image.id),))
    db.commit()
    db.close()
    assert any("rootfs.diff_ids" in line for line in errors(store))


def test_wrong_recorded_diff_id(store):
    image = store.put_image(make_image({"a": b"1"}), tags=["x"])
    db = sqlite3.connect(store.root / "meta.db")
    db.execute("UPDATE layers SET content_size=99 WHERE digest=?", (str(image.layers()[0].digest),))
    db.commit()
    db.close()
    assert any("sizes" in line for line in errors(store))


def test_leftovers_are_notes_and_gc_clears_them(root):
    with Store.open(root) as store:
        orphan = store.blobs.ingest_bytes(b"nobody uses me")
        (root / "tmp" / "999999999-dead.blob").write_bytes(b"partial")
        store.blobs.writer("resumable").write(b"part")
        problems = store.fsck()
        assert problems and not any(p.is_error for p in problems)
        subjects = {p.subject for p in problems}
        assert str(orphan) in subjects and "tmp/999999999-dead.blob" in subjects
        report = store.gc()
        assert report.blobs == [orphan] and report.temp_entries == ["999999999-dead.blob"]
        assert report.ingests == []  # a fresh ingest may still be resumed
        assert [p.subject.split("/")[0] for p in store.fsck()] == ["ingest"]


def test_live_process_temp_files_are_left_alone(store):
    live = store.layout.new_temp(".blob")
    live.write_bytes(b"in flight")
    assert store.fsck() == []
    store.gc()
    assert live.exists()


def test_corrupt_database_is_reported_as_store_error(root):
    (root / "meta.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="meta.db"):
        Store.open(root)


def test_blob_files_are_read_only(store):
    digest = store.blobs.ingest_bytes(b"x")
    assert stat.S_IMODE(os.stat(store.blobs.path(digest)).st_mode) == 0o444


def test_root_that_is_a_file_is_a_store_error(tmp_path):
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(StoreError, match=str(path)):
        Store.open(path)


def test_newer_schema_is_refused(root):
    Store.open(root).close()
    db = sqlite3.connect(root / "meta.db")
    db.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="schema version 99"):
        Store.open(root)


def test_fsck_carries_on_past_a_snapshot_whose_layer_dir_was_deleted(store):
    """The base snapshot's layer/ is gone and the top one altered: fsck names both and still checks the rest."""
    import shutil

    image = store.put_image(make_image({"a": b"1"}, {"b": b"2"}), tags=["x"])
    bottom, top_dir = store.snapshot_layers(image)
    base, top = (layer.chain_id for layer in image.layers())
    shutil.rmtree(bottom)
    (top_dir / "b").write_bytes(b"3")
    (store.layout.tmp / "999999999-leftover").mkdir()  # checked after the snapshots
    problems = [str(p) for p in store.fsck()]
    assert any(f"snapshot {base}" in line and line.startswith("error") for line in problems), problems
    assert any(f"snapshot {top}" in line and line.startswith("error") for line in problems), problems
    assert any("tmp/999999999-leftover" in line for line in problems), problems
