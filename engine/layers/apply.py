"""Applying a layer tar onto a directory, safely.

Nothing outside ``target`` is ever created, changed or removed:

- names are cleaned; one that climbs out with ".." is refused (``UnsafeLayer``),
  an absolute name is taken relative to the target, as Docker does;
- every write goes through directory file descriptors opened with
  ``O_NOFOLLOW``. A symlink met on the way to an entry's parent is resolved
  *inside* the target, as if the target were the root of the file system
  (an absolute link target starts again at the target; ".." stops at it):
  the way Docker's chrooted unpack behaves, without needing a chroot;
- the entry's own name is never followed: whatever is there is removed
  first (a symlink is removed, not its target) and the new file created
  with ``O_EXCL | O_NOFOLLOW``;
- a hard link's target is cleaned and resolved the same way, and a link is
  made to that name itself, never through a final symlink;
- device nodes: created when running as root; otherwise skipped (counted in
  ``ApplyStats.skipped_devices``), the way rootless engines do. Pass
  ``allow_devices=False`` to refuse them outright (``UnsafeLayer``);
- decompressed bytes are counted and bounded (``LayerTooLarge``).

Whiteouts follow the OCI image spec ("Applying Changesets"): "<dir>/.wh..wh..opq"
clears what lower layers put in dir but keeps what this layer adds to it,
wherever the marker sits in the tar; ".wh.<name>" removes the lower <name>
and is never written itself; a whiteout never hides an entry of its own layer.
Directory mtimes are set last, once their contents are in place.
"""

from __future__ import annotations

import io
import os
import posixpath
import stat
import tarfile
from pathlib import Path
from typing import BinaryIO

from layerlab.engine.errors import CorruptLayer, LayerError, LayerTooLarge, UnsafeLayer
from layerlab.engine.layers.compression import open_decompressed
from layerlab.engine.layers.entries import entry_kind, iter_tar_members, open_tar_stream
from layerlab.engine.layers.names import clean_name, split_whiteout
from layerlab.engine.layers.nodes import COPY_CHUNK, NodeMaker
from layerlab.engine.layers.targetdirs import DIR_FLAGS, TargetDirs
from layerlab.engine.oci.digest import Digest, Hasher
from layerlab.engine.record_type import record

DEFAULT_MAX_UNCOMPRESSED = 64 << 30  # 64 GiB


@record
class ApplyStats:
    """What applying one layer did.

    ``bytes`` counts file content written; ``tar_size`` and ``diff_id`` describe
    the uncompressed tar as read, so a caller can check the diff ID it expected.
    """

    entries: int = 0
    bytes: int = 0
    whiteouts: int = 0
    skipped_devices: int = 0
    tar_size: int = 0
    diff_id: Digest | None = None


class _MeteredReader(io.RawIOBase):
    """Hashes and counts the uncompressed stream; past ``limit`` bytes it stops with ``LayerTooLarge``."""

    def __init__(self, stream: BinaryIO, limit: int):
        self._stream = stream
        self._limit = limit
        self.hasher = Hasher("sha256")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._stream.read(len(buffer))
        self.hasher.update(data)
        if self.hasher.size > self._limit:
            raise LayerTooLarge(f"layer expands past the limit of {self._limit} bytes uncompressed (a tar bomb?)")
        buffer[: len(data)] = data
        return len(data)


class _Applier:
    def __init__(self, target: Path, allow_devices: bool | None, opaque_xattr: str | None):
        self.dirs = TargetDirs(target)
        self.is_root = os.geteuid() == 0
        self.nodes = NodeMaker(self.dirs, self.is_root)
        self.allow_devices = allow_devices
        # set: unpack one layer on its own in overlayfs' form (whiteouts kept, not applied)
        self.opaque_xattr = opaque_xattr
        self.whited_out: set[str] = set()
        self.stats = ApplyStats()
        # names this layer adds, and their ancestors: what its own whiteouts must not hide
        self.added: set[str] = set()
        self.added_ancestors: set[str] = set()
        self.dir_mtimes: list[tuple[str, int]] = []

    def apply(self, stream: BinaryIO) -> None:
        last = None
        try:
            archive = open_tar_stream(stream)
            for member in iter_tar_members(archive):
                last = member.name
                self._member(archive, member)
            last = ""
            # the rest (end-of-archive blocks, padding) still belongs to the diff ID,
            # and reading to the end is what checks a compressed stream's trailer
            while stream.read(COPY_CHUNK):
                pass
        except (CorruptLayer, LayerTooLarge) as error:
            if "entry" in str(error):
                raise
            # the decoder does not know which entry it was reading: say so here
            where = ("before the first entry" if last is None else "after the last entry" if last == ""
                     else f"at entry {last!r}")
            raise type(error)(f"{error} ({where})") from None

    def finish(self) -> None:
        for path, mtime in reversed(self.dir_mtimes):
            located = self.dirs.parent_of(path, create=False, entry=path)
            if located is not None:
                try:
                    os.utime(located[1], ns=(mtime * 10**9, mtime * 10**9), dir_fd=located[0], follow_symlinks=False)
                except FileNotFoundError:
                    pass

    def _member(self, archive: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        self.stats.entries += 1
        path = clean_name(member.name)
        if not path:
            return  # the root itself: the target keeps its own metadata, as in Docker
        try:
            whiteout = split_whiteout(path)
            if whiteout is not None:
                self._whiteout(path, *whiteout, member)
            else:
                self._entry(archive, member, path)
        except OSError as error:
            raise LayerError(f"entry {member.name!r}: {error.strerror or error}") from None

    # --- whiteouts --------------------------------------------------------------

    def _whiteout(self, path: str, kind: str, hidden: str, member: tarfile.TarInfo) -> None:
        if kind == "meta":
            return
        self.stats.whiteouts += 1
        if self.opaque_xattr is not None:
            self._keep_whiteout(path, kind, hidden, member)
            return
        if kind == "file":
            if hidden in self.added or hidden in self.added_ancestors:
                return  # an entry of this same layer: only a later layer can hide it
            located = self.dirs.parent_of(hidden, create=False, entry=path)
            if located is not None:
                self.nodes.remove(*located)
            return
        fd = self.dirs.directory(hidden, create=False, entry=path) if hidden else self.dirs.root_fd
        if fd is not None:
            self._clear_lower(fd, hidden)

    def _keep_whiteout(self, path: str, kind: str, hidden: str, member: tarfile.TarInfo) -> None:
        """The whiteout as overlayfs stores it: a 0/0 character device, or the opaque xattr on the directory."""
        if kind == "opaque":
            fd = self.dirs.directory(hidden, create=True, entry=path) if hidden else self.dirs.root_fd
            self._set_opaque(fd)
            return
        if hidden in self.added or hidden in self.added_ancestors:
            return  # an entry of this same layer: only a later layer can hide it
        fd, base = self.dirs.parent_of(hidden, create=True, entry=path)
        try:
            os.mknod(base, stat.S_IFCHR, os.makedev(0, 0), dir_fd=fd)
        except FileExistsError:
            return  # the same name whited out twice
        if self.is_root:
            os.chown(base, member.uid, member.gid, dir_fd=fd, follow_symlinks=False)
        self.whited_out.add(hidden)

    def _set_opaque(self, fd: int) -> None:
        try:
            os.setxattr(fd, self.opaque_xattr, b"y")
        except OSError as error:
            raise LayerError(f"cannot mark a directory opaque with {self.opaque_xattr}: {error.strerror} "
                             "(the store's file system must support this extended attribute)") from None

    def _clear_lower(self, fd: int, directory: str) -> None:
        """Remove what lower layers left in ``directory``, keeping this layer's entries.

        Depth first on a list rather than the call stack (trees of any depth), one open
        directory per level, as the recursion it replaces held."""
        stack: list[tuple[int, str, list[str]]] = [(fd, directory, os.listdir(fd))]
        try:
            while stack:
                here, path, names = stack[-1]
                if not names:
                    stack.pop()
                    if here != fd:
                        os.close(here)
                    continue
                name = names.pop()
                child = f"{path}/{name}" if path else name
                if child in self.added_ancestors:
                    below = os.open(name, DIR_FLAGS, dir_fd=here)
                    stack.append((below, child, []))
                    stack[-1][2].extend(os.listdir(below))
                elif child not in self.added:
                    self.nodes.remove(here, name)
        finally:
            for here, _, _ in stack:
                if here != fd:
                    os.close(here)

    # --- entries ----------------------------------------------------------------

    def _mark_added(self, path: str) -> None:
        self.added.add(path)
        parent = posixpath.dirname(path)
        while parent and parent not in self.added_ancestors:
            self.added_ancestors.add(parent)
            parent = posixpath.dirname(parent)

    def _entry(self, archive: tarfile.TarFile, member: tarfile.TarInfo, path: str) -> None:
        kind = entry_kind(member)
        if kind in ("char", "block") and not self._devices_allowed(member):
            return
        fd, base = self.dirs.parent_of(path, create=True, entry=member.name)
        mode = stat.S_IMODE(member.mode)
        self._mark_added(path)
        if kind == "dir":
            self.nodes.directory(fd, base, member, mode)
            if path in self.whited_out:
                # this layer deleted the lower entry and made a directory in its place: in
                # overlayfs' terms that is a directory hiding whatever lies below it
                dir_fd = os.open(base, DIR_FLAGS, dir_fd=fd)
                try:
                    self._set_opaque(dir_fd)
                finally:
                    os.close(dir_fd)
            self.dir_mtimes.append((path, int(member.mtime)))
            return
        try:
            existing = os.stat(base, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            existing = None
        if existing is not None:
            self.nodes.remove(fd, base)
            fd, base = self.dirs.parent_of(path, create=True, entry=member.name)
        if kind == "file":
            self.stats.bytes += self.nodes.file(archive, fd, base, member, mode)
        elif kind == "symlink":
            os.symlink(member.linkname, base, dir_fd=fd)
            self.nodes.finish_by_name(fd, base, member, None)
        elif kind == "hardlink":
            self.nodes.hardlink(fd, base, member)
        else:
            node_type = {"char": stat.S_IFCHR, "block": stat.S_IFBLK, "fifo": stat.S_IFIFO}[kind]
            device = os.makedev(member.devmajor, member.devminor) if kind != "fifo" else 0
            os.mknod(base, mode | node_type, device, dir_fd=fd)
            self.nodes.finish_by_name(fd, base, member, mode)

    def _devices_allowed(self, member: tarfile.TarInfo) -> bool:
        if self.allow_devices is False:
            raise UnsafeLayer(f"entry {member.name!r}: device nodes are not allowed here")
        if self.allow_devices is None and not self.is_root:
            self.stats.skipped_devices += 1
            return False
        return True

def apply_layer(blob: BinaryIO, target: Path, *, max_uncompressed: int = DEFAULT_MAX_UNCOMPRESSED,
                allow_devices: bool | None = None, keep_whiteouts: str | None = None) -> ApplyStats:
    """Apply the layer in ``blob`` (any compression) onto ``target``, which may hold lower layers.

    With ``keep_whiteouts`` (the opaque xattr name, see ``names.opaque_xattr_for``)
    ``target`` holds this layer alone, in overlayfs' form: each ".wh.<name>"
    becomes a 0/0 character device and each opaque marker that xattr on its
    directory, so the directory can sit in an overlay stack as a lowerdir.

    Raises ``UnsafeLayer`` for an entry that would escape or is forbidden,
    ``LayerTooLarge`` past ``max_uncompressed`` bytes, ``CorruptLayer`` for
    truncated or undecodable data; each message is one line naming the entry.
    """
    target = Path(target)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise LayerError(f"{target}: cannot create the target directory: {error.strerror}") from None
    metered = _MeteredReader(open_decompressed(blob), max_uncompressed)
    stream = io.BufferedReader(metered, COPY_CHUNK)
    applier = _Applier(target, allow_devices, keep_whiteouts)
    try:
        applier.apply(stream)
        applier.finish()
    finally:
        applier.dirs.close()
    applier.stats.tar_size = metered.hasher.size
    applier.stats.diff_id = metered.hasher.digest()
    return applier.stats
