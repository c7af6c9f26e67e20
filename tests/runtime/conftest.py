"""Fixtures for runtime tests: a busybox rootfs, a runc with a private state dir, mount checks."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from tests.peers import need_program


def make_busybox_rootfs(target: Path) -> Path:
    """A minimal rootfs: bin/busybox with one relative symlink per applet, etc/passwd and etc/group."""
    busybox = need_program("busybox")
    (target / "bin").mkdir(parents=True)
    (target / "etc").mkdir()
    shutil.copy2(busybox, target / "bin" / "busybox")
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
    for applet in applets:
        if applet != "busybox":
            os.symlink("busybox", target / "bin" / applet)
    (target / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n")
    (target / "etc" / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
    (target / "etc").chmod(0o750)  # unusual on purpose: the mount-point stubs must keep it
    return target


def tree_state(root: Path) -> dict[str, tuple]:
    """Every entry under ``root`` with type, mode, owner, size, mtime and link target."""
    state = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = os.lstat(path)
            link = os.readlink(path) if stat.S_ISLNK(st.st_mode) else None
            state[str(path.relative_to(root))] = (st.st_mode, st.st_uid, st.st_gid, st.st_size,
                                                  st.st_mtime_ns, st.st_rdev, link)
    return state


def upper_entries(upper: Path) -> set[str]:
    return set(tree_state(upper))


def mounts_under(path: Path) -> list[str]:
    prefix = os.path.realpath(path)
    with open("/proc/self/mountinfo") as mountinfo:
        return [line.split()[4] for line in mountinfo if line.split()[4].startswith(prefix)]


@pytest.fixture(scope="session")
def busybox_rootfs(tmp_path_factory) -> Path:
    return make_busybox_rootfs(tmp_path_factory.mktemp("lower") / "rootfs")


@pytest.fixture
def runc_runtime(tmp_path: Path):
    from layerlab.engine.runtime import RuncRuntime

    need_program("runc")
    if os.geteuid() != 0:
        pytest.skip("runc runs containers as root only; the bubblewrap tests cover other users")
    runtime = RuncRuntime(tmp_path / "runc-state")
    yield runtime
    assert runtime.list_containers() == [], "a runc container outlived its run"
    assert mounts_under(tmp_path) == [], "a mount outlived its run"


def run_lines(runtime, rootfs: Path, workspace: Path, script: str, network: str = "none") -> list[str]:
    """Run ``script`` under /bin/sh over ``rootfs``; its output lines (both streams), after a zero exit."""
    from layerlab.engine.runtime import ProcessSpec, run_in_layers

    lines: list[str] = []
    result, _ = run_in_layers([rootfs], ProcessSpec(["/bin/sh", "-c", script], env=["PATH=/bin"], network=network),
                              workspace, runtime=runtime, on_output=lambda stream, line: lines.append(line.decode()))
    assert result.exit_code == 0, lines
    return lines
