"""Snapshots: one directory per layer (overlay form), built once, checked by fsck, removed with their images."""

from __future__ import annotations

import os
import stat

import pytest

from layerlab.engine.errors import StoreError
from layerlab.engine.layers.names import opaque_xattr_for
from layerlab.engine.layers.stack import LayerStack
from tests.store.images import make_image


def tree(path):
    return {str(p.relative_to(path)): (p.read_bytes() if p.is_file() else None)
            for p in sorted(path.rglob("*"))}


def is_whiteout(path):
    st = os.lstat(path)
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def test_each_snapshot_holds_only_its_own_layer_with_whiteouts_kept(store):
    image = store.put_image(make_image({"etc/a": b"1", "etc/b": b"2"}, {"etc/a": None, "etc/c": b"3"},
                                       {"etc/b": b"22"}), tags=["x"])
    dirs = store.snapshot_layers(image)
    assert [d.parent.name for d in dirs] == [layer.chain_id.hex for layer in image.layers()]
    assert tree(dirs[0]) == {"etc": None, "etc/a": b"1", "etc/b": b"2"}
    assert is_whiteout(dirs[1] / "etc/a") and (dirs[1] / "etc/c").read_bytes() == b"3"
    assert tree(dirs[2]) == {"etc": None, "etc/b": b"22"}
    stack = LayerStack.of(dirs)
    assert stack.listdir("/etc") == ["b", "c"] and stack.lstat("/etc/a") is None
    assert tree(store.merged_tree(image)) == {"etc": None, "etc/b": b"22", "etc/c": b"3"}
    assert tree(store.merged_tree(image, upto_layer=0)) == tree(dirs[0])
    assert store.df().snapshots_count == 3 and store.fsck() == []


def test_an_opaque_directory_hides_the_lower_one(store):
    image = store.put_image(make_image({"opt/old": b"o", "opt/keep/x": b"k"}, {"opt/.wh..wh..opq": b"", "opt/new": b"n"}),
                            tags=["x"])
    dirs = store.snapshot_layers(image)
    assert os.getxattr(dirs[1] / "opt", opaque_xattr_for(os.geteuid())) == b"y"
    assert LayerStack.of(dirs).listdir("/opt") == ["new"]
    assert tree(store.merged_tree(image)) == {"opt": None, "opt/new": b"n"}
    assert store.fsck() == []


def test_snapshots_are_shared_and_built_once(store):
    base = make_image({"base": b"b"})
    one = store.put_image(make_image({"one": b"1"}, base=base), tags=["one"])
    base_dir = store.snapshot_layers(one, upto_layer=0)[0]
    marker = base_dir.parent / "snapshot.json"
    before = marker.stat().st_ino
    two = store.put_image(make_image({"two": b"2"}, base=base), tags=["two"])
    assert tree(store.merged_tree(two)) == {"base": b"b", "two": b"2"}
    assert store.snapshot_layers(two)[0] == base_dir and marker.stat().st_ino == before


def test_every_damaged_snapshot_is_an_fsck_error_and_the_check_goes_on(store):
    image = store.put_image(make_image({"f": b"original", "lib/a": b"aaaa"}, {"g": b"gg", "gone": None}),
                            tags=["x"])
    bottom, top = store.snapshot_layers(image)
    (bottom / "lib/a").write_bytes(b"AAAA")  # same size: only a content check sees it
    (bottom / "extra").write_bytes(b"")
    os.unlink(top / "gone")
    errors = sorted(str(p) for p in store.fsck() if p.is_error)
    assert errors == sorted([
        f"error: snapshot {image.layers()[0].chain_id}: files differ from its layer blob: "
        "/extra: not in the layer; /lib/a: content differs from the layer",
        f"error: snapshot {image.layers()[1].chain_id}: files differ from its layer blob: /gone: missing",
    ])


def test_removing_the_image_removes_its_snapshots(store):
    image = store.put_image(make_image({"f": b"1"}, {"g": b"2"}), tags=["x"])
    store.merged_tree(image)
    store.remove("x")
    assert list((store.root / "snapshots").iterdir()) == [] and store.fsck() == []


def test_snapshot_kept_by_a_ref_survives_gc(store):
    image = store.put_image(make_image({"f": b"1"}), tags=["x"])
    layer_dir = store.snapshot_layers(image)[0]
    store.add_ref("cache:step-1", image.chain_id)
    store.add_ref("cache:step-1", image.layers()[0].digest)
    store.remove("x")
    assert layer_dir.is_dir() and store.blobs.has(image.layers()[0].digest)
    store.drop_refs("cache:step-1")
    store.gc()
    assert not layer_dir.exists() and not store.blobs.has(image.layers()[0].digest)


def test_bad_layer_index(store):
    image = store.put_image(make_image({"f": b"1"}), tags=["x"])
    with pytest.raises(StoreError, match="no layer 5"):
        store.snapshot_layers(image, upto_layer=5)


def test_a_deep_chain_mounts_its_bottom_as_one_flattened_tree(store):
    layers = [{f"f{index}": str(index).encode(), "shared": str(index).encode()} for index in range(130)]
    image = store.put_image(make_image(*layers), tags=["deep"])
    stack = store.layer_stack(image)
    assert len(stack) <= 120 and stack[0].name == "merged"
    flat = len(layers) - (len(stack) - 1)
    assert (stack[0] / "shared").read_bytes() == str(flat - 1).encode() and not (stack[0] / f"f{flat}").exists()
    assert LayerStack.of(stack).host_path("/shared").read_bytes() == b"129"
    assert sorted(LayerStack.of(stack).listdir("/")) == sorted([f"f{i}" for i in range(130)] + ["shared"])


def test_adopting_a_staged_tree_moves_it_into_place(store, tmp_path):
    image = store.put_image(make_image({"etc/a": b"1"}, {"etc/b": b"2", "opt/c": b"3"}), tags=["x"])
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
    inode = (staged / "opt/c").stat().st_ino
    store.adopt_layer(image, staged)
    top = store.snapshot_layers(image)[-1]
    assert not staged.exists() and (top / "opt/c").stat().st_ino == inode
    assert tree(store.merged_tree(image)) == {"etc": None, "etc/a": b"1", "etc/b": b"2", "opt": None, "opt/c": b"3"}
    assert store.fsck() == []
