"""Making one layer entry's node inside the target, through directory file descriptors only.

A new node is created with ``O_EXCL | O_NOFOLLOW`` (or ``mkdir``/``mknod``/``symlink``/``link`` at
a directory fd), then given its owner (as root), mode, xattrs and mtime; nothing is ever followed
out of the target. See ``apply`` for the rules of the whole unpack.
"""

from __future__ import annotations

import errno
import os
import stat
import tarfile

from layerlab.engine.errors import CorruptLayer, LayerError, UnsafeLayer
from layerlab.engine.layers.entries import entry_xattrs
from layerlab.engine.layers.names import clean_name
from layerlab.engine.layers.targetdirs import DIR_FLAGS, TargetDirs
from layerlab.engine.deep_trees import remove_tree

CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
COPY_CHUNK = 1 << 20


class NodeMaker:
    def __init__(self, dirs: TargetDirs, is_root: bool):
        self.dirs = dirs
        self.is_root = is_root

    def remove(self, fd: int, name: str) -> bool:
        """Remove ``name`` in ``fd`` (a directory with all it holds); False if nothing was there."""
        try:
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        if stat.S_ISDIR(st.st_mode):
            self.dirs.invalidate()
            remove_tree(name, dir_fd=fd)
        else:
            if stat.S_ISLNK(st.st_mode):
                self.dirs.invalidate()
            os.unlink(name, dir_fd=fd)
        return True

    def directory(self, fd: int, base: str, member: tarfile.TarInfo, mode: int) -> None:
        try:
            os.mkdir(base, 0o700, dir_fd=fd)
        except FileExistsError:
            if not stat.S_ISDIR(os.stat(base, dir_fd=fd, follow_symlinks=False).st_mode):
                self.remove(fd, base)
                os.mkdir(base, 0o700, dir_fd=fd)
        dir_fd = os.open(base, DIR_FLAGS, dir_fd=fd)
        try:
            self.finish_fd(dir_fd, member, mode)
        finally:
            os.close(dir_fd)

    def file(self, archive: tarfile.TarFile, fd: int, base: str, member: tarfile.TarInfo, mode: int) -> int:
        """A regular file with its content; returns the bytes written."""
        out = os.open(base, CREATE_FLAGS, 0o600, dir_fd=fd)
        try:
            if member.size:
                source = archive.extractfile(member)
                try:
                    while chunk := source.read(COPY_CHUNK):
                        view = memoryview(chunk)
                        while view:
                            view = view[os.write(out, view):]
                except tarfile.ReadError as error:
                    raise CorruptLayer(f"entry {member.name!r}: {error}") from None
            self.finish_fd(out, member, mode)
            mtime_ns = int(member.mtime) * 10**9
            os.utime(out, ns=(mtime_ns, mtime_ns))
        finally:
            os.close(out)
        return member.size

    def hardlink(self, fd: int, base: str, member: tarfile.TarInfo) -> None:
        target = clean_name(member.linkname, what=f"hard link {member.name!r} ->")
        located = self.dirs.parent_of(target, create=False, entry=member.name) if target else None
        if located is None:
            raise LayerError(f"entry {member.name!r}: hard link target {member.linkname!r} does not exist")
        try:
            os.link(located[1], base, src_dir_fd=located[0], dst_dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            raise LayerError(f"entry {member.name!r}: hard link target {member.linkname!r} does not exist") from None
        except PermissionError:
            raise UnsafeLayer(f"entry {member.name!r}: hard link to {member.linkname!r} is not allowed "
                              "(a directory?)") from None

    def finish_fd(self, fd: int, member: tarfile.TarInfo, mode: int) -> None:
        # owner before mode: chown clears setuid/setgid
        if self.is_root:
            os.fchown(fd, member.uid, member.gid)
        os.fchmod(fd, mode)
        for name, value in entry_xattrs(member).items():
            _set_xattr(fd, name, value)

    def finish_by_name(self, fd: int, base: str, member: tarfile.TarInfo, mode: int | None) -> None:
        """Metadata for a node that must not be opened (symlink, device, fifo)."""
        if self.is_root:
            os.chown(base, member.uid, member.gid, dir_fd=fd, follow_symlinks=False)
        if mode is not None:
            os.chmod(base, mode, dir_fd=fd)  # created just now by mknod: it is not a symlink
        xattrs = entry_xattrs(member)
        if xattrs:
            by_path = f"/proc/self/fd/{fd}/{base}"
            for name, value in xattrs.items():
                _set_xattr(by_path, name, value)
        mtime_ns = int(member.mtime) * 10**9
        os.utime(base, ns=(mtime_ns, mtime_ns), dir_fd=fd, follow_symlinks=False)


def _set_xattr(where: int | str, name: str, value: bytes) -> None:
    try:
        os.setxattr(where, name, value, follow_symlinks=False) if isinstance(where, str) \
            else os.setxattr(where, name, value)
    except OSError as error:
        # as Docker: a file system without (this kind of) xattrs is not a reason to fail
        if error.errno not in (errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM):
            raise
