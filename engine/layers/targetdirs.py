"""Directory descriptors inside an unpack target, resolved without ever leaving it.

Every write of ``apply_layer`` goes through these: a symlink met on the way
to an entry's parent is resolved *inside* the target, as if the target were
the root of the file system (an absolute link target starts again at the
target; ".." stops at it), the way Docker's chrooted unpack behaves.
"""

from __future__ import annotations

import errno
import os
import posixpath
from pathlib import Path

from layerlab.engine.errors import LayerError, UnsafeLayer

MAX_SYMLINK_HOPS = 40  # as the kernel's own limit
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_CACHED_DIRS = 1024


class TargetDirs:
    """Directory fds inside the target, resolved component by component without leaving it.

    Resolved directories are cached by their name in the layer. Removing a
    directory or a symlink could change a resolution, so it marks the cache
    stale; the cache is dropped on the next lookup (never while a caller may
    still be using an fd it handed out).
    """

    def __init__(self, target: Path):
        try:
            self.root_fd = os.open(target, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as error:
            raise LayerError(f"{target}: cannot open the target directory: {error.strerror}") from None
        self._cache: dict[str, tuple[int, tuple[str, ...]]] = {"": (self.root_fd, ())}
        self._owned: set[int] = set()
        self._stale = False

    def close(self) -> None:
        self._drop_cache()
        os.close(self.root_fd)

    def invalidate(self) -> None:
        self._stale = True

    def _drop_cache(self) -> None:
        for fd in self._owned:
            os.close(fd)
        self._owned.clear()
        self._cache = {"": (self.root_fd, ())}
        self._stale = False

    def parent_of(self, path: str, *, create: bool, entry: str) -> tuple[int, str] | None:
        """(fd of the directory holding ``path``, base name); None if it does not exist and not ``create``."""
        parent, base = posixpath.split(path)
        fd = self.directory(parent, create=create, entry=entry)
        return None if fd is None else (fd, base)

    def directory(self, path: str, *, create: bool, entry: str) -> int | None:
        if self._stale or len(self._owned) >= _CACHED_DIRS:
            self._drop_cache()
        hit = self._cache.get(path)
        if hit is not None:
            return hit[0]
        parts = path.split("/")
        fd, physical, start = self.root_fd, (), 0
        for cut in range(len(parts) - 1, 0, -1):
            ancestor = self._cache.get("/".join(parts[:cut]))
            if ancestor is not None:
                (fd, physical), start = ancestor, cut
                break
        walk = _Walk(self.root_fd, fd, list(physical), entry)
        try:
            resolved = walk.run(parts[start:], create=create)
        finally:
            walk.close_transient()
        if resolved is None:
            return None
        fd, physical = resolved
        self._owned |= walk.kept
        self._cache[path] = (fd, tuple(physical))
        return fd


class _Walk:
    """One resolution: opens directories one component at a time, following symlinks inside the root."""

    def __init__(self, root_fd: int, fd: int, physical: list[str], entry: str):
        self.root_fd = root_fd
        self.fd = fd
        self.physical = physical
        self.entry = entry
        self.transient: set[int] = set()
        self.kept: set[int] = set()

    def close_transient(self) -> None:
        for fd in self.transient:
            os.close(fd)

    def _step_to(self, child: int, part: str | None) -> None:
        if self.fd in self.transient:
            self.transient.discard(self.fd)
            os.close(self.fd)
        self.fd = child
        if child != self.root_fd:
            self.transient.add(child)
        if part is not None:
            self.physical.append(part)

    def run(self, parts: list[str], *, create: bool) -> tuple[int, list[str]] | None:
        todo = list(reversed(parts))
        hops = 0
        while todo:
            part = todo.pop()
            if part in ("", "."):
                continue
            if part == "..":
                # ".." only comes from a symlink's target; it stops at the target root
                if self.physical:
                    self._restart(self.physical[:-1])
                continue
            try:
                child = os.open(part, DIR_FLAGS, dir_fd=self.fd)
            except FileNotFoundError:
                if not create:
                    return None
                try:
                    os.mkdir(part, 0o755, dir_fd=self.fd)
                    child = os.open(part, DIR_FLAGS, dir_fd=self.fd)
                except OSError as error:
                    raise LayerError(f"entry {self.entry!r}: cannot create parent directory {part!r}: "
                                     f"{error.strerror}") from None
            except OSError as error:
                if error.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise LayerError(f"entry {self.entry!r}: cannot open parent {part!r}: {error.strerror}") from None
                try:
                    link = os.readlink(part, dir_fd=self.fd)
                except OSError:
                    raise LayerError(f"entry {self.entry!r}: parent {part!r} is not a directory") from None
                hops += 1
                if hops > MAX_SYMLINK_HOPS:
                    raise UnsafeLayer(f"entry {self.entry!r}: too many levels of symbolic links")
                if link.startswith("/"):
                    self._restart([])
                todo.extend(reversed(link.split("/")))
                continue
            self._step_to(child, part)
        if self.fd in self.transient:
            # the final directory outlives the walk: the cache owns it from here on
            self.transient.discard(self.fd)
            self.kept.add(self.fd)
        return self.fd, self.physical

    def _restart(self, physical: list[str]) -> None:
        self._step_to(self.root_fd, None)
        self.physical = []
        for part in physical:
            try:
                child = os.open(part, DIR_FLAGS, dir_fd=self.fd)
            except OSError as error:
                raise LayerError(f"entry {self.entry!r}: cannot reopen {'/'.join(physical)!r}: "
                                 f"{error.strerror}") from None
            self._step_to(child, part)
