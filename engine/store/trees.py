"""Removing and measuring directory trees under a store root (snapshots, scratch, leftovers)."""

from __future__ import annotations

import os
from pathlib import Path

from layerlab.engine import long_paths
from layerlab.engine.deep_trees import remove_tree as remove_any_depth, walk_tree
from layerlab.engine.store.layout import Layout


def remove_tree(layout: Layout, path: Path) -> int:
    """Move a directory aside under tmp/ (atomic) then delete it; returns bytes freed."""
    aside = layout.new_temp(".deleting")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return 0
    size = tree_size(aside)
    _remove_quietly(aside)
    return size


def remove_any(path: Path) -> int:
    """Remove a file or a directory tree; returns bytes freed (0 when it was already gone)."""
    if path.is_dir() and not path.is_symlink():
        size = tree_size(path)
        _remove_quietly(path)
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
    for dirpath, dirnames, filenames in walk_tree(path):
        for name in filenames:
            try:
                total += long_paths.lstat(os.path.join(dirpath, name)).st_blocks * 512
            except OSError:
                pass
    return total


def _remove_quietly(path: Path) -> None:
    # What cannot be removed now stays under tmp/ (or in place) for fsck to list and gc to retry.
    try:
        remove_any_depth(path)
    except OSError:
        pass
