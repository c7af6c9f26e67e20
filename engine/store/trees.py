"""Removing and measuring directory trees under a store root (snapshots, scratch, leftovers)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from layerlab.engine.store.layout import Layout


def remove_tree(layout: Layout, path: Path) -> int:
    """Move a directory aside under tmp/ (atomic) then delete it; returns bytes freed."""
    aside = layout.new_temp(".deleting")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return 0
    size = tree_size(aside)
    shutil.rmtree(aside, ignore_errors=True)
    return size


def remove_any(path: Path) -> int:
    """Remove a file or a directory tree; returns bytes freed (0 when it was already gone)."""
    if path.is_dir() and not path.is_symlink():
        size = tree_size(path)
        shutil.rmtree(path, ignore_errors=True)
        return size
    try:
        size = path.lstat().st_size
        path.unlink()
        return size
    except OSError:
        return 0


def tree_size(path: Path | str) -> int:
    """Bytes the tree's files occupy on disk (allocated blocks, so sparse files count what they use)."""
    total = 0
    for dirpath, dirnames, filenames in os.walk(path):
        for name in filenames:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
            except OSError:
                pass
    return total
