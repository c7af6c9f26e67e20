"""tarsum v1 headers, as moby's ``remotecontext.NewFileHash`` writes them for each context entry.

A file's checksum is this header (name, mode, uid, gid, size, type, link target, device numbers,
security.capability) followed by its content; ``headers="image"`` adds what Go's
``tar.FileInfoHeader`` puts there for files from an image (type bits, host owner names).
"""

import functools
import grp
import hashlib
import os
import pwd
import stat
from pathlib import Path
from typing import NamedTuple

from layerlab.engine import long_paths

# lstat's file types as (kind, tar typeflag); other types (sockets) are not part of a context.
KINDS = {
    stat.S_IFREG: ("file", "0"),
    stat.S_IFLNK: ("symlink", "2"),
    stat.S_IFCHR: ("char", "3"),
    stat.S_IFBLK: ("block", "4"),
    stat.S_IFDIR: ("dir", "5"),
    stat.S_IFIFO: ("fifo", "6"),
}


class EntryStat(NamedTuple):
    """What a walk keeps of one entry's lstat.

    A tuple, as a walk makes one per entry (20,000 for a large context): the walk builds it with
    ``tuple.__new__``, a C call, where a class's ``__init__`` is a Python call per entry. (This module
    does without postponed annotations: NamedTuple would compile each field's annotation text.)"""

    kind: str
    typeflag: str
    mode: int
    uid: int
    gid: int
    size: int       # size to ctime_ns: what the stat cache keeps of a file, in its order (STAT_KEY)
    mtime_ns: int
    ino: int
    ctime_ns: int
    rdev: int


STAT_KEY = slice(5, 9)
"""``entry_stat[STAT_KEY]``: (size, mtime_ns, ino, ctime_ns), compared whole with a stat cache entry's first four."""


def tarsum_header(root: Path, rel: str, st: EntryStat, link: str, *, image_headers: bool) -> "hashlib._Hash":
    # The tarsum v1 header: the tar header fields except mtime, uname and
    # gname (which moby leaves empty), concatenated as name+value.
    name = rel + "/" if st.kind == "dir" else rel
    major, minor = (os.major(st.rdev), os.minor(st.rdev)) if st.kind in ("char", "block") else (0, 0)
    mode, uname, gname = st.mode, "", ""
    if image_headers:
        mode |= _GO_TYPE_BITS[st.kind]
        uname, gname = _host_user_name(st.uid), _host_group_name(st.gid)
    hasher = hashlib.sha256()
    hasher.update(
        f"name{name}mode{mode}uid{st.uid}gid{st.gid}size{st.size}typeflag{st.typeflag}"
        f"linkname{link}uname{uname}gname{gname}devmajor{major}devminor{minor}"
        .encode("utf-8", "surrogateescape")
    )
    capability = _capability(root / rel) if st.kind == "file" else None
    if capability is not None:
        hasher.update(b"security.capability" + capability)
    return hasher


# archive/tar's c_IS* bits, which moby's FileInfoHeader puts back into a header's mode.
_GO_TYPE_BITS = {"file": 0o100000, "dir": 0o40000, "symlink": 0o120000, "fifo": 0o10000, "char": 0o20000,
                 "block": 0o60000}


@functools.lru_cache(maxsize=256)
def _host_user_name(uid: int) -> str:
    # Go's tar.FileInfoHeader looks the owner up on the host (the daemon's), not in the image.
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return ""


@functools.lru_cache(maxsize=256)
def _host_group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return ""


def _capability(path: Path) -> bytes | None:
    try:
        return os.getxattr(long_paths.xattr_path(path), "security.capability", follow_symlinks=False)
    except OSError:
        return None
