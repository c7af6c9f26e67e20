from __future__ import annotations

import gzip
import io
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from layerlab.engine.store import Store
from layerlab.engine.transports.docker_archive import write_docker_archive
from tests.conftest import REPO
from tests.transports.helpers import layer_tar, manifest_of, rewrite_tar, small_image


@pytest.fixture
def store(root: Path):
    with Store.open(root) as opened:
        yield opened


def errors(store) -> list[str]:
    return [str(p) for p in store.fsck() if p.is_error]


def listing(cli) -> str:
    return cli("images", "--no-trunc", "-a").out


@pytest.mark.parametrize("fmt", ["docker", "docker-oci"])
def test_save_load_save_keeps_digests(cli, store, tmp_path: Path, fmt: str) -> None:
    image = store.put_image(small_image({"a": b"1"}, {"b": b"2"}), tags=["app:1"])
    first = tmp_path / "first.tar"
    assert cli("save", "--format", fmt, "-o", str(first), "app:1").code == 0
    store.remove("app:1")
    loaded = cli("load", "-i", str(first))
    assert loaded.code == 0 and loaded.out.strip() == "Loaded image: app:1"
    again = store.image("app:1")
    assert again.id == image.id and [l.diff_id for l in again.layers()] == [l.diff_id for l in image.layers()]
    second = tmp_path / "second.tar"
    assert cli("save", "--format", fmt, "-o", str(second), "app:1").code == 0
    assert second.read_bytes() == first.read_bytes()
    assert errors(store) == []


def test_save_to_stdout_and_load_from_stdin(cli_process, store) -> None:
    store.put_image(small_image({"a": b"1"}), tags=["app:1"])
    saved = cli_process("save", "app:1", check=True)
    assert tarfile.open(fileobj=io.BytesIO(saved.stdout)).getmember("manifest.json")
    store.remove("app:1")
    loaded = cli_process("load", input=gzip.compress(saved.stdout))
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.decode().strip() == "Loaded image: app:1"


def test_save_and_load_oci_layout_directory(cli, store, tmp_path: Path) -> None:
    image = store.put_image(small_image({"a": b"1"}), tags=["app:1"])
    layout = tmp_path / "layout"
    assert cli("save", "--format", "oci", "-o", str(layout), "app:1").code == 0
    assert (layout / "oci-layout").exists() and (layout / "index.json").exists()
    store.remove("app:1")
    assert cli("load", "-i", str(layout)).out.strip() == "Loaded image: app:1"
    assert store.resolve("app:1") == image.id


def test_save_by_id_keeps_no_tag(cli, store, tmp_path: Path) -> None:
    image = store.put_image(small_image({"a": b"1"}), tags=["app:1"])
    out = tmp_path / "x.tar"
    assert cli("save", "-o", str(out), image.id.short).code == 0
    assert manifest_of(out)[0]["RepoTags"] is None
    store.remove("app:1")
    assert cli("load", "-i", str(out)).out.strip() == f"Loaded image ID: {image.id}"


def test_import_command(cli, store, tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs.tar.gz"
    rootfs.write_bytes(gzip.compress(layer_tar({"hello": b"hi\n"})))
    result = cli("import", "-c", "CMD [\"cat\", \"/hello\"]", "-m", "from a test", str(rootfs), "imported:1")
    assert result.code == 0, result.err
    image = store.image("imported:1")
    assert result.out.strip() == str(image.id)
    assert image.config.config.cmd == ["cat", "/hello"] and image.config.history[0].comment == "from a test"
    piped = cli("import", "-", stdin=layer_tar({"x": b"y"}))
    assert piped.code == 0 and store.image(piped.out.strip()).config.history[0].comment == "Imported from -"


def test_bootstrap_command(cli, store) -> None:
    from tests.peers import need_program

    busybox = need_program("busybox")
    first = cli("bootstrap", "busybox", "--busybox", busybox)
    second = cli("bootstrap", "busybox", "base:1", "--busybox", busybox)
    assert first.code == 0 and second.code == 0
    assert store.resolve("busybox:latest") == store.resolve("base:1")


def test_bootstrap_if_missing_keeps_an_image_that_is_there(cli, store) -> None:
    from tests.peers import need_program

    made = cli("bootstrap", "busybox", "--if-missing", "--busybox", need_program("busybox"))
    assert made.code == 0 and made.out.strip() == f"busybox:latest: {store.resolve('busybox:latest')}"
    # Present: nothing is made (a binary that does not exist is never looked at).
    kept = cli("bootstrap", "busybox", "--if-missing", "--busybox", "/nonexistent/busybox")
    assert kept.code == 0 and kept.out == made.out
    # Absent: it is made, and a missing binary is one clear line.
    missing = cli("bootstrap", "busybox", "other:1", "--if-missing", "--busybox", "/nonexistent/busybox")
    assert missing.code != 0 and "/nonexistent/busybox" in missing.err and "Traceback" not in missing.err


# -- bad input leaves the store alone ---------------------------------------------------------

def _hostile(tmp_path: Path, kind: str) -> tuple[Path, str]:
    image = small_image({"a": b"1"}, {"b": b"2" * 3000})
    good = tmp_path / "good.tar"
    with open(good, "wb") as out:
        write_docker_archive([(image, ["evil:1"])], out)
    bad = tmp_path / f"{kind}.tar"
    layer = manifest_of(good)[0]["Layers"][1]
    config_name = manifest_of(good)[0]["Config"]
    if kind == "diff_id":
        rewrite_tar(good, bad, lambda m, d: (m, d.replace(b"2222", b"3333", 1)) if m.name == layer else (m, d))
        return bad, layer
    if kind == "config":
        rewrite_tar(good, bad, lambda m, d: (m, d.replace(b"amd64", b"arm64")) if m.name == config_name else (m, d))
        return bad, config_name
    if kind == "dotdot":
        def edit(member, data):
            if member.name == layer:
                member.name = "../../outside.tar"
            return member, data
        rewrite_tar(good, bad, edit)
        return bad, "../../outside.tar"
    data = good.read_bytes()
    bad.write_bytes(data[: len(data) * 2 // 3])
    return bad, bad.name


@pytest.mark.parametrize("kind", ["diff_id", "config", "dotdot", "truncated"])
def test_hostile_archive_is_refused_and_store_unchanged(cli, store, tmp_path: Path, kind: str) -> None:
    store.put_image(small_image({"keep": b"me"}), tags=["keep:1"])
    before = listing(cli)
    blobs_before = sorted(p.name for p in (store.layout.blobs / "sha256").iterdir())
    bad, named = _hostile(tmp_path, kind)
    result = cli("load", "-i", str(bad))
    assert result.code != 0
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.err and named in lines[0]
    assert listing(cli) == before
    assert sorted(p.name for p in (store.layout.blobs / "sha256").iterdir()) == blobs_before
    assert errors(store) == []
    assert not list(store.layout.tmp.iterdir())
    assert not (tmp_path.parent / "outside.tar").exists()


def test_load_killed_halfway_leaves_a_clean_store(root: Path, store, tmp_path: Path) -> None:
    """SIGKILL during a large load: fsck clean, no half image, and loading again works."""
    layers = [{f"file{i}": os.urandom(1 << 20) * 24} for i in range(6)]  # 6 x 24 MiB
    image = small_image(*layers)
    archive = tmp_path / "big.tar"
    with open(archive, "wb") as out:
        write_docker_archive([(image, ["big:1"])], out)
    env = dict(os.environ, LAYERLAB_ROOT=str(root))
    process = subprocess.Popen([sys.executable, "-m", "layerlab", "load", "-i", str(archive)], cwd=REPO, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # Wait until the store has taken some layer bytes, then kill it mid-way.
    ingest_dirs = [store.layout.ingest, store.layout.blobs / "sha256", store.layout.tmp]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if sum(f.stat().st_size for d in ingest_dirs for f in d.iterdir() if f.is_file()) > (30 << 20):
            break
        time.sleep(0.01)
    assert process.poll() is None, "load finished before it could be killed; make the archive bigger"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not store.images()
    assert errors(store) == []
    result = subprocess.run([sys.executable, "-m", "layerlab", "load", "-i", str(archive)], cwd=REPO, env=env,
                            capture_output=True)
    assert result.returncode == 0, result.stderr
    assert store.resolve("big:1") == image.config_digest
    assert errors(store) == []


@pytest.mark.parametrize("entry", ["etc/.wh..wh.plnk", "etc/.wh..", ".wh..wh.aufs"])
def test_load_refuses_a_layer_with_a_bad_whiteout_entry(cli, store, tmp_path: Path, entry: str) -> None:
    """Refused at load time, one line naming the layer digest; a dotfile's whiteout (.wh..profile) still loads."""
    bad = small_image({"etc/profile": b"x", entry: b""})
    archive = tmp_path / "bad.tar"
    with open(archive, "wb") as out:
        write_docker_archive([(bad, ["bad:1"])], out)
    result = cli("load", "-i", str(archive))
    assert result.code != 0
    digest = str(bad.layers()[0].digest)
    assert digest in result.err and entry in result.err, result.err
    assert "Traceback" not in result.err and len(result.err.strip().splitlines()) == 1
    assert "bad" not in listing(cli)

    good = small_image({"etc/profile": b"x", "etc/.wh..profile": b""})
    archive = tmp_path / "good.tar"
    with open(archive, "wb") as out:
        write_docker_archive([(good, ["good:1"])], out)
    assert cli("load", "-i", str(archive)).code == 0
