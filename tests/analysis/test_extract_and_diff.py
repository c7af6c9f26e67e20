"""Reading files out of layers, and comparing two images file by file."""

from __future__ import annotations

import io
import os

import pytest

from layerlab.engine.analysis import analyze
from layerlab.engine.analysis.extract import cat, copy_out
from layerlab.engine.analysis.imagediff import diff_images
from layerlab.engine.errors import NotFound, UsageError
from tests.analysis.layertar import layer_tar, sources

CONF_V1 = b"listen 80;\nroot /srv;\n"
CONF_V2 = b"listen 8080;\nroot /srv;\n"


def image_one():
    return analyze(sources(
        layer_tar(("f", "etc/app.conf", CONF_V1), ("f", "bin/tool", b"\x7fELF" + bytes(60), 0o755),
                  ("l", "etc/current", "app.conf"), ("l", "conf", "/etc"), ("h", "bin/tool2", "bin/tool")),
        layer_tar(("f", "etc/app.conf", CONF_V2), ("f", "srv/index.html", b"<h1>hi</h1>\n")),
    ))


def read(analysis, path, layer=None) -> bytes:
    out = io.BytesIO()
    cat(analysis, path, out, layer=layer)
    return out.getvalue()


def test_cat_reads_a_file_as_of_any_layer():
    analysis = image_one()
    assert read(analysis, "/etc/app.conf") == CONF_V2
    assert read(analysis, "/etc/app.conf", layer=0) == CONF_V1
    assert read(analysis, "/srv/index.html") == b"<h1>hi</h1>\n"


def test_cat_follows_symlinks_and_hard_links_inside_the_image():
    analysis = image_one()
    assert read(analysis, "/etc/current") == CONF_V2
    assert read(analysis, "/conf/app.conf") == CONF_V2  # through an absolute directory link
    assert read(analysis, "/bin/tool2") == read(analysis, "/bin/tool")


def test_cat_refuses_directories_and_missing_paths():
    analysis = image_one()
    with pytest.raises(UsageError, match="is a directory"):
        read(analysis, "/etc")
    with pytest.raises(NotFound, match="/srv/index.html"):
        read(analysis, "/srv/index.html", layer=0)


def test_cp_copies_a_directory_with_links_and_modes(tmp_path):
    analysis = image_one()
    written = copy_out(analysis, "/", tmp_path / "out")
    root = tmp_path / "out"
    assert (root / "etc" / "app.conf").read_bytes() == CONF_V2
    assert os.readlink(root / "etc" / "current") == "app.conf"
    assert os.readlink(root / "conf") == "/etc"  # copied as a link, never followed
    assert os.stat(root / "bin" / "tool").st_mode & 0o777 == 0o755
    assert (root / "bin" / "tool2").read_bytes() == (root / "bin" / "tool").read_bytes()
    assert written == 10  # the root, 3 directories, 4 files, 2 links
    copy_out(analysis, "/etc/app.conf", tmp_path)  # into an existing directory
    assert (tmp_path / "app.conf").read_bytes() == CONF_V2


def test_cp_never_writes_through_a_symlink_in_the_image(tmp_path):
    # a link named like a directory, with a file "under" it in the same layer
    hostile = analyze(sources(layer_tar(("l", "d", "/outside"), ("f", "d/x", b"boom"), parents=False)))
    target = tmp_path / "out"
    with pytest.raises(UsageError, match="not a directory"):
        copy_out(hostile, "/", target)
    assert not (tmp_path / "outside").exists()
    assert not any(p.name == "x" and p.is_file() and not str(p).startswith(str(target)) for p in tmp_path.rglob("*"))


def test_diff_between_images_with_text_diff():
    old = image_one()
    new = analyze(sources(
        layer_tar(("f", "etc/app.conf", CONF_V1), ("f", "bin/tool", b"\x7fELF" + bytes(60), 0o755),
                  ("l", "etc/current", "app.conf"), ("l", "conf", "/etc"), ("h", "bin/tool2", "bin/tool")),
        layer_tar(("f", "srv/index.html", b"<h1>HI</h1>\n"), ("f", "srv/new.txt", b"new\n")),
        layer_tar(("wh", "bin/tool2")),
    ))
    result = diff_images(old, new, content=True)
    summary = [(c.code, c.path, c.reasons) for c in result.changes]
    assert summary == [
        ("D", "/bin/tool2", ()),
        ("M", "/etc/app.conf", ("size",)),
        ("M", "/srv/index.html", ("content",)),  # same size: found by hashing
        ("A", "/srv/new.txt", ()),
    ]
    conf = result.changes[1]
    assert "-listen 8080;\n+listen 80;\n" in conf.text_diff  # old image has v2, new one v1
    assert "+<h1>HI</h1>" in result.changes[2].text_diff
    assert diff_images(old, old).changes == []
