"""An edit rebuild's COPY links the files it would write unchanged from the same step's previous layer,
and the layer it makes is the one a full copy makes; a file that differs in any byte is written anew."""

from __future__ import annotations

import json
import os
from pathlib import Path

from layerlab.engine.store import Store
from tests.build.conftest import write_context

DOCKERFILE = "FROM scratch\nCOPY src/ /src/\n"
SOURCES = {f"src/m{i}.py": f"value_{i} = {i}\n" * 40 for i in range(6)}


def _top(store: Store, tag: str) -> tuple[str, Path]:
    """(diff ID, snapshot directory) of the image's top layer."""
    image = store.image(tag)
    return str(image.layers()[-1].diff_id), store.snapshot_layers(image)[-1]


def _build(cli, tag: str, context: Path, *flags: str) -> None:
    built = cli("build", "-q", *flags, "-t", tag, str(context))
    assert built.code == 0, built.err


def _same_size_other_bytes(path: Path) -> None:
    """Change a file's bytes but not its size or mtime (what a stat comparison cannot see)."""
    st = path.stat()
    data = path.read_bytes()
    path.write_bytes(data[:-2] + b"#\n")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_unchanged_files_are_linked_and_the_layer_is_the_one_a_full_copy_makes(cli, root, tmp_path):
    context = write_context(tmp_path / "ctx", DOCKERFILE, SOURCES)
    _build(cli, "one", context)
    (context / "src" / "m0.py").write_text("edited = True\n")
    _build(cli, "two", context)
    with Store.open(root) as store:
        _, first = _top(store, "one")
        linked_digest, second = _top(store, "two")
        for i in range(1, 6):
            assert (second / "src" / f"m{i}.py").stat().st_ino == (first / "src" / f"m{i}.py").stat().st_ino
        assert (second / "src" / "m0.py").stat().st_ino != (first / "src" / "m0.py").stat().st_ino
        assert (second / "src" / "m0.py").read_text() == "edited = True\n"
        assert [str(p) for p in store.fsck() if p.is_error] == []
    _build(cli, "three", context, "--no-cache")   # --no-cache: every file copied
    with Store.open(root) as store:
        assert _top(store, "three")[0] == linked_digest


def test_a_source_changed_without_its_size_or_mtime_is_written_anew(cli, root, tmp_path):
    context = write_context(tmp_path / "ctx", DOCKERFILE, SOURCES)
    _build(cli, "one", context)
    _same_size_other_bytes(context / "src" / "m1.py")
    _build(cli, "two", context)
    with Store.open(root) as store:
        _, first = _top(store, "one")
        _, second = _top(store, "two")
        assert (second / "src" / "m1.py").read_bytes() == (context / "src" / "m1.py").read_bytes()
        assert (second / "src" / "m1.py").stat().st_ino != (first / "src" / "m1.py").stat().st_ino
        assert (second / "src" / "m2.py").stat().st_ino == (first / "src" / "m2.py").stat().st_ino


def test_a_previous_layer_file_damaged_in_place_is_not_linked(cli, root, tmp_path):
    context = write_context(tmp_path / "ctx", DOCKERFILE, SOURCES)
    _build(cli, "one", context)
    with Store.open(root) as store:
        _, first = _top(store, "one")
    _same_size_other_bytes(first / "src" / "m2.py")
    (context / "src" / "m0.py").write_text("edited = True\n")
    _build(cli, "two", context)
    with Store.open(root) as store:
        _, second = _top(store, "two")
        assert (second / "src" / "m2.py").read_bytes() == (context / "src" / "m2.py").read_bytes()
        assert (second / "src" / "m3.py").stat().st_ino == (first / "src" / "m3.py").stat().st_ino


def test_files_the_copy_would_give_other_permissions_are_not_linked(cli, root, tmp_path):
    context = write_context(tmp_path / "ctx", DOCKERFILE, SOURCES)
    _build(cli, "one", context)
    (context / "Dockerfile").write_text("FROM scratch\nCOPY --chmod=600 src/ /src/\n")
    _build(cli, "two", context)
    with Store.open(root) as store:
        _, first = _top(store, "one")
        _, second = _top(store, "two")
        for i in range(6):
            path = second / "src" / f"m{i}.py"
            assert path.stat().st_mode & 0o7777 == 0o600
            assert path.stat().st_ino != (first / "src" / f"m{i}.py").stat().st_ino


def test_a_previous_file_is_linked_once_so_the_layer_gets_no_hard_link_a_copy_would_not(cli, root, tmp_path):
    context = write_context(tmp_path / "ctx", DOCKERFILE, SOURCES)
    os.link(context / "src" / "m1.py", context / "src" / "twin.py")   # one inode: the layer keeps a hard link
    _build(cli, "one", context)
    twin = context / "src" / "twin.py"
    st, data = twin.stat(), twin.read_bytes()
    twin.unlink()
    twin.write_bytes(data)                                          # now a file of its own, same bytes and mtime
    os.utime(twin, ns=(st.st_atime_ns, st.st_mtime_ns))
    (context / "src" / "m0.py").write_text("edited = True\n")    # (the cache key does not see hard links)
    _build(cli, "two", context)
    _build(cli, "three", context, "--no-cache")
    with Store.open(root) as store:
        assert _top(store, "two")[0] == _top(store, "three")[0]
        _, second = _top(store, "two")
        assert (second / "src" / "twin.py").stat().st_ino != (second / "src" / "m1.py").stat().st_ino


def _copy_end(cli, tag: str, context: Path, *flags: str) -> dict:
    """The COPY step's ``step.end`` event of a ``--progress=json`` build."""
    built = cli("build", "--progress=json", *flags, "-t", tag, str(context))
    assert built.code == 0, built.err
    ends = [json.loads(line) for line in built.out.splitlines() if '"step.end"' in line]
    return next(end for end in ends if end["instruction"].startswith("COPY"))


def test_the_rebuilt_copy_says_how_many_files_it_linked(cli, root, tmp_path):
    context = write_context(tmp_path / "ctx", DOCKERFILE, SOURCES)
    assert _copy_end(cli, "one", context)["reused_files"] == 0   # no previous layer yet
    (context / "src" / "m0.py").write_text("edited = True\n")
    edit = _copy_end(cli, "two", context)
    assert edit["cache"] == "miss" and edit["reused_files"] == 5   # all but the edited one
    assert _copy_end(cli, "three", context, "--no-cache")["reused_files"] == 0   # every file copied
    (context / "src" / "m1.py").write_text("edited = True\n")   # m0 is as the last build left it
    shown = cli("build", "--progress=plain", "-t", "four", str(context))
    assert shown.code == 0, shown.err
    assert "#2 5 unchanged files linked from this step's last build, not copied again" in shown.out.splitlines()
