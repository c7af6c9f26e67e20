"""A build's scratch space under ``ROOT/tmp``: one directory per build, one per step inside it.

A build killed half-way leaves its directory (and perhaps a RUN's mounts) behind; the next build
removes it once the process named in the directory's name is gone.
"""

from __future__ import annotations

import os
from pathlib import Path

from layerlab.engine.fsutil import fresh_directory
from layerlab.engine.reaper import reap_dead_runs, remove_scratch

WORKSPACE_PREFIX = "build-"


def new_workspace(tmp_dir: Path) -> Path:
    """A fresh scratch directory for this process's build, after clearing what dead builds left."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    clean_stale_workspaces(tmp_dir)
    return fresh_directory(tmp_dir, f"{WORKSPACE_PREFIX}{os.getpid()}-")


def new_step_dir(workspace: Path, index: int) -> Path:
    return fresh_directory(workspace, f"step{index}-")


def remove_workspace(path: Path) -> None:
    """Remove a build's scratch directory, unmounting anything a killed run left mounted there."""
    remove_scratch(path)


def clean_stale_workspaces(tmp_dir: Path) -> None:
    """Containers, mounts and scratch left by runs whose process is gone (killed)."""
    reap_dead_runs(tmp_dir)
