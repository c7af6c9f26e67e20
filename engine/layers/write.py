"""Writing layer tars: from a directory, from a change list, from an overlay upperdir.

Entries come out the way Docker's ``pkg/archive`` writes them, so the same tree
gives the same diff ID: names relative with no leading "./", directories
ending in "/", depth-first walk with each directory's entries sorted by
name, the root itself omitted, empty user and group names, a second name of
an already written inode as a hard link to the first, xattrs as PAX
``SCHILY.xattr.*`` records. Sockets cannot live in a tar and are skipped.

All three writers put the *uncompressed* tar into ``out``; compress it with
``compression.compress_to`` when a compressed blob is wanted.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator, NamedTuple

from layerlab.engine import long_paths
from layerlab.engine.errors import LayerError, NotFound
from layerlab.engine.layers.names import (
    OPAQUE_MARKER, OPAQUE_XATTRS, OVERLAY_XATTR_PREFIXES, WHITEOUT_PREFIX, XATTR_WHITEOUTS, bad_whiteout,
    clean_name,
)
from layerlab.engine.layers.tarformat import (
    BLOCK_DEVICE, CHAR_DEVICE, DIRECTORY, FIFO, HARDLINK, REGULAR, SYMLINK, TarHeader, TarStreamWriter,
)
from layerlab.engine.oci.digest import Digest
from layerlab.engine.record_type import record

# an SELinux label belongs to the host that wrote the file, not to the image
_HOST_XATTRS = frozenset({"security.selinux"})
# features that make an upperdir an incomplete record of the changes
_UNSUPPORTED_OVERLAY_XATTRS = ("trusted.overlay.redirect", "user.overlay.redirect",
                               "trusted.overlay.metacopy", "user.overlay.metacopy")


@record(frozen=True)
class LayerBlob:
    """The uncompressed tar just written: its diff ID, its size in bytes, and what reading it back would
    measure (``store.measure``): the content size Docker shows, and the first entry whose name is a
    whiteout no layer may carry (None when there is none), so a caller can skip that second read."""

    diff_id: Digest
    size: int
    content_size: int = 0
    bad_entry: str | None = None


class Change(NamedTuple):
    """One change to a tree: ``kind`` is "add", "modify", "delete" or "opaque".

    ``path`` is relative to the image root; ``source`` is where the new content
    is on disk (for "add"/"modify"; for "opaque" it may name the directory
    whose mode and owner the marker copies). An added directory is written as
    the directory alone; its children are changes of their own.
    """

    path: str
    kind: str
    source: Path | None = None


def read_xattrs(path: str | os.PathLike) -> dict[str, bytes]:
    """All extended attributes of ``path`` itself (never a symlink's target)."""
    path = long_paths.xattr_path(path)
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError as error:
        if error.errno in (errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM):
            return {}
        raise
    values = {}
    for name in names:
        try:
            values[name] = os.getxattr(path, name, follow_symlinks=False)
        except OSError as error:
            if error.errno not in (errno.ENODATA, errno.ENOTSUP, errno.EPERM):
                raise
    return values


def _content_xattrs(xattrs: dict[str, bytes]) -> dict[str, bytes]:
    return {
        name: value for name, value in xattrs.items()
        if name not in _HOST_XATTRS and not name.startswith(OVERLAY_XATTR_PREFIXES)
    }


def _header(name: str, path: str, st: os.stat_result, xattrs: dict[str, bytes]) -> TarHeader | None:
    """The header Docker writes for a file with this ``lstat``; None for a socket."""
    mode = st.st_mode
    header = TarHeader(name=name, typeflag=REGULAR, mode=stat.S_IMODE(mode), uid=st.st_uid, gid=st.st_gid,
                       mtime=int(st.st_mtime), xattrs=_content_xattrs(xattrs))
    if stat.S_ISREG(mode):
        header.size = st.st_size
    elif stat.S_ISDIR(mode):
        header.typeflag = DIRECTORY
        if not header.name.endswith("/"):
            header.name += "/"
    elif stat.S_ISLNK(mode):
        header.typeflag = SYMLINK
        header.linkname = os.fsdecode(long_paths.readlink(path))
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        header.typeflag = CHAR_DEVICE if stat.S_ISCHR(mode) else BLOCK_DEVICE
        header.devmajor, header.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
    elif stat.S_ISFIFO(mode):
        header.typeflag = FIFO
    else:
        return None
    return header


def _walk(root: Path) -> Iterator[tuple[str, str, os.stat_result]]:
    """Go's ``filepath.Walk`` order: an entry, then (if a directory) its children, siblings sorted."""

    def children(directory: str, prefix: str) -> list[tuple[str, str, os.stat_result]]:
        with long_paths.scandir(directory) as listing:
            entries = sorted(listing, key=lambda entry: os.fsencode(entry.name))
            return [(prefix + entry.name, entry.path, entry.stat(follow_symlinks=False)) for entry in entries]

    stack = [iter(children(os.fspath(root), ""))]
    while stack:
        item = next(stack[-1], None)
        if item is None:
            stack.pop()
            continue
        yield item
        name, path, st = item
        if stat.S_ISDIR(st.st_mode):
            stack.append(iter(children(path, name + "/")))


# A file up to this size is read whole with one read(2) and written with its header in one piece; a
# layer of many small files (a RUN's output, a source tree) spends most of its time per file, not per byte.
SMALL_FILE = 1 << 16


def _read_exactly(fd: int, size: int) -> bytes:
    """Up to ``size`` bytes (fewer only at the file's end)."""
    content = os.read(fd, size)
    while len(content) < size:
        more = os.read(fd, size - len(content))
        if not more:
            break
        content += more
    return content


class _LayerWriter:
    """Shared state of one tar being written: the stream and the inodes already seen."""

    def __init__(self, out: BinaryIO):
        self.tar = TarStreamWriter(out)
        self._first_name_of_inode: dict[tuple[int, int], str] = {}
        self.content_size = 0
        self.bad_entry: str | None = None

    def add(self, header: TarHeader, content: BinaryIO | None = None) -> None:
        """Write one entry, counting what ``measure_layer`` would count on reading it back."""
        self._count(header)
        self.tar.add(header, content)

    def _count(self, header: TarHeader) -> None:
        if header.typeflag == REGULAR:
            self.content_size += header.size
        elif header.typeflag == SYMLINK:
            self.content_size += len(header.linkname.encode("utf-8", "surrogateescape"))
        if self.bad_entry is None and bad_whiteout(header.name.rstrip("/")) is not None:
            self.bad_entry = header.name

    def add_file(self, header: TarHeader, path: str, st: os.stat_result) -> None:
        if header.typeflag != DIRECTORY and st.st_nlink > 1:
            key = (st.st_dev, st.st_ino)
            first = self._first_name_of_inode.get(key)
            if first is not None:
                header.typeflag, header.linkname, header.size = HARDLINK, first, 0
            else:
                self._first_name_of_inode[key] = header.name
        if header.typeflag == REGULAR and header.size:
            try:
                fd = long_paths.open_fd(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            except OSError as error:
                raise LayerError(f"{header.name}: cannot read {path}: {error.strerror}") from None
            if header.size <= SMALL_FILE:
                try:
                    content = _read_exactly(fd, header.size)
                finally:
                    os.close(fd)
                if len(content) < header.size:
                    raise LayerError(f"{header.name}: {path} shrank while it was being written")
                self._count(header)
                self.tar.add_small(header, content)
                return
            with os.fdopen(fd, "rb") as stream:
                try:
                    self.add(header, stream)
                except EOFError:
                    raise LayerError(f"{header.name}: {path} shrank while it was being written") from None
        else:
            self.add(header)

    def finish(self) -> LayerBlob:
        diff_id, size = self.tar.close()
        return LayerBlob(diff_id=diff_id, size=size, content_size=self.content_size, bad_entry=self.bad_entry)


def write_layer_from_dir(root: Path, out: BinaryIO, *, mtime: int | None = None,
                         owner: tuple[int, int] | None = None) -> LayerBlob:
    """A tar of everything under ``root`` into ``out``.

    ``mtime`` and ``owner`` (uid, gid), when given, replace every entry's own,
    for a layer that depends on content only.
    """
    if not long_paths.is_dir(root):
        raise NotFound(f"{root}: no such directory to write a layer from")
    writer = _LayerWriter(out)
    for name, path, st in _walk(root):
        header = _header(name, path, st, read_xattrs(path))
        if header is None:
            continue
        _override(header, mtime, owner)
        writer.add_file(header, path, st)
    return writer.finish()


def _override(header: TarHeader, mtime: int | None, owner: tuple[int, int] | None) -> None:
    if mtime is not None:
        header.mtime = mtime
    if owner is not None:
        header.uid, header.gid = owner


def _sort_key(change: Change) -> tuple[bytes, ...]:
    parts = tuple(os.fsencode(part) for part in change.path.split("/") if part)
    # an opaque marker sorts directly after its directory, before any child
    return parts + (b"",) if change.kind == "opaque" else parts


def write_layer_from_changes(changes: Iterable[Change], out: BinaryIO) -> LayerBlob:
    """A tar of a change list: additions with their content, deletions as ".wh.<name>",
    opaque directories as "<dir>/.wh..wh..opq" ahead of the directory's children.

    Entries come out in walk order whatever the order of ``changes``.
    """
    cleaned = []
    for change in changes:
        change = Change(*change)
        if change.kind not in ("add", "modify", "delete", "opaque"):
            raise LayerError(f"{change.path}: unknown change kind {change.kind!r}")
        path = clean_name(change.path, what="change")
        if not path and change.kind != "opaque":
            continue  # the root itself is never an entry
        cleaned.append(Change(path, change.kind, change.source))
    writer = _LayerWriter(out)
    for change in sorted(cleaned, key=_sort_key):
        if change.kind == "delete":
            parent, base = posixpath.split(change.path)
            writer.add(_whiteout_header(posixpath.join(parent, WHITEOUT_PREFIX + base)))
        elif change.kind == "opaque":
            marker = _whiteout_header(posixpath.join(change.path, OPAQUE_MARKER))
            if change.source is not None:
                st = long_paths.lstat(change.source)
                marker.mode, marker.uid, marker.gid = stat.S_IMODE(st.st_mode) & 0o777, st.st_uid, st.st_gid
            writer.add(marker)
        else:
            if change.source is None:
                raise LayerError(f"{change.path}: {change.kind} change without a source file")
            source = os.fspath(change.source)
            try:
                st = long_paths.lstat(source)
            except FileNotFoundError:
                raise NotFound(f"{change.path}: source {source} does not exist") from None
            header = _header(change.path, source, st, read_xattrs(source))
            if header is not None:
                writer.add_file(header, source, st)
    return writer.finish()


def _whiteout_header(name: str) -> TarHeader:
    return TarHeader(name=name, typeflag=REGULAR, mode=0o600)


def write_layer_from_overlay_upper(upperdir: Path, out: BinaryIO) -> LayerBlob:
    """The OCI layer for an overlayfs upperdir, as Docker's overlay2 driver makes it.

    A 0/0 character device (or a file carrying the overlay whiteout xattr) is a
    deletion and becomes ".wh.<name>"; a directory whose opaque xattr is "y"
    is followed at once by "<dir>/.wh..wh..opq", then its own contents.
    """
    if not long_paths.is_dir(upperdir):
        raise NotFound(f"{upperdir}: no such upper directory")
    writer = _LayerWriter(out)
    for name, path, st in _walk(upperdir):
        xattrs = read_xattrs(path)
        for key in _UNSUPPORTED_OVERLAY_XATTRS:
            if key in xattrs:
                raise LayerError(f"{name}: upperdir uses overlay {key.rsplit('.', 1)[1]}, "
                                 "which a layer cannot express; mount with redirect_dir=off,metacopy=off")
        header = _header(name, path, st, xattrs)
        if header is None:
            continue
        is_device_whiteout = stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
        is_xattr_whiteout = stat.S_ISREG(st.st_mode) and any(key in xattrs for key in XATTR_WHITEOUTS)
        if is_device_whiteout or is_xattr_whiteout:
            parent, base = posixpath.split(name)
            header.name = posixpath.join(parent, WHITEOUT_PREFIX + base)
            header.typeflag, header.mode, header.size = REGULAR, 0o600, 0
            header.devmajor = header.devminor = 0
            header.xattrs = {}
            writer.add(header)
            continue
        writer.add_file(header, path, st)
        if stat.S_ISDIR(st.st_mode) and any(xattrs.get(key) == b"y" for key in OPAQUE_XATTRS):
            writer.add(TarHeader(name=header.name + OPAQUE_MARKER, typeflag=REGULAR, mode=header.mode & 0o777,
                                     uid=header.uid, gid=header.gid, mtime=0))
    return writer.finish()
