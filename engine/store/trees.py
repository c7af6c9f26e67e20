"""Removing and measuring directory trees under a store root (snapshots, scratch, leftovers)."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import Iterator

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
    size = freed_size(aside)
    _remove_quietly(aside)
    return size


def remove_any(path: Path) -> int:
    """Remove a file or a directory tree; returns bytes freed (0 when it was already gone)."""
    if path.is_dir() and not path.is_symlink():
        size = freed_size(path)
        _remove_quietly(path)
        return size
    try:
        size = path.lstat().st_size
        path.unlink()
        return size
    except OSError:
        return 0


def fingerprint_tree(path: Path | str, directories: dict[str, str] | None = None) -> tuple[int, str]:
    """(bytes on disk, fingerprint) of a tree: the fingerprint hashes each entry's name, type, mode,
    owner, size, device and (for all but directories) mtime, names sorted, with no file read.

    Recorded when a snapshot is made from a checked blob and compared when it is reused, it
    catches a file changed, added or removed since, for the cost of one ``lstat`` per entry.
    A change that keeps size and mtime (``touch -r``) is for fsck, which reads every byte.
    Inode numbers and link counts are left out: a copied store, or a merged tree linking to
    the files, is not a damaged one.

    ``directories``, when given, is filled with each directory's own digest (its entries only,
    keyed by its path under the top, "" for the top): a reader of a few paths checks just the
    directories it looks into (``directory_digest``) instead of the whole tree."""
    total = 0
    hasher = hashlib.sha256()
    top = os.fspath(path)
    pending = [top]   # depth first, names sorted: a list, not recursion (trees of any depth)
    while pending:
        directory = pending.pop()
        try:
            with long_paths.scandir(directory) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError:
            continue
        subdirs = []
        lines = []
        for entry in entries:
            st = entry.stat(follow_symlinks=False)   # fstatat from the open directory: no path walked again
            lines.append(_entry_line(entry.path[len(top):], st))
            if stat.S_ISDIR(st.st_mode):
                subdirs.append(entry.path)
            else:
                total += st.st_blocks * 512
        block = b"".join(lines)
        hasher.update(block)
        if directories is not None:
            directories[directory[len(top) + 1:]] = hashlib.sha256(block).hexdigest()[:DIRECTORY_DIGEST]
        pending.extend(reversed(subdirs))
    return total, "sha256:" + hasher.hexdigest()


# hex digits kept of a directory's digest: enough against damage, small enough for a 1,000-directory map
DIRECTORY_DIGEST = 32


def directory_digest(top: Path | str, rel: str) -> str | None:
    """The digest ``fingerprint_tree`` records for directory ``rel`` under ``top``; None when it is not a
    directory there."""
    top = os.fspath(top)
    try:
        with long_paths.scandir(os.path.join(top, rel) if rel else top) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
    except (FileNotFoundError, NotADirectoryError):
        return None
    block = b"".join(_entry_line(entry.path[len(top):], entry.stat(follow_symlinks=False)) for entry in entries)
    return hashlib.sha256(block).hexdigest()[:DIRECTORY_DIGEST]


def _entry_line(name: str, st: os.stat_result) -> bytes:
    return b"%s\0%o %d %d %d %d %d\n" % (os.fsencode(name), st.st_mode, st.st_uid, st.st_gid, st.st_size,
                                         st.st_rdev, 0 if stat.S_ISDIR(st.st_mode) else st.st_mtime_ns)


def tree_size(path: Path | str) -> int:
    """Bytes the tree's files occupy on disk (allocated blocks, so sparse files count what they use)."""
    return sum(st.st_blocks * 512 for st in _file_stats(path))


def freed_size(path: Path | str) -> int:
    """The bytes deleting the tree would free: ``tree_size`` without the files it shares by hard links
    with trees kept (a COPY layer linked from the step's previous one, a merged tree's links)."""
    total = 0
    shared: dict[tuple[int, int], list[int]] = {}   # inode -> [links seen here, links in all, blocks]
    for st in _file_stats(path):
        if st.st_nlink == 1:
            total += st.st_blocks * 512
            continue
        seen = shared.setdefault((st.st_dev, st.st_ino), [0, st.st_nlink, st.st_blocks * 512])
        seen[0] += 1
    return total + sum(blocks for here, links, blocks in shared.values() if here >= links)


def _file_stats(path: Path | str) -> Iterator[os.stat_result]:
    """The lstat of every non-directory in the tree (one gone meanwhile is left out)."""
    for dirpath, dirnames, filenames in walk_tree(path):
        for name in filenames:
            try:
                yield long_paths.lstat(os.path.join(dirpath, name))
            except OSError:
                pass


def _remove_quietly(path: Path) -> None:
    # What cannot be removed now stays under tmp/ (or in place) for fsck to list and gc to retry.
    try:
        remove_any_depth(path)
    except OSError:
        pass
