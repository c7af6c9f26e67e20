"""A damaged blob is never served or reused with success: cat, cp, save, run, a build's FROM/COPY --from, --no-cache."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from layerlab.engine.store import Store
from tests.build.conftest import write_context
from tests.conftest import REPO
from tests.store.images import make_image

SECRET_LINE = b"the original line\n"


def _damage(path: Path, old: bytes, new: bytes) -> None:
    path.chmod(0o644)
    data = path.read_bytes()
    assert old in data
    path.write_bytes(data.replace(old, new, 1))


@pytest.fixture
def damaged(root: Path) -> str:
    """An image whose (uncompressed) layer blob had one byte of a file's content changed on disk."""
    with Store.open(root) as store:
        image = store.put_image(make_image({"etc/hello": SECRET_LINE * 4, "etc/other": b"o" * 5000},
                                           compress=False), tags=["damaged:1"])
        digest = image.layers()[0].digest
        _damage(store.blobs.path(digest), b"original", b"ORIGINAL")
    return str(digest)


def _one_line_naming(result_err: str, digest: str) -> None:
    assert digest in result_err, result_err
    assert "Traceback" not in result_err and "Exception ignored" not in result_err, result_err
    assert len(result_err.strip().splitlines()) == 1, result_err


def test_cat_of_a_damaged_layer_fails_naming_its_digest(cli_process, damaged: str) -> None:
    result = cli_process("cat", "damaged:1", "/etc/hello")
    assert result.returncode != 0
    _one_line_naming(result.stderr.decode(), damaged)


def test_cp_of_a_damaged_layer_fails_and_leaves_no_copy(cli, damaged: str, tmp_path: Path) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    result = cli("cp", "damaged:1:/etc", str(dest))
    assert result.code != 0
    _one_line_naming(result.err, damaged)
    assert list(dest.iterdir()) == []


@pytest.mark.parametrize("fmt", ["docker", "docker-oci", "oci"])
def test_save_of_a_damaged_layer_fails_and_leaves_nothing(cli_process, damaged: str, tmp_path: Path,
                                                          fmt: str) -> None:
    target = tmp_path / "saved"
    result = cli_process("save", "--format", fmt, "-o", str(target), "damaged:1")
    assert result.returncode != 0
    _one_line_naming(result.stderr.decode(), damaged)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["root"]  # the store root, and nothing saved


def test_save_to_stdout_of_a_damaged_layer_fails(cli_process, damaged: str) -> None:
    result = cli_process("save", "damaged:1")
    assert result.returncode != 0
    _one_line_naming(result.stderr.decode(), damaged)


def test_save_of_a_tampered_config_fails(cli_process, root: Path, tmp_path: Path) -> None:
    with Store.open(root) as store:
        image = store.put_image(make_image({"a": b"1"}, label="original"), tags=["conf:1"])
        _damage(store.blobs.path(image.id), b"original", b"tampered")
    result = cli_process("save", "-o", str(tmp_path / "out.tar"), "conf:1")
    assert result.returncode != 0
    _one_line_naming(result.stderr.decode(), str(image.id))
    assert not (tmp_path / "out.tar").exists()


def test_save_output_path_errors_are_one_line(cli, root: Path, tmp_path: Path) -> None:
    with Store.open(root) as store:
        store.put_image(make_image({"a": b"1"}), tags=["ok:1"])
    (tmp_path / "afile").write_bytes(b"")
    cases = [("-o", str(tmp_path / "missing" / "x.tar")), ("-o", str(tmp_path)),
             ("--format", "oci", "-o", str(tmp_path / "afile")),
             ("--format", "oci", "-o", str(tmp_path / "missing" / "layout"))]
    for args in cases:
        result = cli("save", *args, "ok:1")
        assert result.code != 0, args
        assert "Traceback" not in result.err and len(result.err.strip().splitlines()) == 1, (args, result.err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "root"]


def test_a_killed_save_leaves_no_hidden_file_after_the_next_command(root: Path, tmp_path: Path) -> None:
    """The layer blob is a FIFO that never finishes, so save is surely mid-write when it is killed."""
    with Store.open(root) as store:
        image = store.put_image(make_image({"a": b"x" * 100000}, compress=False), tags=["slow:1"])
        blob = store.blobs.path(image.layers()[0].digest)
    blob.unlink()
    os.mkfifo(blob)
    writer = os.open(blob, os.O_RDWR)   # holds the FIFO open: the reader blocks instead of seeing its end
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    env = dict(os.environ, LAYERLAB_ROOT=str(root))
    save = subprocess.Popen([sys.executable, "-m", "layerlab", "save", "-o", str(out_dir / "x.tar"), "slow:1"],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        os.write(writer, b"\0" * 512)
        deadline = time.monotonic() + 60
        while not list(out_dir.iterdir()) and save.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert save.poll() is None, save.stderr.read()
        assert [p.name.startswith(".x.tar") for p in out_dir.iterdir()] == [True]
        save.send_signal(signal.SIGKILL)
        save.wait()
    finally:
        os.close(writer)
        if save.poll() is None:
            save.kill()
    subprocess.run([sys.executable, "-m", "layerlab", "images"], cwd=REPO, env=env, check=True,
                   capture_output=True)
    assert list(out_dir.iterdir()) == []


def test_run_of_a_damaged_layer_fails_before_running(cli, damaged: str) -> None:
    result = cli("run", "--rm", "damaged:1", "true")
    assert result.code != 0
    _one_line_naming(result.err, damaged)


@pytest.mark.parametrize("dockerfile", ["FROM damaged:1\nCOPY f /f\n", "FROM scratch\nCOPY --from=damaged:1 /etc /etc\n"])
def test_a_build_from_a_damaged_image_fails_naming_the_layer(cli, damaged: str, tmp_path: Path,
                                                             dockerfile: str) -> None:
    context = write_context(tmp_path / "ctx", dockerfile, {"f": "x"})
    result = cli("build", "-q", "-t", "uses-damaged:1", str(context))
    assert result.code != 0
    assert damaged in result.err and "Traceback" not in result.err, result.err


def test_build_no_cache_replaces_a_damaged_blob_it_would_reuse(cli, root: Path, tmp_path: Path) -> None:
    context = write_context(tmp_path / "ctx", "FROM scratch\nCOPY hello /hello\n", {"hello": "original\n"})
    assert cli("build", "-q", "-t", "made:1", str(context)).code == 0
    with Store.open(root) as store:
        digest = store.image("made:1").layers()[0].digest
        _damage(store.blobs.path(digest), b"original", b"ORIGINAL")
    again = cli("build", "-q", "--no-cache", "-t", "made:2", str(context))
    assert again.code == 0, again.err
    with Store.open(root) as store:
        assert store.image("made:2").layers()[0].digest == digest
        assert store.blobs.verify(digest) == digest
    assert cli("cat", "made:1", "/hello").out == "original\n"
