"""Mount-point stubs in their own lower layer, so they never reach the upperdir.

A runtime must create a directory or an empty file wherever it mounts
something (/proc, /etc/hosts, /run/secrets/<id>, a cache dir…). Made in the
merged view, those stubs (and copies of their parent directories) would land
in the upperdir and be committed. Docker keeps them in a separate "init"
layer; so do we: the stub layer sits on top of the snapshots as the topmost
lower. Parent directories in it copy the owner, mode and times of the
directory they shadow, because overlayfs shows the topmost layer's metadata.
Paths are resolved through the stack the way the kernel would see them:
whiteouts hide, opaque directories stop the search, symlinks are followed
inside the rootfs.
"""

from __future__ import annotations

import os
import posixpath
import stat
from pathlib import Path

_MAX_SYMLINKS = 40


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _is_opaque(path: Path) -> bool:
    for name in ("trusted.overlay.opaque", "user.overlay.opaque"):
        try:
            if os.getxattr(path, name, follow_symlinks=False) == b"y":
                return True
        except OSError:
            pass
    return False


def _lookup(layers_top_first: list[Path], parts: list[str]) -> tuple[Path, os.stat_result] | None:
    """The topmost host path (and its lstat) showing ``parts`` in the merged view, no symlink following."""
    visible = layers_top_first
    found: tuple[Path, os.stat_result] | None = None
    for depth, _ in enumerate(parts):
        rel = parts[: depth + 1]
        next_visible: list[Path] = []
        found = None
        for layer in visible:
            path = layer.joinpath(*rel)
            try:
                st = os.lstat(path)
            except (FileNotFoundError, NotADirectoryError):
                continue
            if _is_whiteout(st):
                break
            if not stat.S_ISDIR(st.st_mode):
                if not next_visible:
                    found = (path, st)
                break
            if found is None:
                found = (path, st)
            next_visible.append(layer)
            if _is_opaque(path):
                break
        if found is None:
            return None
        if depth < len(parts) - 1 and not stat.S_ISDIR(found[1].st_mode):
            return found  # a non-directory in the middle: the caller sees it and stops
        visible = next_visible
    return found


def resolve(layers_top_first: list[Path], container_path: str) -> tuple[str, Path | None, os.stat_result | None]:
    """Follow symlinks inside the stack: (resolved container path, host path, lstat) or (path, None, None)."""
    path = posixpath.normpath("/" + container_path)
    for _ in range(_MAX_SYMLINKS):
        parts = [part for part in path.split("/") if part]
        for depth in range(1, len(parts) + 1):
            hit = _lookup(layers_top_first, parts[:depth])
            if hit is None:
                return path, None, None
            host_path, st = hit
            if stat.S_ISLNK(st.st_mode):
                target = os.readlink(host_path)
                base = "/" if target.startswith("/") else "/" + "/".join(parts[: depth - 1])
                path = posixpath.normpath(posixpath.join(base, target, *parts[depth:]))
                path = "/" + path.lstrip("/")
                break
            if depth == len(parts):
                return path, host_path, st
            if not stat.S_ISDIR(st.st_mode):
                return path, None, None  # a file where a directory is needed: nothing to stub
        else:
            return "/", layers_top_first[0] if layers_top_first else None, None
    return path, None, None


def make_mount_stubs(lowers: list[Path], stub_dir: Path, targets: dict[str, bool]) -> None:
    """Create in ``stub_dir`` each missing mount point: ``targets`` maps container path -> is a directory."""
    layers_top_first = [Path(layer) for layer in reversed(lowers)]
    stub_dir.mkdir(parents=True, exist_ok=True)
    shadowed: dict[Path, os.stat_result] = {}
    for target, is_dir in sorted(targets.items()):
        resolved, host_path, _ = resolve(layers_top_first, target)
        if host_path is not None or resolved == "/":
            continue  # already there (a wrong type is the runtime's to report)
        parts = [part for part in resolved.split("/") if part]
        for depth in range(1, len(parts)):
            stub = stub_dir.joinpath(*parts[:depth])
            if stub.is_dir():
                continue
            stub.mkdir(mode=0o755)
            hit = _lookup(layers_top_first, parts[:depth])
            if hit is not None and stat.S_ISDIR(hit[1].st_mode):
                shadowed[stub] = hit[1]
        stub = stub_dir.joinpath(*parts)
        if stub.exists() or stub.is_symlink():
            continue
        if is_dir:
            stub.mkdir(mode=0o755)
        else:
            stub.touch(mode=0o644)
    # Owner, mode and times last, deepest first: creating children changes a parent's
    # mtime, and a copied read-only mode would stop us creating them at all.
    for stub, st in sorted(shadowed.items(), key=lambda item: len(item[0].parts), reverse=True):
        try:
            os.chown(stub, st.st_uid, st.st_gid)
        except PermissionError:
            pass  # without root every file is ours anyway
        os.chmod(stub, stat.S_IMODE(st.st_mode))
        os.utime(stub, ns=(st.st_atime_ns, st.st_mtime_ns))
