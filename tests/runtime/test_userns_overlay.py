"""fuse-overlayfs, the fallback where the kernel refuses overlayfs in a user namespace: it reads our
layer directories' whiteouts and opaque directories, and its upperdir comes out in the kernel's form."""

from __future__ import annotations

import io
import os
import stat
import tarfile

import pytest

from layerlab.engine.layers.write import write_layer_from_overlay_upper
from layerlab.engine.runtime import BubblewrapRuntime, ProcessSpec
from layerlab.engine.runtime.container_files import mount_targets
from layerlab.engine.runtime.stubs import make_mount_stubs
from layerlab.engine.runtime.userns_overlay import FUSE_MOUNTED
from tests.peers import need_program

pytestmark = pytest.mark.peers


def layer_with_deletions(path):
    """A layer directory in overlay form: /gone whited out, /data replaced by a directory holding only n."""
    (path / "data").mkdir(parents=True)
    (path / "data" / "n").write_text("n\n")
    os.setxattr(path / "data", "user.overlay.opaque", b"y")
    os.mknod(path / "gone", stat.S_IFCHR, os.makedev(0, 0))
    return path


def test_fuse_overlayfs_reads_our_layers_and_its_upper_is_normalized(busybox_rootfs, tmp_path):
    need_program("bwrap")
    need_program("fuse-overlayfs")
    if os.geteuid() != 0:
        pytest.skip("/dev/fuse is root's here; an unprivileged run uses the kernel's overlay")
    lower = tmp_path / "lower"
    (lower / "data" / "sub").mkdir(parents=True)
    (lower / "data" / "a").write_text("a\n")
    (lower / "data" / "sub" / "b").write_text("b\n")
    (lower / "gone").write_text("gone\n")
    (lower / "old").mkdir()
    (lower / "old" / "x").write_text("x\n")
    top = layer_with_deletions(tmp_path / "top")
    spec = ProcessSpec(["/bin/sh", "-c", "ls -A /data; test -e /gone && echo seen || echo hidden; "
                        "rm -rf /old && mkdir /old && echo y > /old/y && rm /bin/vi"],
                       env=["PATH=/bin"], hostname="fuse", network="none")
    workspace = tmp_path / "ws"
    stack = [busybox_rootfs, lower, top]
    make_mount_stubs(stack, workspace / "mountpoints", mount_targets(spec))
    result = BubblewrapRuntime(overlay="fuse").run_layers([*stack, workspace / "mountpoints"], workspace, spec)
    assert result.exit_code == 0, result.output_tail
    assert result.output_tail == ["n", "hidden"]
    assert (workspace / FUSE_MOUNTED).exists()
    upper = workspace / "upper"
    assert sorted(os.listdir(upper / "old")) == ["y"]  # fuse-overlayfs' own opaque markers are gone
    assert os.getxattr(upper / "old", "user.overlay.opaque") == b"y"
    assert stat.S_ISCHR(os.lstat(upper / "bin" / "vi").st_mode)
    out = io.BytesIO()
    write_layer_from_overlay_upper(upper, out)
    names = [member.name for member in tarfile.open(fileobj=io.BytesIO(out.getvalue()))]
    assert names.count("old/.wh..wh..opq") == 1 and "bin/.wh.vi" in names and "old/y" in names
    daemons = [pid for pid in os.listdir("/proc") if pid.isdigit() and _cmdline(pid).count(str(workspace))]
    assert daemons == []  # the fuse daemon went with the run


def _cmdline(pid: str) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as stream:
            return stream.read().decode(errors="replace")
    except OSError:
        return ""
