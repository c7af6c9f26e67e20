"""Reading a layer's entries without extracting anything, for analysis and listing."""

from __future__ import annotations

import tarfile
from dataclasses import dataclass, field
from typing import BinaryIO, Iterator

from layerlab.engine.errors import CorruptLayer
from layerlab.engine.layers.compression import open_decompressed
from layerlab.engine.layers.names import clean_name, split_whiteout

_KINDS = {
    tarfile.REGTYPE: "file", tarfile.AREGTYPE: "file", tarfile.CONTTYPE: "file",
    tarfile.DIRTYPE: "dir", tarfile.SYMTYPE: "symlink", tarfile.LNKTYPE: "hardlink",
    tarfile.CHRTYPE: "char", tarfile.BLKTYPE: "block", tarfile.FIFOTYPE: "fifo",
}
XATTR_PREFIX = "SCHILY.xattr."


@dataclass(frozen=True)
class TarEntry:
    """One entry of a layer tar.

    ``path`` is cleaned (relative, no "./", no trailing "/"). For a whiteout
    ``is_whiteout`` is set and ``hidden_path`` names what it hides; an opaque
    marker sets ``is_opaque`` and ``hidden_path`` is its directory.
    """

    path: str
    type: str  # "file" | "dir" | "symlink" | "hardlink" | "char" | "block" | "fifo"
    mode: int
    uid: int
    gid: int
    size: int
    linkname: str
    mtime: int
    is_whiteout: bool = False
    is_opaque: bool = False
    hidden_path: str | None = None
    devmajor: int = 0
    devminor: int = 0
    xattrs: dict[str, bytes] = field(default_factory=dict)


def entry_kind(member: tarfile.TarInfo) -> str:
    kind = _KINDS.get(member.type)
    if kind is None:
        # tarfile already folds GNU long names and PAX headers into the next member
        raise CorruptLayer(f"entry {member.name!r}: unsupported tar entry type {member.type!r}")
    return kind


def entry_xattrs(member: tarfile.TarInfo) -> dict[str, bytes]:
    return {
        key[len(XATTR_PREFIX):]: value.encode("utf-8", "surrogateescape")
        for key, value in member.pax_headers.items() if key.startswith(XATTR_PREFIX)
    }


def to_entry(member: tarfile.TarInfo) -> TarEntry:
    path = clean_name(member.name)
    kind = entry_kind(member)
    linkname = member.linkname
    if kind == "hardlink":
        linkname = clean_name(linkname, what=f"hard link {member.name!r} ->")
    whiteout = split_whiteout(path) if kind == "file" else None
    return TarEntry(
        path=path, type=kind, mode=member.mode, uid=member.uid, gid=member.gid, size=member.size,
        linkname=linkname, mtime=int(member.mtime),
        is_whiteout=whiteout is not None and whiteout[0] == "file",
        is_opaque=whiteout is not None and whiteout[0] == "opaque",
        hidden_path=whiteout[1] if whiteout and whiteout[0] != "meta" else None,
        devmajor=member.devmajor, devminor=member.devminor, xattrs=entry_xattrs(member),
    )


def open_tar_stream(stream: BinaryIO) -> tarfile.TarFile | None:
    """A forward-only reader over an uncompressed tar stream; None for an empty stream."""
    try:
        return tarfile.open(fileobj=stream, mode="r|", errorlevel=2)
    except tarfile.ReadError as error:
        if str(error) == "empty file":
            return None
        raise CorruptLayer(f"not a tar archive: {error}") from None


def iter_tar_members(archive: tarfile.TarFile | None) -> Iterator[tarfile.TarInfo]:
    """Members in order; bad or truncated data -> ``CorruptLayer``.

    The caller may read a member's content with ``archive.extractfile(member)``
    before asking for the next one.
    """
    if archive is None:
        return
    last = "(start)"
    while True:
        try:
            member = archive.next()
        except tarfile.TarError as error:
            raise CorruptLayer(f"after entry {last!r}: {error or 'unreadable tar header'}") from None
        if member is None:
            return
        last = member.name
        archive.members.clear()  # streaming: do not keep 100k TarInfo objects alive
        yield member


def iter_entries(blob: BinaryIO) -> Iterator[TarEntry]:
    """Every entry of a layer blob (any compression), in tar order, without extracting."""
    for member in iter_tar_members(open_tar_stream(open_decompressed(blob))):
        yield to_entry(member)
