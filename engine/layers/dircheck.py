"""Does a layer directory (one layer in overlayfs' form) still hold what its tar says?

For ``fsck``: the tar is read once, keeping for each name what must be on
disk (type, mode, owner, size and content hash, link target, device
number; a whiteout as a 0/0 character device; an opaque marker as the
opaque xattr on its directory); then the directory is walked and every
difference named. Times are not compared (unpacking sets them, a copy-up
may not), nor owners when ``owners`` is False (without root every file of
a store belongs to its user).
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import stat
from pathlib import Path
from typing import BinaryIO

from layerlab.engine.layers.compression import open_decompressed
from layerlab.engine.layers.entries import entry_kind, iter_tar_members, open_tar_stream
from layerlab.engine.layers.names import XATTR_WHITEOUTS, clean_name, split_whiteout
from layerlab.engine.layers.stack import is_opaque, is_whiteout
from layerlab.engine import long_paths
from layerlab.engine.deep_trees import walk_tree
from layerlab.engine.record_type import record

_CHUNK = 1 << 20
_KIND_OF_MODE = {stat.S_IFREG: "file", stat.S_IFDIR: "dir", stat.S_IFLNK: "symlink", stat.S_IFCHR: "char",
                 stat.S_IFBLK: "block", stat.S_IFIFO: "fifo"}


@record
class _Expected:
    kind: str                  # as entries.entry_kind, or "whiteout"
    mode: int = 0
    uid: int = 0
    gid: int = 0
    size: int = 0
    sha256: str = ""
    linkname: str = ""
    rdev: int = 0
    opaque: bool = False


def layer_dir_differences(blob: BinaryIO, layer_dir: Path, *, owners: bool, limit: int = 5) -> list[str]:
    """What differs between the layer tar in ``blob`` (any compression) and ``layer_dir``; [] when nothing.

    At most ``limit`` differences are named, then how many more there are.
    """
    expected = _read_tar(blob, skip_devices=os.geteuid() != 0)
    found: list[str] = []
    seen: set[str] = set()
    root = os.fspath(layer_dir)
    for dirpath, dirnames, filenames in walk_tree(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            path = os.path.join(dirpath, name)
            rel = path[len(root) + 1:]  # relpath splits and joins: slow on deep trees
            seen.add(rel)
            problem = _compare(path, rel, expected.get(rel), owners)
            if problem:
                found.append(f"/{rel}: {problem}")
    for rel in sorted(set(expected) - seen):
        found.append(f"/{rel}: missing")
    if len(found) > limit:
        return found[:limit] + [f"and {len(found) - limit} more"]
    return found


def _read_tar(blob: BinaryIO, *, skip_devices: bool) -> dict[str, _Expected]:
    expected: dict[str, _Expected] = {}
    added: set[str] = set()
    archive = open_tar_stream(open_decompressed(blob))
    for member in iter_tar_members(archive):
        path = clean_name(member.name)
        if not path:
            continue
        whiteout = split_whiteout(path)
        if whiteout is not None:
            kind, hidden = whiteout
            if kind == "opaque":
                _implied_dirs(expected, posixpath.join(hidden, "x"))
                if hidden:
                    expected.setdefault(hidden, _Expected("dir", mode=-1)).opaque = True
            elif kind == "file" and hidden not in added:
                _implied_dirs(expected, hidden)
                expected[hidden] = _Expected("whiteout")
            continue
        kind = entry_kind(member)
        if kind in ("char", "block") and skip_devices:
            continue
        _implied_dirs(expected, path)
        previous = expected.get(path)
        entry = _Expected(kind, mode=stat.S_IMODE(member.mode), uid=member.uid, gid=member.gid)
        if kind == "dir":
            entry.opaque = previous is not None and (previous.opaque or previous.kind == "whiteout")
        elif kind == "file":
            digest = hashlib.sha256()
            source = archive.extractfile(member)
            while chunk := source.read(_CHUNK):
                digest.update(chunk)
            entry.size, entry.sha256 = member.size, digest.hexdigest()
        elif kind == "hardlink":
            target = expected.get(clean_name(member.linkname, what="hard link"))
            if target is not None:
                entry = _Expected(**vars(target))
        elif kind == "symlink":
            entry.linkname = member.linkname
        elif kind in ("char", "block"):
            entry.rdev = os.makedev(member.devmajor, member.devminor)
        expected[path] = entry
        added.add(path)
    return expected


def _implied_dirs(expected: dict[str, _Expected], path: str) -> None:
    """Parents the unpack creates for an entry whose tar has none of its own (mode unchecked)."""
    parent = posixpath.dirname(path)
    while parent and parent not in expected:
        expected[parent] = _Expected("dir", mode=-1)
        parent = posixpath.dirname(parent)


def _compare(path: str, rel: str, want: _Expected | None, owners: bool) -> str | None:
    st = long_paths.lstat(path)
    if stat.S_ISSOCK(st.st_mode):
        return None  # a tar cannot hold a socket: a RUN may leave one behind
    if want is None:
        return "not in the layer"
    if want.kind == "whiteout":
        is_deletion = is_whiteout(st) or (stat.S_ISREG(st.st_mode) and _has_whiteout_xattr(path))
        return None if is_deletion else "should be a whiteout"
    kind = _KIND_OF_MODE.get(stat.S_IFMT(st.st_mode), "other")
    if kind != want.kind:
        return f"is a {kind}, the layer has a {want.kind}"
    if want.mode >= 0 and stat.S_IMODE(st.st_mode) != want.mode:
        return f"mode {stat.S_IMODE(st.st_mode):o}, the layer has {want.mode:o}"
    if owners and want.mode >= 0 and (st.st_uid, st.st_gid) != (want.uid, want.gid):
        return f"owner {st.st_uid}:{st.st_gid}, the layer has {want.uid}:{want.gid}"
    if kind == "file":
        if st.st_size != want.size:
            return f"size {st.st_size}, the layer has {want.size}"
        if _file_sha256(path) != want.sha256:
            return "content differs from the layer"
    elif kind == "symlink" and long_paths.readlink(path) != want.linkname:
        return f"links to {long_paths.readlink(path)!r}, the layer has {want.linkname!r}"
    elif kind in ("char", "block") and st.st_rdev != want.rdev:
        return "device number differs from the layer"
    elif kind == "dir" and is_opaque(path) != want.opaque:
        return "opaque in the layer but not on disk" if want.opaque else "opaque on disk but not in the layer"
    return None


def _has_whiteout_xattr(path: str) -> bool:
    for name in XATTR_WHITEOUTS:
        try:
            os.getxattr(long_paths.xattr_path(path), name, follow_symlinks=False)
            return True
        except OSError:
            pass
    return False


def _file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb", opener=long_paths.opener) as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
