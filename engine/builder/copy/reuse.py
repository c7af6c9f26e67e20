"""Files a COPY writes exactly as the same step's previous layer holds them: linked, not written again.

An edit rebuild's COPY of a source tree changes one file of many. Writing each file anew costs a new
inode, its bytes and four metadata calls; a hard link to the previous layer's file costs one directory
entry. Two layers may share a file because a snapshot's files are never changed in place: a RUN reads
them as overlay lowers and copies up what it changes, and nothing else writes there.

A file is linked only when it is exactly what the copy would write, checked on the file itself, not on
any record: a regular file inside the previous layer's directory (no symlink on the way), without
extended attributes, with the owner, permission bits, mtime and size the copy would give it, and the
same bytes, compared in full. Anything else is copied as before. Each previous file is linked at most
once per COPY, so the new layer's tar gets no hard-link entry a plain copy would not have.
"""

from __future__ import annotations

import os
import posixpath
import stat
from pathlib import Path

_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
_CHUNK = 1 << 20


class PreviousLayer:
    """The directory of the layer this COPY step made last time, to link unchanged files from."""

    def __init__(self, root: Path) -> None:
        self.root = os.fspath(root)
        self._real = os.path.realpath(self.root)
        self._inside: dict[str, bool] = {}   # directory (layer-relative) -> reached without a symlink
        self._used: set[int] = set()         # inodes linked already by this COPY
        self.linked = 0

    def link_if_same(self, source_fd: int, target: str, staged: str, *, owner: tuple[int, int], mode: int,
                     mtime_ns: int, size: int) -> bool:
        """Link ``staged`` to the previous layer's ``target`` when that file is what copying
        ``source_fd`` would make (``owner``, ``mode``, ``mtime_ns``, ``size``); False: copy it."""
        if not self._reachable(posixpath.dirname(target)):
            return False
        candidate = os.path.join(self.root, target)
        try:
            fd = os.open(candidate, _READ)
        except OSError:
            return False
        try:
            st = os.fstat(fd)
            if (not stat.S_ISREG(st.st_mode) or st.st_size != size or stat.S_IMODE(st.st_mode) != mode
                    or (st.st_uid, st.st_gid) != owner or st.st_mtime_ns != mtime_ns or st.st_ino in self._used
                    or os.listxattr(fd) or not _same_bytes(source_fd, fd, size)):
                return False
            os.link(candidate, staged, follow_symlinks=False)
        except OSError:
            return False   # unreadable, no xattr support, another file system, a path too long: copy it
        finally:
            os.close(fd)
        self._used.add(st.st_ino)
        self.linked += 1
        return True

    def _reachable(self, directory: str) -> bool:
        """``directory`` is a real directory under the layer's root, no component a symlink."""
        known = self._inside.get(directory)
        if known is None:
            expected = os.path.join(self._real, directory) if directory else self._real
            known = os.path.realpath(os.path.join(self.root, directory)) == os.path.normpath(expected)
            self._inside[directory] = known
        return known


def _same_bytes(first: int, second: int, size: int) -> bool:
    """Whether two open files hold the same ``size`` bytes and no more (read by offset: neither file's
    position moves). Each read asks one byte past ``size``, so the last one also finds both ends."""
    offset = 0
    while offset <= size:
        want = min(_CHUNK, size + 1 - offset)
        chunk = os.pread(first, want, offset)
        if os.pread(second, want, offset) != chunk:
            return False
        offset += len(chunk)
        if len(chunk) < want:
            break   # both ended here
    return offset == size
