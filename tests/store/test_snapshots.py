"""Snapshots: one complete rootfs per chain ID, built once, verified by fsck, removed with their images."""

from __future__ import annotations

import os

import pytest

from layerlab.engine.errors import StoreError
from tests.store.images import make_image


def tree(path):
    return {str(p.relative_to(path)): (p.read_bytes() if p.is_file() else None)
            for p in sorted(path.rglob("*"))}


def test_snapshot_applies_layers_and_whiteouts(store):
    image = store.put_image(make_image({"etc/a": b"1", "etc/b": b"2"}, {"etc/a": None, "etc/c": b"3"},
                                       {"etc/b": b"22"}), tags=["x"])
    rootfs = store.snapshot(image)
    assert rootfs.parent.name == image.chain_id.hex and rootfs.is_relative_to(store.root / "snapshots")
    assert tree(rootfs) == {"etc": None, "etc/b": b"22", "etc/c": b"3"}
    first = store.snapshot(image, upto_layer=0)
    assert tree(first) == {"etc": None, "etc/a": b"1", "etc/b": b"2"}
    chain = store.snapshot_chain(image)
    assert chain[-1] == rootfs and chain[0] == first and len(chain) == 3
    assert store.df().snapshots_count == 3 and store.fsck() == []


def test_snapshots_are_shared_and_built_once(store):
    base = make_image({"base": b"b"})
    one = store.put_image(make_image({"one": b"1"}, base=base), tags=["one"])
    base_rootfs = store.snapshot(one, upto_layer=0)
    marker = base_rootfs.parent / "snapshot.json"
    before = marker.stat().st_ino
    two = store.put_image(make_image({"two": b"2"}, base=base), tags=["two"])
    assert tree(store.snapshot(two)) == {"base": b"b", "two": b"2"}
    assert store.snapshot(two, upto_layer=0) == base_rootfs and marker.stat().st_ino == before


def test_tampered_snapshot_is_an_fsck_error(store):
    image = store.put_image(make_image({"f": b"original"}), tags=["x"])
    rootfs = store.snapshot(image)
    (rootfs / "f").write_bytes(b"changed!")
    errors = [str(p) for p in store.fsck() if p.is_error]
    assert errors == [f"error: snapshot {image.chain_id}: files changed since it was unpacked (tree digest differs)"]


def test_removing_the_image_removes_its_snapshots(store):
    image = store.put_image(make_image({"f": b"1"}, {"g": b"2"}), tags=["x"])
    store.snapshot(image)
    store.remove("x")
    assert list((store.root / "snapshots").iterdir()) == [] and store.fsck() == []


def test_snapshot_kept_by_a_ref_survives_gc(store):
    image = store.put_image(make_image({"f": b"1"}), tags=["x"])
    rootfs = store.snapshot(image)
    store.add_ref("cache:step-1", image.chain_id)
    store.add_ref("cache:step-1", image.layers()[0].digest)
    store.remove("x")
    assert rootfs.is_dir() and store.blobs.has(image.layers()[0].digest)
    store.drop_refs("cache:step-1")
    store.gc()
    assert not rootfs.exists() and not store.blobs.has(image.layers()[0].digest)


def test_bad_layer_index(store):
    image = store.put_image(make_image({"f": b"1"}), tags=["x"])
    with pytest.raises(StoreError, match="no layer 5"):
        store.snapshot(image, upto_layer=5)


def test_child_snapshot_never_changes_files_it_shares_with_its_parent(store):
    # The child snapshot starts as hard links to the parent's files; a layer
    # that rewrites, re-modes or deletes one of them must leave the parent alone.
    image = store.put_image(make_image({"etc/conf": b"parent", "bin/tool": b"x", "gone": b"g"},
                                       {"etc/conf": b"child!", "gone": None}), tags=["x"])
    parent = store.snapshot(image, upto_layer=0)
    child = store.snapshot(image)
    assert tree(parent) == {"bin": None, "bin/tool": b"x", "etc": None, "etc/conf": b"parent", "gone": b"g"}
    assert tree(child) == {"bin": None, "bin/tool": b"x", "etc": None, "etc/conf": b"child!"}
    assert (parent / "bin/tool").stat().st_ino == (child / "bin/tool").stat().st_ino  # shared, not copied
    assert store.fsck() == []


def test_tampering_with_a_shared_file_is_caught_where_it_was_written(store):
    image = store.put_image(make_image({"lib/a": b"aaaa"}, {"other": b"o"}), tags=["x"])
    parent = store.snapshot(image, upto_layer=0)
    store.snapshot(image)
    (parent / "lib/a").write_bytes(b"AAAA")  # same size: only a content check sees it
    errors = [str(p) for p in store.fsck() if p.is_error]
    assert errors == [f"error: snapshot {image.layers()[0].chain_id}: "
                      "files changed since it was unpacked (tree digest differs)"]


def test_adopting_a_staged_tree_that_meets_a_directory_falls_back_to_the_blob(store, tmp_path):
    # Layer 2 writes a file where layer 1 has a directory: a rename cannot settle that as the
    # tar would, so nothing is adopted and the snapshot is unpacked from the blob when asked.
    image = store.put_image(make_image({"etc/conf/x": b"dir child"}, {"etc/conf": b"now a file"}), tags=["x"])
    store.snapshot(image, upto_layer=0)
    staged = tmp_path / "staged"
    (staged / "etc").mkdir(parents=True)
    (staged / "etc" / "conf").write_bytes(b"now a file")
    assert store.adopt_snapshot(image, staged) is False
    assert not (store.root / "snapshots" / image.chain_id.hex).exists()
    assert tree(store.snapshot(image))["etc/conf"] == b"now a file"
    assert store.fsck() == []


def test_adopting_a_staged_tree_gives_what_unpacking_gives(store, tmp_path):
    image = store.put_image(make_image({"etc/a": b"1"}, {"etc/b": b"2", "opt/c": b"3"}), tags=["x"])
    store.snapshot(image, upto_layer=0)
    staged = tmp_path / "staged"
    for path, content in {"etc/b": b"2", "opt/c": b"3"}.items():
        (staged / path).parent.mkdir(parents=True, exist_ok=True)
        (staged / path).write_bytes(content)
    for directory in (staged / "etc", staged / "opt"):
        directory.chmod(0o755)
    for path in staged.rglob("*"):
        os.utime(path, (1, 1))
        if path.is_file():
            path.chmod(0o644)
    assert store.adopt_snapshot(image, staged) is True
    assert tree(store.snapshot(image)) == {"etc": None, "etc/a": b"1", "etc/b": b"2", "opt": None, "opt/c": b"3"}
    assert store.fsck() == []
