"""Writing a layer and applying it gives back the same tree; writing is reproducible."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from layerlab.engine.errors import LayerError
from layerlab.engine.layers.apply import apply_layer
from layerlab.engine.layers.compression import compress_to
from layerlab.engine.layers.tarscan import HARDLINK, REGULAR, scan
from layerlab.engine.layers.write import Change, write_layer_from_changes, write_layer_from_dir, write_layer_from_overlay_upper
from tests.layers.helpers import tree

IS_ROOT = os.geteuid() == 0


def build_sample(root: Path) -> None:
    """One of everything a layer can hold."""
    (root / "empty").mkdir(parents=True)
    (root / "bin").mkdir()
    (root / "bin/tool").write_bytes(b"#!/bin/sh\necho hi\n")
    os.chmod(root / "bin/tool", 0o4755)
    (root / "tmp").mkdir()
    os.chmod(root / "tmp", 0o1777)
    (root / "shared").mkdir()
    os.chmod(root / "shared", 0o2775)
    (root / "big").write_bytes(os.urandom(3 << 20))
    os.link(root / "big", root / "big-again")
    os.symlink("bin/tool", root / "relative-link")
    os.symlink("/nowhere/at/all", root / "dangling-link")
    (root / ("long-" + "n" * 200)).write_bytes(b"long name")
    (root / "ünïcode-名前").write_bytes(b"utf-8 name")
    deep = root / "a" / ("d" * 90) / ("e" * 90)
    deep.mkdir(parents=True)
    (deep / "leaf").write_bytes(b"deep")
    os.symlink("x" * 150, root / "long-link-target")
    (root / "attrs").write_bytes(b"x")
    os.setxattr(root / "attrs", "user.note", b"hello\x00\xffbinary")
    if IS_ROOT:
        os.setxattr(root / "attrs", "trusted.kept", b"t")
        os.mknod(root / "null", 0o666 | 0o020000, os.makedev(1, 3))
        os.chown(root / "bin/tool", 1000, 1001)
        os.chmod(root / "bin/tool", 0o4755)
        os.lchown(root / "relative-link", 33, 44)
    os.mkfifo(root / "fifo", 0o640)
    for path in [root, *root.rglob("*")]:
        os.utime(path, (1_500_000_000, 1_500_000_000), follow_symlinks=False)


def test_dir_roundtrip_is_exact(tmp_path: Path):
    source, restored = tmp_path / "source", tmp_path / "restored"
    build_sample(source)
    first = io.BytesIO()
    written = write_layer_from_dir(source, first)
    stats = apply_layer(io.BytesIO(first.getvalue()), restored)
    assert stats.diff_id == written.diff_id and stats.tar_size == written.size == len(first.getvalue())
    assert tree(restored, mtimes=True, owners=IS_ROOT) == tree(source, mtimes=True, owners=IS_ROOT)
    again = io.BytesIO()
    assert write_layer_from_dir(restored, again).diff_id == written.diff_id
    assert again.getvalue() == first.getvalue()


def test_entries_of_a_written_layer(tmp_path: Path):
    build_sample(tmp_path / "s")
    blob = io.BytesIO()
    write_layer_from_dir(tmp_path / "s", blob)
    entries = {e.path: e for e in scan(io.BytesIO(blob.getvalue()))}
    assert entries["big-again"].type == HARDLINK and entries["big-again"].linkname == "big"
    assert entries["bin/tool"].mode == 0o4755 and entries["tmp"].mode == 0o1777
    assert entries["attrs"].xattrs["user.note"] == b"hello\x00\xffbinary"
    assert entries["ünïcode-名前"].type == REGULAR
    assert entries["long-link-target"].linkname == "x" * 150
    assert list(entries) == sorted(entries, key=lambda p: [part.encode() for part in p.split("/")])


def test_dir_layer_is_reproducible_with_overrides(tmp_path: Path):
    one, two = tmp_path / "one", tmp_path / "two"
    for root, stamp in ((one, 1_000), (two, 2_000_000)):
        (root / "d").mkdir(parents=True)
        (root / "d/f").write_bytes(b"same")
        for path in (root / "d", root / "d/f"):
            os.utime(path, (stamp, stamp))
    blobs = []
    for root in (one, two):
        tar, gz = io.BytesIO(), io.BytesIO()
        write_layer_from_dir(root, tar, mtime=0, owner=(0, 0))
        tar.seek(0)
        compress_to(tar, gz)
        blobs.append((tar.getvalue(), gz.getvalue()))
    assert blobs[0] == blobs[1]
    plain = [io.BytesIO(), io.BytesIO()]
    write_layer_from_dir(one, plain[0])
    write_layer_from_dir(two, plain[1])
    assert plain[0].getvalue() != plain[1].getvalue()  # the overrides were what made them equal


def test_changes_layer_applies_onto_the_lower(tmp_path: Path):
    lower, new = tmp_path / "lower", tmp_path / "new"
    for path, content in {"etc/a": b"a", "etc/b": b"b", "srv/x/1": b"1", "srv/x/2": b"2"}.items():
        (lower / path).parent.mkdir(parents=True, exist_ok=True)
        (lower / path).write_bytes(content)
    (new / "srv/x").mkdir(parents=True)
    (new / "etc").mkdir()
    (new / "etc/a").write_bytes(b"changed")
    (new / "etc/c").write_bytes(b"added")
    (new / "srv/x/3").write_bytes(b"3")
    changes = [
        Change("etc/b", "delete"), Change("srv/x/3", "add", new / "srv/x/3"), Change("etc/a", "modify", new / "etc/a"),
        Change("srv/x", "opaque", new / "srv/x"), Change("/etc/c", "add", new / "etc/c"),
        Change("srv/x", "add", new / "srv/x"),
    ]
    blob = io.BytesIO()
    write_layer_from_changes(changes, blob)
    paths = [e.path for e in scan(io.BytesIO(blob.getvalue()))]
    assert paths == ["etc/a", "etc/.wh.b", "etc/c", "srv/x", "srv/x/.wh..wh..opq", "srv/x/3"]
    apply_layer(io.BytesIO(blob.getvalue()), lower)
    assert sorted(str(p.relative_to(lower)) for p in lower.rglob("*") if p.is_file()) == ["etc/a", "etc/c", "srv/x/3"]
    assert (lower / "etc/a").read_bytes() == b"changed"


def test_changes_refuse_escaping_paths_and_missing_sources(tmp_path: Path):
    with pytest.raises(LayerError):
        write_layer_from_changes([Change("../x", "delete")], io.BytesIO())
    with pytest.raises(LayerError):
        write_layer_from_changes([Change("x", "add", None)], io.BytesIO())
    with pytest.raises(LayerError):
        write_layer_from_changes([Change("x", "rename", tmp_path)], io.BytesIO())


@pytest.mark.skipif(not IS_ROOT, reason="mounting overlayfs needs root")
def test_overlay_upper_to_layer_matches_the_merged_view(tmp_path: Path):
    lower, upper, work, merged = (tmp_path / name for name in ("lower", "upper", "work", "merged"))
    for path in (upper, work, merged):
        path.mkdir()
    for path, content in {"etc/keep": b"k", "etc/drop": b"d", "var/lib/db/a": b"a", "var/lib/db/b": b"b",
                          "usr/share/doc/x": b"x", "opt/f": b"f"}.items():
        (lower / path).parent.mkdir(parents=True, exist_ok=True)
        (lower / path).write_bytes(content)
    options = f"lowerdir={lower},upperdir={upper},workdir={work}"
    mounted = subprocess.run(["mount", "-t", "overlay", "overlay", "-o", options, str(merged)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"overlay mount failed: {mounted.stderr.decode().strip()}")
    try:
        (merged / "etc/drop").unlink()
        shutil.rmtree(merged / "usr/share/doc")
        shutil.rmtree(merged / "var/lib/db")
        (merged / "var/lib/db").mkdir()  # re-created: overlay marks it opaque
        (merged / "var/lib/db/new").write_bytes(b"new")
        (merged / "etc/keep").write_bytes(b"modified")
        (merged / "opt/g").write_bytes(b"g")
        os.chmod(merged / "opt", 0o700)
        expected = tree(merged)
    finally:
        subprocess.run(["umount", str(merged)], check=True)
    blob = io.BytesIO()
    write_layer_from_overlay_upper(upper, blob)
    entries = [e for e in scan(io.BytesIO(blob.getvalue()))]
    paths = [e.path for e in entries]
    assert "etc/.wh.drop" in paths and "usr/share/.wh.doc" in paths
    assert paths.index("var/lib/db/.wh..wh..opq") == paths.index("var/lib/db") + 1
    assert not any(name.startswith("trusted.overlay") for e in entries for name in e.xattrs)
    apply_layer(io.BytesIO(blob.getvalue()), lower)
    assert tree(lower) == expected


def test_writer_measures_what_reading_back_measures(tmp_path: Path):
    # A build step's blob is recorded from these numbers, without reading the tar again.
    from layerlab.engine.store.measure import measure_layer

    build_sample(tmp_path / "s")
    out = io.BytesIO()
    written = write_layer_from_dir(tmp_path / "s", out)
    measured = measure_layer(io.BytesIO(out.getvalue()))
    assert (written.diff_id, written.size, written.content_size) == (
        measured.diff_id, measured.tar_size, measured.content_size)
    assert written.content_size > 3 << 20 and written.bad_entry is None


def test_writer_names_a_whiteout_no_layer_may_carry(tmp_path: Path):
    (tmp_path / "s" / "etc").mkdir(parents=True)
    (tmp_path / "s" / "etc" / ".wh..wh.aufs").write_bytes(b"")
    (tmp_path / "s" / ".wh..hidden").write_bytes(b"")  # a dotfile's whiteout is fine
    written = write_layer_from_dir(tmp_path / "s", io.BytesIO())
    assert written.bad_entry == "etc/.wh..wh.aufs"
