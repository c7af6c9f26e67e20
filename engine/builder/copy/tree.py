"""The tree a COPY/ADD adds, staged in a directory and seen over the image it lands on.

``Staging`` answers "what is at this path now?" from a merged view -- what
this instruction already staged, over the image's rootfs -- and resolves a
destination through the image's symlinks the way Docker does (inside the
rootfs, as if it were ``/``). Every lookup walks one component at a time with
``lstat`` and never follows a symlink on the host, so neither the image nor
the staged tree can point a write outside ``out_dir``.

Directories that an added file needs are staged too: an image directory is
copied up with its own mode and owner (it appears in the layer, as it does
in an overlay upper directory), a missing one is created with the mode and
owner Docker gives it. When ownership cannot be set (not running as root),
the wanted owner is remembered in ``owners`` for the layer writer.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from layerlab.engine import long_paths
from layerlab.engine.deep_trees import remove_tree
from layerlab.engine.errors import BuildError
from layerlab.engine.layers.stack import LayerStack

MAX_SYMLINK_HOPS = 255  # as moby's FollowSymlinkInScope


def split_path(path: str) -> list[str]:
    return [part for part in path.split("/") if part not in ("", ".")]


def lstat_in(base: Path | None, rel: str) -> os.stat_result | None:
    """``lstat`` of ``base/rel`` when every component before the last is a real directory."""
    if base is None:
        return None
    parts = split_path(rel)
    if not parts:
        return long_paths.lstat(base)
    current = os.fspath(base)
    for depth, part in enumerate(parts):
        current = os.path.join(current, part)
        try:
            st = long_paths.lstat(current)
        except (FileNotFoundError, NotADirectoryError):
            return None
        if depth < len(parts) - 1 and not stat.S_ISDIR(st.st_mode):
            return None
    return st


def resolve_in_scope(rel: str, lookup, readlink) -> str:
    """Follow symlinks along ``rel`` with the tree as root: absolute targets and ".." stay inside.

    ``lookup(path)`` is an ``lstat`` (or None) and ``readlink(path)`` a link
    target, both for root-relative paths. The last component is followed too,
    as moby's ``ResolveScopedPath`` does.
    """
    parts = [part for part in rel.split("/") if part not in ("", ".")]
    resolved: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = "/".join([*resolved, part])
        st = lookup(candidate)
        if st is None or not stat.S_ISLNK(st.st_mode):
            resolved.append(part)
            continue
        hops += 1
        if hops > MAX_SYMLINK_HOPS:
            raise BuildError(f"/{candidate}: too many levels of symbolic links")
        target = readlink(candidate)
        if target.startswith("/"):
            resolved = []
        parts = [p for p in target.split("/") if p not in ("", ".")] + parts
    return "/".join(resolved)


class Staging:
    """``out_dir`` (what this step adds) over ``image``'s layers (what is already there)."""

    def __init__(self, out_dir: Path, image: LayerStack | None, command: str):
        self.out = Path(out_dir)
        self.image = image
        self.command = command
        self.owners: dict[str, tuple[int, int]] = {}
        self._can_chown = True

    # -- the merged view -------------------------------------------------------

    def staged(self, rel: str) -> os.stat_result | None:
        return lstat_in(self.out, rel) if split_path(rel) else None

    def in_image(self, rel: str) -> os.stat_result | None:
        return self.image.lstat(rel) if self.image is not None else None

    def lookup(self, rel: str) -> os.stat_result | None:
        st = self.staged(rel)
        if st is not None:
            return st
        # an image entry under a staged non-directory is hidden by it
        if self._hidden_by_staged(rel):
            return None
        return self.in_image(rel)

    def _hidden_by_staged(self, rel: str) -> bool:
        parts = split_path(rel)
        for depth in range(1, len(parts)):
            st = self.staged("/".join(parts[:depth]))
            if st is not None and not stat.S_ISDIR(st.st_mode):
                return True
        return False

    def readlink(self, rel: str) -> str:
        if self.staged(rel) is not None or self.image is None:
            return long_paths.readlink(os.path.join(self.out, rel))
        return self.image.readlink(rel)

    def resolve(self, path: str) -> str:
        """The physical root-relative path of an absolute image path, symlinks followed in scope."""
        return resolve_in_scope(path, self.lookup, self.readlink)

    def is_dir(self, rel: str) -> bool:
        if not split_path(rel):
            return True
        st = self.lookup(rel)
        return st is not None and stat.S_ISDIR(st.st_mode)

    # -- writing ---------------------------------------------------------------

    def host(self, rel: str) -> str:
        return os.path.join(self.out, rel)

    def ensure_dirs(self, rel: str, *, mode: int, owner: tuple[int, int]) -> None:
        """Stage every directory along physical ``rel``: image ones copied up, missing ones created."""
        current = ""
        for part in split_path(rel):
            current = f"{current}/{part}" if current else part
            st = self.staged(current)
            if st is not None:
                if stat.S_ISDIR(st.st_mode):
                    continue
                raise BuildError(f"{self.command} failed: mkdir /{current}: not a directory")
            if self._hidden_by_staged(current):
                raise BuildError(f"{self.command} failed: mkdir /{current}: not a directory")
            image_st = self.in_image(current)
            if image_st is None:
                self.make_dir(current, mode, owner)
            elif stat.S_ISDIR(image_st.st_mode):
                self.copy_up_dir(current, image_st)
            else:
                raise BuildError(f"{self.command} failed: mkdir /{current}: not a directory")

    def make_dir(self, rel: str, mode: int, owner: tuple[int, int]) -> None:
        path = self.host(rel)
        long_paths.mkdir(path, 0o700)
        self.set_owner(rel, owner)
        long_paths.chmod(path, mode)

    def copy_up_dir(self, rel: str, image_st: os.stat_result) -> None:
        """An image directory that this step changes: staged with its own metadata."""
        self.make_dir(rel, stat.S_IMODE(image_st.st_mode), (image_st.st_uid, image_st.st_gid))

    def clear(self, rel: str, *, keep_dir: bool) -> None:
        """Remove what this step staged at ``rel`` (a directory is kept when ``keep_dir``)."""
        st = self.staged(rel)
        if st is None or (keep_dir and stat.S_ISDIR(st.st_mode)):
            return
        path = self.host(rel)
        if stat.S_ISDIR(st.st_mode):
            remove_tree(path)
        else:
            long_paths.unlink(path)
        self.owners.pop(rel, None)

    def set_owner(self, rel: str, owner: tuple[int, int]) -> None:
        path = self.host(rel)
        if self._can_chown:
            try:
                long_paths.lchown(path, *owner)
                return
            except PermissionError:
                self._can_chown = False
        st = long_paths.lstat(path)
        if (st.st_uid, st.st_gid) != owner:
            self.owners[rel] = owner
