"""Trees of any depth: a recursive walk without Python's recursion limit, and ``rm -rf``.

A walk written as generators says ``result = yield child_walk(...)`` where it
would have called itself; ``run_nested`` keeps the pending walks on a list
instead of the C stack, so a tree 10,000 directories deep costs memory, not
a ``RecursionError``. The code keeps its recursive shape (work before and
after the children, values passed back up).
"""

from __future__ import annotations

import os
import stat
from typing import Generator, Iterator, TypeVar

from layerlab.engine import long_paths

Result = TypeVar("Result")
Nested = Generator["Nested", object, Result]


def run_nested(walk: Generator[Generator, object, Result]) -> Result:
    """Drive ``walk`` and every generator it yields, depth first; returns ``walk``'s return value.

    An exception in a child reaches its parent at the ``yield``, as it would at a call."""
    stack: list[Generator] = [walk]
    value: object = None
    error: BaseException | None = None
    while stack:
        top = stack[-1]
        try:
            if error is not None:
                raised, error = error, None
                child = top.throw(raised)
            else:
                child = top.send(value)
        except StopIteration as finished:
            stack.pop()
            value = finished.value
            continue
        except BaseException as raised:
            stack.pop()
            if not stack:
                raise
            error = raised
            continue
        stack.append(child)
        value = None
    return value  # type: ignore[return-value]


_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def remove_tree(path: str | os.PathLike[str], *, dir_fd: int | None = None, missing_ok: bool = True) -> None:
    """``rm -rf path`` for a tree of any depth: no recursion, a constant number of open files,
    paths never longer than one name (so deeper than PATH_MAX works), symlinks never followed.

    It walks down with ``openat`` and back up through ``..``, checking on the way up that each
    parent is the very directory it came down from. ``dir_fd``: ``path`` is relative to it."""
    if dir_fd is None:
        dir_fd, path = long_paths.at(path)
    try:
        st = os.stat(path, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        if missing_ok:
            return
        raise
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(path, dir_fd=dir_fd)
        return
    fd = os.open(path, _OPEN_DIR, dir_fd=dir_fd)
    came_from: list[tuple[str, int, int]] = []   # (name, st_dev, st_ino) of each directory above fd
    try:
        while True:
            child = _empty_except_directories(fd)
            if child is not None:
                here = os.fstat(fd)
                below = os.open(child, _OPEN_DIR, dir_fd=fd)
                os.close(fd)
                fd = below
                came_from.append((child, here.st_dev, here.st_ino))
                continue
            if not came_from:
                break
            name, dev, ino = came_from.pop()
            parent = os.open("..", _OPEN_DIR, dir_fd=fd)
            os.close(fd)
            fd = parent
            parent_st = os.fstat(fd)
            if (parent_st.st_dev, parent_st.st_ino) != (dev, ino):
                raise OSError(f"{path}: the tree moved while it was being removed")
            os.rmdir(name, dir_fd=fd)
    finally:
        os.close(fd)
    os.rmdir(path, dir_fd=dir_fd)


def _empty_except_directories(fd: int) -> str | None:
    """Unlink every non-directory in ``fd``; return the name of one subdirectory, or None when empty."""
    with os.scandir(fd) as listing:
        for entry in listing:
            if entry.is_dir(follow_symlinks=False):
                return entry.name
            os.unlink(entry.name, dir_fd=fd)
    return None


def walk_tree(top: str | os.PathLike[str]) -> Iterator[tuple[str, list[str], list[str]]]:
    """``os.walk(top)`` (top-down, symlinks not followed) without recursion: Python 3.11's own
    recurses once per level. Changing the yielded directory list prunes the walk, as with os.walk."""
    pending = [os.fspath(top)]
    while pending:
        directory = pending.pop()
        try:
            with long_paths.scandir(directory) as listing:
                entries = list(listing)
        except OSError:
            continue
        subdirs = [entry.name for entry in entries if entry.is_dir(follow_symlinks=False)]
        files = [entry.name for entry in entries if not entry.is_dir(follow_symlinks=False)]
        yield directory, subdirs, files
        pending.extend(os.path.join(directory, name) for name in reversed(subdirs))
