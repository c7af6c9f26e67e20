"""Whiteouts and opaque directories, with known answers (OCI "Applying Changesets")."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from layerlab.engine.layers.apply import apply_layer
from layerlab.engine.layers.tarscan import scan
from tests.layers.helpers import dir_, file_, link_, tar_bytes


@pytest.fixture
def lower(tmp_path: Path) -> Path:
    """A target already holding a lower layer."""
    root = tmp_path / "rootfs"
    apply_layer(io.BytesIO(tar_bytes(
        dir_("etc"), file_("etc/keep", b"k"), file_("etc/gone", b"g"),
        dir_("var"), dir_("var/cache"), file_("var/cache/a", b"a"), dir_("var/cache/sub"), file_("var/cache/sub/b"),
        dir_("opt"), file_("opt/old", b"old"), link_("opt/link", "old"),
    )), root)
    return root


def names(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*")}


def apply(root: Path, *members) -> None:
    apply_layer(io.BytesIO(tar_bytes(*members)), root)


def test_file_whiteout_removes_the_lower_file_and_is_never_written(lower: Path):
    apply(lower, file_("etc/.wh.gone", b""))
    assert not (lower / "etc/gone").exists()
    assert (lower / "etc/keep").exists()
    assert not any(".wh." in name for name in names(lower))


def test_directory_whiteout_removes_the_whole_lower_directory(lower: Path):
    apply(lower, file_("var/.wh.cache", b""))
    assert not (lower / "var/cache").exists()
    assert (lower / "var").is_dir()


def test_whiteout_of_a_missing_path_is_harmless(lower: Path):
    apply(lower, file_("nowhere/.wh.nothing", b""), file_(".wh.absent", b""))
    assert not (lower / "nowhere").exists()


def test_opaque_directory_hides_lower_contents_but_keeps_its_own(lower: Path):
    apply(lower, dir_("var/cache"), file_("var/cache/.wh..wh..opq", b""), file_("var/cache/new", b"n"))
    assert names(lower / "var/cache") == {"new"}


def test_opaque_marker_after_the_layers_own_entries_keeps_them(lower: Path):
    # the marker's position in the tar does not matter: it only ever hides lower content
    apply(lower, dir_("var/cache"), dir_("var/cache/sub"), file_("var/cache/sub/mine", b"m"),
          file_("var/cache/top", b"t"), file_("var/cache/.wh..wh..opq", b""))
    assert names(lower / "var/cache") == {"sub", "sub/mine", "top"}


def test_whiteout_does_not_hide_an_entry_of_its_own_layer(lower: Path):
    apply(lower, file_("etc/fresh", b"f"), file_("etc/.wh.fresh", b""))
    assert (lower / "etc/fresh").read_bytes() == b"f"


def test_recreated_after_delete_in_the_same_layer(lower: Path):
    # a lower directory replaced by a file of the same name: whiteout first, then the new entry
    apply(lower, file_("var/.wh.cache", b""), file_("var/cache", b"now a file"))
    assert (lower / "var/cache").read_bytes() == b"now a file"
    # and a lower file replaced by a directory with new content
    apply(lower, file_("opt/.wh.old", b""), dir_("opt/old"), file_("opt/old/inner", b"i"))
    assert names(lower / "opt") == {"old", "old/inner", "link"}


def test_entry_replacing_a_different_type_without_whiteout(lower: Path):
    apply(lower, file_("opt/link", b"regular now"), link_("etc/keep", "/elsewhere"))
    assert (lower / "opt/link").read_bytes() == b"regular now"
    assert (lower / "etc/keep").is_symlink()


def test_root_opaque_marker_clears_everything_lower(lower: Path):
    apply(lower, file_(".wh..wh..opq", b""), file_("only", b"o"))
    assert names(lower) == {"only"}


def test_entries_report_whiteouts_and_opaque_markers():
    blob = tar_bytes(dir_("d"), file_("d/.wh..wh..opq", b""), file_("d/.wh.x", b""), file_("./d/y", b"y"))
    entries = list(scan(io.BytesIO(blob)))
    assert [(e.path, e.whiteout) for e in entries] == [
        ("d", None),
        ("d/.wh..wh..opq", ("opaque", "d")),
        ("d/.wh.x", ("file", "d/x")),
        ("d/y", None),
    ]


def test_stats_count_whiteouts(lower: Path):
    stats = apply_layer(io.BytesIO(tar_bytes(file_("etc/.wh.gone", b""), dir_("opt"), file_("opt/.wh..wh..opq", b""),
                                             file_("n", b"12345"))), lower)
    assert (stats.entries, stats.whiteouts, stats.bytes) == (4, 2, 5)


def test_kept_whiteouts_take_overlayfs_form_and_write_back_to_the_same_tar(tmp_path: Path):
    """One layer on its own: ".wh.x" is a 0/0 device, an opaque marker the xattr, a whiteout
    followed by a directory of the same name an opaque directory; written back, the same entries."""
    import os
    import stat

    from layerlab.engine.layers.names import opaque_xattr_for
    from layerlab.engine.layers.write import write_layer_from_overlay_upper

    layer = tmp_path / "layer"
    apply_layer(io.BytesIO(tar_bytes(
        dir_("etc"), file_("etc/.wh.gone", b""), dir_("opt"), file_("opt/.wh..wh..opq", b""), file_("opt/new", b"n"),
        file_(".wh.var", b""), dir_("var"), file_("var/fresh", b"f"),
    )), layer, keep_whiteouts=opaque_xattr_for(os.geteuid()))
    gone = os.lstat(layer / "etc/gone")
    assert stat.S_ISCHR(gone.st_mode) and gone.st_rdev == 0
    xattr = opaque_xattr_for(os.geteuid())
    assert os.getxattr(layer / "opt", xattr) == b"y" and os.getxattr(layer / "var", xattr) == b"y"
    assert (layer / "opt/new").read_bytes() == b"n" and not (layer / "etc/.wh.gone").exists()
    out = io.BytesIO()
    write_layer_from_overlay_upper(layer, out)
    written = {entry.path for entry in scan(io.BytesIO(out.getvalue()))}
    assert {"etc/.wh.gone", "opt/.wh..wh..opq", "opt/new", "var/.wh..wh..opq", "var/fresh"} <= written

