"""A stack of layer directories in overlayfs' form, read as the one tree a mount would show.

Each directory holds one layer unpacked on its own: a deleted name is a 0/0
character device, a directory that hides everything below it carries an
opaque xattr (see ``names.OPAQUE_XATTRS``). ``LayerStack`` answers lookups
through the stack the way the kernel would, without mounting anything:
the topmost entry wins, a whiteout hides, a non-directory hides whatever
lower layers hold under its name, an opaque directory stops the search.

``flatten`` writes the merged tree out once, as hard links to the layers'
files, for the few readers that need a whole tree in one place (a stack
deeper than an overlay mount takes, ``COPY --from``).
"""

from __future__ import annotations

import os
import posixpath
import stat
from pathlib import Path
from typing import Callable

from layerlab.engine.layers.names import OPAQUE_XATTRS, OVERLAY_XATTR_PREFIXES
from layerlab.engine import long_paths
from layerlab.engine.deep_trees import remove_tree
from layerlab.engine.record_type import field, record

MAX_SYMLINK_HOPS = 40  # as the kernel's own limit


def is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def is_opaque(path: Path | str) -> bool:
    for name in OPAQUE_XATTRS:
        try:
            if os.getxattr(long_paths.xattr_path(path), name, follow_symlinks=False) == b"y":
                return True
        except OSError:
            pass
    return False


def split_path(path: str) -> list[str]:
    return [part for part in path.split("/") if part not in ("", ".")]


# Called before a stack reads a layer's directory: (layer, the directory's path in it, "" for its top;
# None: the caller is handed the layer's directories to read at will). It raises if that part changed.
DirectoryCheck = Callable[[Path, "str | None"], None]


@record(frozen=True)
class LayerStack:
    """``layers`` bottom -> top; a stack of none is an empty tree. ``check``, when given, vets each
    layer directory the stack reads, before it reads it (a snapshot checked path by path)."""

    layers: tuple[Path, ...]
    check: DirectoryCheck | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, layers, check: DirectoryCheck | None = None) -> "LayerStack":
        return cls(tuple(Path(layer) for layer in layers), check)

    @property
    def top_first(self) -> list[Path]:
        return list(reversed(self.layers))

    def lookup(self, parts: list[str]) -> tuple[Path, os.stat_result] | None:
        """The topmost host path (and its lstat) showing ``parts``; no symlink is followed.

        None when nothing shows there, or when a component before the last is
        not a directory.
        """
        walked = self._walk(parts)
        return walked[0] if walked else None

    def sub_layers(self, rel: str) -> list[Path]:
        """The host directories, bottom to top, whose merge is the directory ``rel`` shows ([] if none)."""
        parts = split_path(rel)
        walked = self._walk(parts)
        if walked is None or not stat.S_ISDIR(walked[0][1].st_mode):
            return []
        if self.check is not None:
            for layer in walked[1]:
                self.check(layer, None)  # the caller reads these trees as it likes
        return [layer.joinpath(*parts) for layer in reversed(walked[1])]

    def _walk(self, parts: list[str]) -> tuple[tuple[Path, os.stat_result], list[Path]] | None:
        """The topmost entry showing ``parts`` and the layers (top first) whose directory there shows."""
        if not self.layers:
            return None
        visible = self.top_first
        found = (self.layers[-1], long_paths.lstat(self.layers[-1]))
        for depth in range(len(parts)):
            rel = parts[: depth + 1]
            below: list[Path] = []
            hit: tuple[Path, os.stat_result] | None = None
            for layer in visible:
                if self.check is not None:
                    self.check(layer, "/".join(parts[:depth]))
                path = layer.joinpath(*rel)
                try:
                    st = long_paths.lstat(path)
                except (FileNotFoundError, NotADirectoryError):
                    continue
                if is_whiteout(st):
                    break
                if not stat.S_ISDIR(st.st_mode):
                    if not below:
                        hit = (path, st)
                    break
                if hit is None:
                    hit = (path, st)
                below.append(layer)
                if is_opaque(path):
                    break
            if hit is None:
                return None
            if depth < len(parts) - 1 and not stat.S_ISDIR(hit[1].st_mode):
                return None
            found, visible = hit, below
        return found, visible

    def lstat(self, rel: str) -> os.stat_result | None:
        hit = self.lookup(split_path(rel))
        return hit[1] if hit else None

    def host_path(self, rel: str) -> Path | None:
        hit = self.lookup(split_path(rel))
        return hit[0] if hit else None

    def readlink(self, rel: str) -> str:
        hit = self.lookup(split_path(rel))
        if hit is None:
            raise FileNotFoundError(rel)
        return long_paths.readlink(hit[0])

    def listdir(self, rel: str) -> list[str]:
        """The names a directory shows in the merged view, sorted."""
        parts = split_path(rel)
        names: set[str] = set()
        hidden: set[str] = set()
        for layer in self.top_first:
            if self.check is not None:
                self.check(layer, "/".join(parts[:-1]))
            path = layer.joinpath(*parts)
            try:
                st = long_paths.lstat(path)
            except (FileNotFoundError, NotADirectoryError):
                continue
            if not stat.S_ISDIR(st.st_mode):
                break
            if self.check is not None:
                self.check(layer, "/".join(parts))
            with long_paths.scandir(path) as entries:
                for entry in entries:
                    if entry.name in names or entry.name in hidden:
                        continue
                    if is_whiteout(entry.stat(follow_symlinks=False)):
                        hidden.add(entry.name)
                    else:
                        names.add(entry.name)
            if is_opaque(path):
                break
        return sorted(names)

    def resolve(self, container_path: str) -> tuple[str, Path | None, os.stat_result | None]:
        """Follow symlinks inside the stack: (resolved container path, host path, lstat) or (path, None, None)."""
        path = posixpath.normpath("/" + container_path)
        for _ in range(MAX_SYMLINK_HOPS):
            parts = split_path(path)
            for depth in range(1, len(parts) + 1):
                hit = self.lookup(parts[:depth])
                if hit is None:
                    return path, None, None
                host_path, st = hit
                if stat.S_ISLNK(st.st_mode):
                    target = long_paths.readlink(host_path)
                    base = "/" if target.startswith("/") else "/" + "/".join(parts[: depth - 1])
                    path = "/" + posixpath.normpath(posixpath.join(base, target, *parts[depth:])).lstrip("/")
                    break
                if depth == len(parts):
                    return path, host_path, st
            else:
                return "/", self.layers[-1] if self.layers else None, None
        return path, None, None


def flatten(layers: list[Path], target: Path) -> None:
    """Write the merged tree of ``layers`` (bottom -> top) at ``target`` (a new directory).

    Files are hard links to the layers' own, so this costs one inode
    operation per entry and no bytes; nothing may ever write into them.
    """
    target.mkdir()
    directories: dict[str, tuple[str, os.stat_result]] = {}
    if layers:  # the root shows the topmost layer's own, as the root of an overlay mount does
        directories[os.fspath(target)] = (os.fspath(layers[-1]), long_paths.lstat(layers[-1]))
    for layer in layers:
        _merge_layer(os.fspath(layer), os.fspath(target), directories)
    # modes and times last, deepest first: a read-only mode would stop us filling a directory,
    # and filling it changes its mtime; the topmost layer's metadata is what a mount shows
    for path, (source, st) in sorted(directories.items(), key=lambda item: item[0].count("/"), reverse=True):
        _copy_metadata(source, path, st)


def _merge_layer(source: str, target: str, directories: dict[str, tuple[str, os.stat_result]]) -> None:
    pending = [(source, target)]  # a list, not recursion: trees of any depth
    while pending:
        source_dir, target_dir = pending.pop()
        with long_paths.scandir(source_dir) as listing:
            entries = list(listing)
        for entry in entries:
            _merge_entry(entry, os.path.join(target_dir, entry.name), directories, pending)


def _merge_entry(entry: os.DirEntry[str], destination: str, directories: dict[str, tuple[str, os.stat_result]],
                 pending: list[tuple[str, str]]) -> None:
    st = entry.stat(follow_symlinks=False)
    try:
        existing = long_paths.lstat(destination)
    except FileNotFoundError:
        existing = None
    if is_whiteout(st):
        if existing is not None:
            _remove(destination, existing, directories)
        return
    if stat.S_ISDIR(st.st_mode):
        if existing is not None and (not stat.S_ISDIR(existing.st_mode) or is_opaque(entry.path)):
            _remove(destination, existing, directories)
            existing = None
        if existing is None:
            long_paths.mkdir(destination, 0o700)
        directories[destination] = (entry.path, st)
        pending.append((entry.path, destination))
        return
    if existing is not None:
        _remove(destination, existing, directories)
    long_paths.link(entry.path, destination)


def _remove(path: str, st: os.stat_result, directories: dict[str, tuple[str, os.stat_result]]) -> None:
    if not stat.S_ISDIR(st.st_mode):
        long_paths.unlink(path)
        return
    remove_tree(path)
    inside = path + "/"
    for gone in [name for name in directories if name == path or name.startswith(inside)]:
        del directories[gone]


def _copy_metadata(source: str, destination: str, st: os.stat_result) -> None:
    if os.geteuid() == 0:
        long_paths.chown(destination, st.st_uid, st.st_gid)
    try:
        names = os.listxattr(long_paths.xattr_path(source), follow_symlinks=False)
    except OSError:
        names = []
    for name in names:
        if name.startswith(OVERLAY_XATTR_PREFIXES):
            continue
        try:
            value = os.getxattr(long_paths.xattr_path(source), name, follow_symlinks=False)
            os.setxattr(long_paths.xattr_path(destination), name, value)
        except OSError:
            pass  # as when unpacking: a file system without this kind of xattr is no reason to fail
    long_paths.chmod(destination, stat.S_IMODE(st.st_mode))
    long_paths.utime(destination, (st.st_atime_ns, st.st_mtime_ns))
