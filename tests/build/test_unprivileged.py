"""RUN as an unprivileged user: the whole build runs as nobody, so RUN goes through bubblewrap."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

from layerlab.engine.runtime.bubblewrap import userns_unavailable_reason
from layerlab.engine.store import Store
from tests.peers import need_program
from tests.unprivileged import NOBODY, as_user, python_for, stage_code

RUN_CLI = "import sys; sys.path.insert(0, sys.argv[1]); from layerlab.cli.main import main; sys.exit(main(sys.argv[2:]))"


@pytest.fixture
def area():
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to an unprivileged user")
    reason = userns_unavailable_reason()
    if reason:
        pytest.fail(f"cannot test an unprivileged build: {reason}")
    path = Path(tempfile.mkdtemp(prefix="layerlab-unpriv-build-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def nobody_with_busybox(area: Path, dockerfile: str, files: dict[str, str]):
    """``layerlab(*args)`` run as nobody over a store under ``area`` holding busybox, and ``area/ctx``."""
    setpriv = need_program("setpriv")
    need_program("bwrap")
    busybox = need_program("busybox")
    python = python_for(NOBODY, setpriv)
    code = stage_code(area)
    context = area / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(dockerfile)
    for name, text in files.items():
        (context / name).write_text(text)
    for path in [area, *area.rglob("*")]:
        os.lchown(path, NOBODY, NOBODY)

    def layerlab(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*as_user(NOBODY, setpriv), python, "-c", RUN_CLI, str(code),
                               "--root", str(area / "root"), *args], capture_output=True, text=True, cwd="/")

    assert layerlab("bootstrap", "busybox", "--busybox", busybox).returncode == 0
    return layerlab, context


def test_unprivileged_build_runs_run_steps_with_bubblewrap(area):
    layerlab, context = nobody_with_busybox(area, """FROM busybox
COPY a.txt /a.txt
RUN echo "uid=$(id -u)" > /who.txt && rm /a.txt && mkdir -p /data && echo x > /data/x
RUN --mount=type=tmpfs,target=/scratch echo ok > /scratch/t && cat /scratch/t > /ok.txt
""", {"a.txt": "a"})
    # --network none: the default network needs /dev/net/tun, which some hosts keep root-only
    # (tests/runtime/test_bubblewrap.py covers the private network for this user).
    first = layerlab("build", "--progress", "plain", "--network", "none", "-t", "rootless", str(context))
    assert first.returncode == 0, first.stderr + first.stdout
    assert "Successfully tagged rootless" in first.stdout
    second = layerlab("build", "--progress", "plain", "--network", "none", str(context))
    assert second.returncode == 0 and second.stdout.count("CACHED") == 3
    with Store.open(area / "root") as store:
        image = store.image("rootless")
        rootfs = store.merged_tree(image)
        assert (rootfs / "who.txt").read_text() == "uid=0\n"  # root inside the user namespace
        assert (rootfs / "ok.txt").read_text() == "ok\n"
        assert not (rootfs / "a.txt").exists() and (rootfs / "data" / "x").read_text() == "x\n"
        assert not (rootfs / "scratch").exists() or not any((rootfs / "scratch").iterdir())
        assert len(image.layers()) == 4


def test_unprivileged_whiteouts_and_opaque_dirs_go_through_the_user_namespace_overlay(area):
    """Without root the layer directories carry user.overlay.opaque, which the next RUN's overlay reads."""
    from tests.build.test_layer_snapshots import DELETING

    layerlab, context = nobody_with_busybox(area, DELETING, {})
    built = layerlab("build", "-q", "--network", "none", "-t", "deleting", str(context))
    assert built.returncode == 0, built.stderr
    listing = layerlab("run", "--network", "none", "deleting", "cat", "/listing", "/gone-seen", "/kept")
    assert listing.returncode == 0 and listing.stdout == "n\nno\nk\n", listing.stderr
    with Store.open(area / "root") as store:
        image = store.image("deleting")
        layer_dir = store.snapshot_layers(image)[-2]
        assert os.getxattr(layer_dir / "data", "user.overlay.opaque") == b"y"
        gone = os.lstat(layer_dir / "gone")
        assert stat.S_ISCHR(gone.st_mode) and gone.st_rdev == 0 and gone.st_uid == NOBODY


def test_unprivileged_default_network_works_or_says_why_and_what_to_pass(area):
    layerlab, context = nobody_with_busybox(area, "FROM busybox\nRUN ip -o link | cut -d: -f2 | tr -d ' \\n' > /ifaces\n",
                                            {})
    tun_usable = subprocess.run([*as_user(NOBODY, need_program("setpriv")), "test", "-r", "/dev/net/tun", "-a",
                                 "-w", "/dev/net/tun"]).returncode == 0
    built = layerlab("build", "-q", "-t", "default-net", str(context))
    if tun_usable:
        assert built.returncode == 0, built.stderr
        return
    # /dev/net/tun is root's alone here: not even a user namespace of our own can open it
    assert built.returncode != 0 and "Traceback" not in built.stderr, built.stderr
    assert len(built.stderr.strip().splitlines()) == 1, built.stderr
    for words in ("/dev/net/tun", "--network none", "--network host", "--allow network.host"):
        assert words in built.stderr, built.stderr
