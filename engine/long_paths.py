"""File operations on paths longer than PATH_MAX, for trees of any depth.

The kernel refuses a path of 4,096 bytes or more (``ENAMETOOLONG``) although a tree may be
far deeper: ``mkdir d; cd d`` 10,000 times is legal, and an image may carry such a tree.
Each function here does what its namesake in ``os`` does. A short path goes straight to
``os``; a long one is cut at "/" into pieces shorter than the limit, each piece opened
relative to the directory before it (``openat``), and the call made on the last piece with
``dir_fd``. Components are resolved exactly as the kernel resolves one long path (symlinks
inside it followed, the final name as the call says), so callers keep their semantics.

The directory holding the final name is kept, per thread, in a small cache keyed by its
path: a walk down a deep tree asks for neighbouring paths, so a call costs one ``*at`` call
on one name (and an ``openat`` of one name from the cached parent) instead of a walk from
the top, which only a cold path pays. A cached directory that has since
been removed (no links left) is reopened; ``forget`` drops the cache after a rename.
"""

from __future__ import annotations

import errno
import os
import stat as file_types
import threading
from collections import OrderedDict
from typing import Callable, Iterator

# well below PATH_MAX (4096, counting the final NUL), so a piece plus one name always fits
PIECE = 3072
_CACHED = 16
_ANCHOR_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC
_READ_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC

StrPath = str | os.PathLike[str]


class _Anchors(threading.local):
    """This thread's open directories, by the (encoded) path that leads to them."""

    def __init__(self) -> None:
        self.fds: OrderedDict[bytes, int] = OrderedDict()

    def __del__(self) -> None:
        self.clear()

    def clear(self) -> None:
        for fd in self.fds.values():
            os.close(fd)
        self.fds.clear()

    def get(self, prefix: bytes) -> int | None:
        fd = self.fds.get(prefix)
        if fd is None:
            return None
        if os.fstat(fd).st_nlink == 0:  # removed since: the path may now lead somewhere else
            del self.fds[prefix]
            os.close(fd)
            return None
        self.fds.move_to_end(prefix)
        return fd

    def parent_of_child(self, raw: bytes) -> int | None:
        """``raw`` reached by ".." from a cached child: how a walk climbs back up a deep tree.

        Kept only if ``raw``'s entry of the child's name is the very child (not so when the
        path led to the child through a symlink)."""
        for prefix, child in self.fds.items():
            if len(prefix) <= len(raw) or prefix[len(raw)] != 0x2F or not prefix.startswith(raw) \
                    or prefix.find(b"/", len(raw) + 1) != -1:
                continue
            parent = os.open("..", _ANCHOR_FLAGS, dir_fd=child)
            try:
                entry = os.stat(prefix[len(raw) + 1:], dir_fd=parent, follow_symlinks=False)
            except OSError:
                entry = None
            child_st = os.fstat(child)
            if entry is not None and (entry.st_dev, entry.st_ino) == (child_st.st_dev, child_st.st_ino):
                return parent
            os.close(parent)
        return None

    def put(self, prefix: bytes, fd: int) -> None:
        self.fds[prefix] = fd
        while len(self.fds) > _CACHED:
            os.close(self.fds.popitem(last=False)[1])


_anchors = _Anchors()


def is_long(path: StrPath | bytes) -> bool:
    return len(os.fsencode(path)) >= PIECE


def forget() -> None:
    """Drop this thread's cached directories (after a rename moved a tree they lie in)."""
    _anchors.clear()


def at(path: StrPath) -> tuple[int | None, str]:
    """``(dir_fd, name)`` naming ``path`` for an ``*at`` call: ``(None, path)`` when it is short.

    The fd belongs to the cache: use it at once, never close it."""
    raw = os.fsencode(path)
    if len(raw) < PIECE:
        return None, os.fspath(path)
    cut = raw.rfind(b"/")
    return _directory(raw[:cut] or b"/"), os.fsdecode(raw[cut + 1:])


def _directory(raw: bytes) -> int:
    """An fd of the directory ``raw``: cached, or opened from its cached parent, or piece by piece."""
    fd = _anchors.get(raw)
    if fd is not None:
        return fd
    cut = raw.rfind(b"/")
    parent = _anchors.get(raw[:cut]) if cut > 0 else None
    if parent is not None:
        fd = os.open(raw[cut + 1:], _ANCHOR_FLAGS, dir_fd=parent)
    else:
        fd = _anchors.parent_of_child(raw)
        if fd is None:
            fd = _open_piecewise(raw)
    _anchors.put(raw, fd)
    return fd


def _open_piecewise(raw: bytes) -> int:
    """Open the directory ``raw`` one piece shorter than PIECE at a time, each relative to the last."""
    fd: int | None = None
    start = 0
    try:
        while True:
            if len(raw) - start < PIECE:
                return os.open(raw[start:] or b"/", _ANCHOR_FLAGS, dir_fd=fd)
            cut = raw.rfind(b"/", start, start + PIECE)
            if cut <= start:
                raise OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG), os.fsdecode(raw[:200]))
            below = os.open(raw[start:cut] or b"/", _ANCHOR_FLAGS, dir_fd=fd)
            if fd is not None:
                os.close(fd)
            fd, start = below, cut + 1
    finally:
        if fd is not None:
            os.close(fd)


def lstat(path: StrPath) -> os.stat_result:
    fd, name = at(path)
    return os.stat(name, dir_fd=fd, follow_symlinks=False)


def stat(path: StrPath) -> os.stat_result:
    fd, name = at(path)
    return os.stat(name, dir_fd=fd)


def open_fd(path: StrPath, flags: int, mode: int = 0o777) -> int:
    fd, name = at(path)
    return os.open(name, flags, mode, dir_fd=fd)


def readlink(path: StrPath) -> str:
    fd, name = at(path)
    return os.readlink(name, dir_fd=fd)


def mkdir(path: StrPath, mode: int = 0o777) -> None:
    fd, name = at(path)
    os.mkdir(name, mode, dir_fd=fd)


def unlink(path: StrPath) -> None:
    fd, name = at(path)
    os.unlink(name, dir_fd=fd)


def rmdir(path: StrPath) -> None:
    fd, name = at(path)
    os.rmdir(name, dir_fd=fd)


def symlink(target: str, path: StrPath) -> None:
    fd, name = at(path)
    os.symlink(target, name, dir_fd=fd)


def link(source: StrPath, path: StrPath) -> None:
    """A hard link at ``path`` to ``source`` itself (never through a final symlink)."""
    source_fd, source_name = at(source)
    if source_fd is not None:  # the second lookup may evict it: hold a copy
        source_fd = os.dup(source_fd)
    try:
        fd, name = at(path)
        os.link(source_name, name, src_dir_fd=source_fd, dst_dir_fd=fd, follow_symlinks=False)
    finally:
        if source_fd is not None:
            os.close(source_fd)


def utime(path: StrPath, ns: tuple[int, int], *, follow_symlinks: bool = True) -> None:
    fd, name = at(path)
    os.utime(name, ns=ns, dir_fd=fd, follow_symlinks=follow_symlinks)


def chown(path: StrPath, uid: int, gid: int, *, follow_symlinks: bool = True) -> None:
    fd, name = at(path)
    os.chown(name, uid, gid, dir_fd=fd, follow_symlinks=follow_symlinks)


def chmod(path: StrPath, mode: int) -> None:
    fd, name = at(path)
    os.chmod(name, mode, dir_fd=fd)


def xattr_path(path: StrPath) -> str:
    """A name the xattr calls (which take no ``dir_fd``) accept for ``path``: itself, or via /proc."""
    fd, name = at(path)
    return name if fd is None else f"/proc/self/fd/{fd}/{name}"


def scandir(path: StrPath) -> Iterator[os.DirEntry[str]]:
    """``os.scandir(path)``; for a long path, entries whose ``path`` is the long path + name."""
    if not is_long(path):
        return os.scandir(path)
    fd = open_fd(path, _READ_DIR)
    try:
        with os.scandir(fd) as listing:
            names = [(entry.name, entry.is_dir(follow_symlinks=False)) for entry in listing]
    finally:
        os.close(fd)
    return _LongListing(os.fspath(path), names)  # type: ignore[return-value]


class _LongEntry:
    """What callers use of ``os.DirEntry``, for an entry under a long path."""

    def __init__(self, directory: str, name: str, is_dir: bool):
        self.name = name
        self.path = os.path.join(directory, name)
        self._is_dir = is_dir
        self._lstat: os.stat_result | None = None

    def is_dir(self, *, follow_symlinks: bool = True) -> bool:
        return self._is_dir if not follow_symlinks else _is_dir(stat, self.path)

    def is_symlink(self) -> bool:
        return file_types.S_ISLNK(self.stat(follow_symlinks=False).st_mode)

    def is_file(self, *, follow_symlinks: bool = True) -> bool:
        return file_types.S_ISREG(self.stat(follow_symlinks=follow_symlinks).st_mode)

    def stat(self, *, follow_symlinks: bool = True) -> os.stat_result:
        if follow_symlinks:
            return stat(self.path)
        if self._lstat is None:
            self._lstat = lstat(self.path)
        return self._lstat


def _is_dir(how: Callable[[str], os.stat_result], path: str) -> bool:
    try:
        return file_types.S_ISDIR(how(path).st_mode)
    except OSError:
        return False


class _LongListing:
    """A finished listing that behaves like the iterator ``os.scandir`` returns."""

    def __init__(self, directory: str, names: list[tuple[str, bool]]):
        self._entries = iter([_LongEntry(directory, name, is_dir) for name, is_dir in names])

    def __enter__(self) -> "_LongListing":
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def __iter__(self) -> "_LongListing":
        return self

    def __next__(self) -> _LongEntry:
        return next(self._entries)

    def close(self) -> None:
        return None


def is_dir(path: StrPath) -> bool:
    """``os.path.isdir``: follows a final symlink, False for anything missing."""
    return _is_dir(stat, os.fspath(path))


def opener(path: str, flags: int) -> int:
    """For ``open(path, ..., opener=opener)``: the built-in ``open`` on a path of any length."""
    return open_fd(path, flags, 0o666)


def listdir(path: StrPath) -> list[str]:
    if not is_long(path):
        return os.listdir(path)
    fd = open_fd(path, _READ_DIR)
    try:
        return os.listdir(fd)
    finally:
        os.close(fd)


def mkfifo(path: StrPath, mode: int = 0o666) -> None:
    fd, name = at(path)
    os.mkfifo(name, mode, dir_fd=fd)


def mknod(path: StrPath, mode: int, device: int = 0) -> None:
    fd, name = at(path)
    os.mknod(name, mode, device, dir_fd=fd)


def lchown(path: StrPath, uid: int, gid: int) -> None:
    chown(path, uid, gid, follow_symlinks=False)
