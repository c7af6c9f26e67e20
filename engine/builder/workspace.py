"""A build's scratch space under ``ROOT/tmp``: one directory per build, one per step inside it.

A build killed half-way leaves its directory (and perhaps a RUN's mounts) behind; the next build
removes it once the process named in the directory's name is gone.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from layerlab.engine.runtime.rootfs import is_mounted, unmount
from layerlab.engine.store.layout import pid_alive

WORKSPACE_PREFIX = "build-"


def new_workspace(tmp_dir: Path) -> Path:
    """A fresh scratch directory for this process's build, after clearing what dead builds left."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    clean_stale_workspaces(tmp_dir)
    return Path(tempfile.mkdtemp(prefix=f"{WORKSPACE_PREFIX}{os.getpid()}-", dir=tmp_dir))


def new_step_dir(workspace: Path, index: int) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"step{index}-", dir=workspace))


def remove_workspace(path: Path) -> None:
    """Remove a build's scratch directory, unmounting anything a killed run left mounted there."""
    if not path.exists():
        return
    try:
        with open("/proc/self/mountinfo") as mountinfo:
            prefix = os.path.realpath(path) + "/"
            points = [line.split()[4] for line in mountinfo if line.split()[4].startswith(prefix)]
        for point in sorted(points, key=len, reverse=True):
            if is_mounted(Path(point)):
                unmount(Path(point))
    except OSError:
        pass
    shutil.rmtree(path, ignore_errors=True)


def clean_stale_workspaces(tmp_dir: Path) -> None:
    """Scratch left by builds whose process is gone (killed): removed before a new build starts."""
    if not tmp_dir.is_dir():
        return
    for entry in tmp_dir.iterdir():
        if not entry.name.startswith(WORKSPACE_PREFIX):
            continue
        pid_text = entry.name[len(WORKSPACE_PREFIX):].split("-", 1)[0]
        if pid_text.isdigit() and not pid_alive(int(pid_text)):
            remove_workspace(entry)
