"""Removing and measuring directory trees under a store root (snapshots, scratch, leftovers)."""

from __future__ import annotations

import hashlib
import os
import stat
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


def fingerprint_tree(path: Path | str) -> tuple[int, str]:
    """(bytes on disk, fingerprint) of a tree: the fingerprint hashes each entry's name, type, mode,
    owner, size, device and (for all but directories) mtime, names sorted, with no file read.

    Recorded when a snapshot is made from a checked blob and compared when it is reused, it
    catches a file changed, added or removed since, for the cost of one ``lstat`` per entry.
    A change that keeps size and mtime (``touch -r``) is for fsck, which reads every byte.
    Inode numbers and link counts are left out: a copied store, or a merged tree linking to
    the files, is not a damaged one."""
    total = 0
    hasher = hashlib.sha256()
    top = os.fspath(path)
    pending = [top]   # depth first, names sorted: a list, not recursion (trees of any depth)
    while pending:
        try:
            with long_paths.scandir(pending.pop()) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError:
            continue
        subdirs = []
        for entry in entries:
            st = entry.stat(follow_symlinks=False)   # fstatat from the open directory: no path walked again
            is_dir = stat.S_ISDIR(st.st_mode)
            hasher.update(b"%s\0%o %d %d %d %d %d\n" % (os.fsencode(entry.path[len(top):]), st.st_mode, st.st_uid,
                                                          st.st_gid, st.st_size, st.st_rdev,
                                                          0 if is_dir else st.st_mtime_ns))
            if is_dir:
                subdirs.append(entry.path)
            else:
                total += st.st_blocks * 512
        pending.extend(reversed(subdirs))
    return total, "sha256:" + hasher.hexdigest()


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
