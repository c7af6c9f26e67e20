"""Mount-point stubs in their own lower layer, so they never reach the upperdir.

A runtime must create a directory or an empty file wherever it mounts
something (/proc, /etc/hosts, /run/secrets/<id>, a cache dir…). Made in the
merged view, those stubs (and copies of their parent directories) would land
in the upperdir and be committed. Docker keeps them in a separate "init"
layer; so do we: the stub layer sits on top of the snapshots as the topmost
lower. Parent directories in it copy the owner, mode and times of the
directory they shadow, because overlayfs shows the topmost layer's metadata.
Paths are resolved through the stack the way the kernel would see them:
whiteouts hide, opaque directories stop the search, symlinks are followed
inside the rootfs.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from layerlab.engine.layers.stack import LayerStack


def make_mount_stubs(lowers: list[Path], stub_dir: Path, targets: dict[str, bool]) -> None:
    """Create in ``stub_dir`` each missing mount point: ``targets`` maps container path -> is a directory."""
    stack = LayerStack.of(lowers)
    stub_dir.mkdir(parents=True, exist_ok=True)
    shadowed: dict[Path, os.stat_result] = {}
    for target, is_dir in sorted(targets.items()):
        resolved, host_path, _ = stack.resolve(target)
        if host_path is not None or resolved == "/":
            continue  # already there (a wrong type is the runtime's to report)
        parts = [part for part in resolved.split("/") if part]
        for depth in range(1, len(parts)):
            stub = stub_dir.joinpath(*parts[:depth])
            if stub.is_dir():
                continue
            stub.mkdir(mode=0o755)
            hit = stack.lookup(parts[:depth])
            if hit is not None and stat.S_ISDIR(hit[1].st_mode):
                shadowed[stub] = hit[1]
        stub = stub_dir.joinpath(*parts)
        if stub.exists() or stub.is_symlink():
            continue
        if is_dir:
            stub.mkdir(mode=0o755)
        else:
            stub.touch(mode=0o644)
    # Owner, mode and times last, deepest first: creating children changes a parent's
    # mtime, and a copied read-only mode would stop us creating them at all.
    for stub, st in sorted(shadowed.items(), key=lambda item: len(item[0].parts), reverse=True):
        try:
            os.chown(stub, st.st_uid, st.st_gid)
        except PermissionError:
            pass  # without root every file is ours anyway
        os.chmod(stub, stat.S_IMODE(st.st_mode))
        os.utime(stub, ns=(st.st_atime_ns, st.st_mtime_ns))
